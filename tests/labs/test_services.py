"""The lab engine end to end: real Celery worker, real Docker engine, real lab images."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import CheckResult, Lab, LabSession
from tests.conftest import database_env
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State


@pytest.fixture
def tiny_lab(tmp_path, lab_images) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


def wait_for(session: LabSession, *states: str, timeout: float = 90) -> LabSession:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state in states:
            return session
        time.sleep(0.2)
    raise AssertionError(f"session {session.pk} is {session.state}, not {states}: {session.error}")


def resources(session: LabSession) -> list:
    return runtime.sandbox_list(labels=services.session_labels(session))


def test_lifecycle_start_check_solve_stop(lab_worker, tiny_lab):
    user = UserFactory()
    session = services.lab_session_start(user=user, lab=tiny_lab)
    session = wait_for(session, State.READY)

    assert session.expires_at > timezone.now() + timedelta(minutes=9)
    kinds = {resource.kind for resource in resources(session)}
    assert {"container", "network"} <= kinds
    labels = resources(session)[0].labels
    assert labels["academy.user"] == user.username
    assert labels["academy.instance"] == services.lab_instance()
    assert labels["academy.lab"] == "tiny-lab"
    assert labels["academy.expires"] == session.expires_at.isoformat()  # what the row keeps
    assert "academy.pool" not in labels
    assert services.lab_session_start(user=user, lab=tiny_lab).pk == session.pk  # one per user

    step = tiny_lab.steps.get()
    failed = services.lab_session_check(session=session, step=step, language="es")
    assert not failed.passed
    assert failed.messages == ["El archivo ~/done no existe."]

    assert services.lab_session_solve(session=session, step=step).exit_code == 0
    passed = services.lab_session_check(session=session, step=step)
    assert passed.passed and passed.messages == []
    session.refresh_from_db()
    assert session.state == State.COMPLETED
    assert CheckResult.objects.filter(session=session).count() == 2

    services.lab_session_stop(session=session)
    session.refresh_from_db()
    assert session.state == State.DESTROYED
    assert resources(session) == []
    services.lab_session_stop(session=session)  # a second stop is harmless


def test_expired_sessions_are_reaped(lab_worker, tiny_lab):
    session = wait_for(services.lab_session_start(user=UserFactory(), lab=tiny_lab), State.READY)
    LabSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())

    counts = services.lab_sessions_reap()

    session.refresh_from_db()
    assert counts["expired"] == 1
    assert session.state == State.DESTROYED
    assert resources(session) == []


def test_extension_is_granted_once(lab_worker, tiny_lab):
    session = wait_for(services.lab_session_start(user=UserFactory(), lab=tiny_lab), State.READY)
    before = session.expires_at

    services.lab_session_extend(session=session)

    assert session.expires_at == before + timedelta(minutes=15)
    with pytest.raises(services.LabSessionError):
        services.lab_session_extend(session=session)
    services.lab_session_stop(session=session)


def test_capacity_queue_gives_positions_and_starts_in_order(lab_worker, tiny_lab, settings):
    settings.LAB_MAX_RUNNING_SESSIONS = 1
    first = services.lab_session_start(user=UserFactory(), lab=tiny_lab)
    second = services.lab_session_start(user=UserFactory(), lab=tiny_lab)
    third = services.lab_session_start(user=UserFactory(), lab=tiny_lab)

    assert first.state == State.PROVISIONING
    assert (second.state, third.state) == (State.REQUESTED, State.REQUESTED)
    assert (services.queue_position(second), services.queue_position(third)) == (1, 2)

    wait_for(first, State.READY)
    services.lab_session_stop(session=first)

    wait_for(second, State.READY)
    assert services.queue_position(third) == 1
    services.lab_session_stop(session=second)
    wait_for(third, State.READY)
    services.lab_session_stop(session=third)


def test_warm_pool_hands_out_a_ready_sandbox_at_once(lab_worker, tiny_lab):
    Lab.objects.filter(pk=tiny_lab.pk).update(warm_pool_size=1)
    assert services.pool_refill() == 1
    pooled = wait_for(LabSession.objects.pooled().get(lab=tiny_lab), State.READY)
    labels = resources(pooled)[0].labels
    assert labels["academy.pool"] == "warm" and labels["academy.user"] == ""
    assert labels["academy.expires"] == pooled.expires_at.isoformat()

    session = services.lab_session_start(user=UserFactory(), lab=tiny_lab)

    assert session.pk == pooled.pk
    assert session.state == State.READY  # no waiting for a container
    assert session.expires_at > timezone.now() + timedelta(minutes=9)
    deadline = time.monotonic() + 60  # the worker refills the pool
    while not LabSession.objects.pooled().filter(lab=tiny_lab).exists():
        assert time.monotonic() < deadline, "the pool was not refilled"
        time.sleep(0.2)
    refill = wait_for(LabSession.objects.pooled().get(lab=tiny_lab), State.READY)
    assert refill.pk != pooled.pk
    for live in LabSession.objects.live():
        services.lab_session_stop(session=live)


def test_reaper_cleans_up_after_a_worker_killed_mid_provision(
    lab_worker, tmp_path, lab_images, settings
):
    write_tiny_lab(tmp_path, setup="sleep 60")
    content_sync(root=tmp_path)
    session = services.lab_session_start(user=UserFactory(), lab=Lab.objects.get(key="tiny-lab"))
    deadline = time.monotonic() + 60
    while not any(r.kind == "container" for r in resources(session)):
        assert time.monotonic() < deadline, "the worker never created the containers"
        time.sleep(0.2)

    lab_worker.kill()  # mid-provision: the setup script is still sleeping

    session.refresh_from_db()
    assert session.state == State.PROVISIONING
    assert resources(session) != []
    settings.LAB_PROVISION_TIMEOUT_SECONDS = 0
    counts = services.lab_sessions_reap()

    session.refresh_from_db()
    assert counts["stalled"] == 1
    assert session.state == State.DESTROYED
    assert resources(session) == []


def test_reaper_destroys_containers_of_sessions_that_are_gone(lab_worker, tiny_lab):
    session = wait_for(services.lab_session_start(user=UserFactory(), lab=tiny_lab), State.READY)
    pk = session.pk
    LabSession.objects.filter(pk=pk).delete()  # as if the row were lost

    counts = services.lab_sessions_reap()

    assert counts["orphans"] >= 2  # its container, network and volume
    mine = {"academy.instance": services.lab_instance(), "academy.session": str(pk)}
    assert runtime.sandbox_list(labels=mine) == []


def test_a_check_that_hangs_is_stopped(lab_worker, tmp_path, lab_images, settings):
    write_tiny_lab(tmp_path, check="sleep 30\n")
    content_sync(root=tmp_path)
    settings.LAB_CHECK_TIMEOUT_SECONDS = 2
    lab = Lab.objects.get(key="tiny-lab")
    session = wait_for(services.lab_session_start(user=UserFactory(), lab=lab), State.READY)

    result = services.lab_session_check(session=session, step=lab.steps.get(), language="es")

    assert result.timed_out and not result.passed
    assert result.messages == ["La verificación tardó demasiado y se detuvo."]
    services.lab_session_stop(session=session)


def test_failed_setup_fails_the_session_and_leaves_nothing(lab_worker, tmp_path, lab_images):
    write_tiny_lab(tmp_path, setup="echo broken >&2; exit 3")
    content_sync(root=tmp_path)
    session = services.lab_session_start(user=UserFactory(), lab=Lab.objects.get(key="tiny-lab"))

    session = wait_for(session, State.FAILED)

    assert "setup failed (3)" in session.error
    assert resources(session) == []


def test_celery_beat_reaps_expired_sessions_by_itself(lab_worker, tiny_lab, tmp_path, settings):
    import os
    import subprocess
    import sys

    session = wait_for(services.lab_session_start(user=UserFactory(), lab=tiny_lab), State.READY)
    LabSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())
    env = {
        **os.environ,
        **database_env(),
        "LAB_TASK_QUEUE": lab_worker.queue,
        "LAB_REAP_INTERVAL_SECONDS": "1",
    }
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "academy",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(session, State.DESTROYED, timeout=60)
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    assert resources(session) == []
