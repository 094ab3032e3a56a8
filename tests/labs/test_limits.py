"""Fair under load: rate limits, live-session and terminal limits, one check in flight per
session, and a queue per kind of work (labs/services/limits.py, labs/services/state.py)."""

from __future__ import annotations

import itertools
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone

from academy.courses.services import content_sync
from labs import services
from labs.models import CheckResult, Lab, LabSession
from labs.services import limits, state
from labs.terminal import MAX_FRAME
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

State = LabSession.State


@pytest.fixture
def lab(tmp_path, db) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """The lab tasks the code under test sent, in order (none reaches a worker)."""
    sent: list[tuple] = []
    monkeypatch.setattr(state.transaction, "on_commit", lambda action: action(), raising=True)
    from celery import current_app

    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=(), queue=None, **kw: sent.append((name, queue))
    )
    return sent


def check_url(session: LabSession, language: str = "en") -> str:
    prefix = "/es/laboratorios/sesiones" if language == "es" else "/en/labs/sessions"
    step = "pasos/1/verificar" if language == "es" else "steps/1/check"
    return f"{prefix}/{session.pk}/{step}/"


# --- The limiter ----------------------------------------------------------------------------------


def test_a_fixed_window_counts_per_identity_and_says_when_to_come_back(db, settings, monkeypatch):
    settings.LAB_RATE_LIMITS = {"check": {"user": "3/60"}}
    now = [6000.0]  # 6000 is a window's start
    monkeypatch.setattr(limits, "_now", lambda: now[0])
    alice, bob = UserFactory(), UserFactory()

    for _ in range(3):
        limits.rate_limit("check", user=alice)
    now[0] += 20
    with pytest.raises(limits.LabRateLimited) as refused:
        limits.rate_limit("check", user=alice)
    assert refused.value.retry_after == 40
    limits.rate_limit("check", user=bob)  # bob has his own count

    now[0] += 39
    with pytest.raises(limits.LabRateLimited) as refused:
        limits.rate_limit("check", user=alice)
    assert refused.value.retry_after == 1
    now[0] += 1  # a new window
    limits.rate_limit("check", user=alice)


def test_each_scope_counts_apart_and_the_longest_wait_wins(db, settings, monkeypatch):
    settings.LAB_RATE_LIMITS = {"refresh": {"session": "1/10", "address": "2/100"}}
    monkeypatch.setattr(limits, "_now", lambda: 1000.0)
    user = UserFactory()
    one = LabSession.objects.create(user=user, lab=lab_row(), state=State.READY)

    limits.rate_limit("refresh", user=user, session=one, address="10.0.0.1")
    with pytest.raises(limits.LabRateLimited) as refused:
        limits.rate_limit("refresh", user=user, session=one, address="10.0.0.1")
    assert refused.value.retry_after == 10  # the session's window; the address has room
    with pytest.raises(limits.LabRateLimited) as refused:
        limits.rate_limit("refresh", user=user, address="10.0.0.1")
    assert refused.value.retry_after == 100  # the address's third request


def lab_row() -> Lab:
    return Lab.objects.create(
        key=f"lab-{time.monotonic_ns()}",
        slug="x",
        title="x",
        summary="x",
        difficulty="beginner",
        duration_minutes=30,
        shell_container="toolbox",
    )


def test_an_ipv6_client_counts_as_its_64():
    assert limits.address_key("2001:db8:1:2:aaaa::1") == limits.address_key("2001:db8:1:2::9")
    assert limits.address_key("2001:db8:1:3::1") != limits.address_key("2001:db8:1:2::1")
    assert limits.address_key("192.0.2.7") == "192.0.2.7"


def test_the_websocket_address_trusts_only_configured_proxies(settings):
    scope = {"client": ("10.1.1.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
    settings.TRUSTED_PROXIES = []
    assert limits.scope_client_address(scope) == "10.1.1.1"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert limits.scope_client_address(scope) == "203.0.113.9"


# --- Over HTTP: 429, Retry-After, the user's language ---------------------------------------------


def test_a_flood_of_checks_runs_one_and_then_gets_429_in_spanish(
    client, lab, enqueued, monkeypatch
):
    monkeypatch.setattr(limits, "_now", lambda: 6000.0)  # all fifty in one window
    user = UserFactory()
    client.force_login(user)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )

    answers = [client.post(check_url(session, "es")) for _ in range(50)]

    first, *rest = answers
    assert first.status_code == 202
    assert first.json() == {"queued": True, "step": 1, "pending": False}
    accepted = [a for a in rest if a.status_code == 202]
    refused = [a for a in rest if a.status_code == 429]
    assert len(accepted) + len(refused) == 49
    assert accepted and all(a.json()["pending"] for a in accepted)  # the same pending check
    limit = int(django_settings.LAB_RATE_LIMITS["check"]["session"].split("/")[0])
    assert len(accepted) == limit - 1
    assert len(refused) == 50 - limit
    for answer in refused:
        seconds = int(answer["Retry-After"])
        assert 1 <= seconds <= 60
        assert answer.json()["retry_after"] == seconds
        assert re.fullmatch(
            r"Demasiadas solicitudes\. Vuelve a intentarlo en \d+ segundos?\.",
            answer.json()["error"],
        )
    # Fifty clicks, one check sent, to the checks queue.
    assert enqueued == [("labs.tasks.check", "test-nobody-listens.checks")]


def test_a_finished_check_lets_the_next_click_run_another(client, lab, enqueued):
    user = UserFactory()
    client.force_login(user)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert client.post(check_url(session)).json()["pending"] is False
    assert client.post(check_url(session)).json()["pending"] is True
    # The worker stored its result; its cache may not be the web's: the database says it is over.
    CheckResult.objects.create(session=session, step=lab.steps.get(), passed=False, duration_ms=5)

    assert client.post(check_url(session)).json()["pending"] is False
    assert len(enqueued) == 2


def test_the_previous_checks_result_never_makes_the_next_one_look_over(lab):
    """The race a flood of clicks found: a result stored while a click takes the marker (the
    previous check's) must not let the next click run a second check beside this one."""
    user = UserFactory()
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )
    step = lab.steps.get()
    earlier = CheckResult.objects.create(session=session, step=step, passed=False, duration_ms=5)
    assert limits.check_in_flight_take(session=session, step_id=step.pk) is None
    marker = limits.check_in_flight_take(session=session, step_id=step.pk)
    assert marker is not None and marker["after"] == earlier.pk
    # A marker whose "after" is not read yet (a take half done) counts as in flight, whatever
    # results there are.
    key = limits._check_key(session.pk)
    cache.set(key, {"step": step.pk, "after": None, "token": "half"})
    CheckResult.objects.create(session=session, step=step, passed=True, duration_ms=5)
    assert limits.check_in_flight_take(session=session, step_id=step.pk)["token"] == "half"


def test_a_click_on_another_step_waits_for_the_check_in_flight(client, lab, enqueued):
    from labs.models import LabStep

    LabStep.objects.create(
        lab=lab, key="two", number=2, title="Two", body_html="", check_script="", solve_script=""
    )
    user = UserFactory()
    client.force_login(user)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )
    client.post(check_url(session, "es"))

    answer = client.post(f"/es/laboratorios/sesiones/{session.pk}/pasos/2/verificar/").json()

    assert answer["step"] == 1 and answer["pending"] is True
    assert answer["message"].startswith("La verificación de otro paso todavía está en curso.")
    assert len(enqueued) == 1


def test_refresh_over_its_limit_answers_429_to_fetch_and_a_message_to_a_form(
    client, lab, settings, enqueued
):
    settings.LAB_RATE_LIMITS = {"refresh": {"user": "1/60"}}
    user = UserFactory()
    client.force_login(user)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )
    url = f"/en/labs/sessions/{session.pk}/results/refresh/"
    assert client.post(url, headers={"Accept": "application/json"}).status_code == 202

    fetched = client.post(url, headers={"Accept": "application/json"})
    assert fetched.status_code == 429
    assert 1 <= int(fetched["Retry-After"]) <= 60
    assert fetched.json()["error"].startswith("Too many requests. Try again in")

    posted = client.post(url, follow=True)
    assert posted.redirect_chain[0][0] == session.get_absolute_url()
    assert "Too many requests. Try again in" in posted.content.decode()
    assert enqueued == [("labs.tasks.refresh_results", "test-nobody-listens.checks")]


def test_extend_and_reset_are_rate_limited(client, lab, settings, enqueued):
    settings.LAB_RATE_LIMITS = {"extend": {"session": "1/600"}, "reset": {"user": "0/600"}}
    user = UserFactory()
    client.force_login(user)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.READY, expires_at=timezone.now() + timedelta(hours=1)
    )
    client.post(f"/es/laboratorios/sesiones/{session.pk}/extender/")
    answer = client.post(f"/es/laboratorios/sesiones/{session.pk}/extender/", follow=True)
    assert "Demasiadas solicitudes" in answer.content.decode()

    answer = client.post(f"/en/labs/sessions/{session.pk}/reset/", follow=True)
    assert "Too many requests" in answer.content.decode()
    session.refresh_from_db()
    assert session.state == State.READY  # refused before anything was stopped
    assert LabSession.objects.filter(user=user).count() == 1


# --- Live sessions per user and per client address ------------------------------------------------


def test_live_sessions_are_limited_per_user_and_per_address(client, lab, settings, enqueued):
    settings.LAB_MAX_LIVE_SESSIONS_PER_USER = 1
    settings.LAB_MAX_LIVE_SESSIONS_PER_ADDRESS = 2
    other = lab_row()
    first = UserFactory()
    LabSession.objects.create(
        user=first,
        lab=other,
        state=State.READY,
        client_address="198.51.100.4",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    client.force_login(first)
    answer = client.post(
        "/es/laboratorios/laboratorio-minimo/empezar/", REMOTE_ADDR="198.51.100.4", follow=True
    )
    assert "Tienes demasiados laboratorios en ejecución" in answer.content.decode()
    assert not LabSession.objects.filter(user=first, lab=lab).exists()

    second = UserFactory()
    client.force_login(second)
    client.post("/en/labs/tiny-lab/start/", REMOTE_ADDR="198.51.100.4")
    started = LabSession.objects.get(user=second, lab=lab)
    assert started.client_address == "198.51.100.4"

    third = UserFactory()
    client.force_login(third)
    answer = client.post("/en/labs/tiny-lab/start/", REMOTE_ADDR="198.51.100.4", follow=True)
    assert "Too many labs are running from your network" in answer.content.decode()
    assert not LabSession.objects.filter(user=third).exists()
    client.post("/en/labs/tiny-lab/start/", REMOTE_ADDR="198.51.100.5")  # another network
    assert LabSession.objects.filter(user=third).exists()


def test_the_cli_is_not_limited_by_live_sessions(lab, settings, enqueued):
    settings.LAB_MAX_LIVE_SESSIONS_PER_USER = 0
    session = services.lab_session_start(user=UserFactory(), lab=lab)
    assert session.client_address == ""


# --- Open terminals -------------------------------------------------------------------------------


def test_terminal_leases_per_user_and_per_address(settings, monkeypatch):
    settings.LAB_MAX_TERMINALS_PER_USER = 2
    settings.LAB_MAX_TERMINALS_PER_ADDRESS = 3
    now = [1000.0]
    monkeypatch.setattr(limits, "_now", lambda: now[0])

    def take(holder, user_id, address="192.0.2.1"):
        return limits.terminal_lease_take(holder=holder, user_id=user_id, address=address)

    assert take("a", 1) and take("b", 1)
    assert not take("c", 1)  # the user's third
    assert take("a", 1)  # the same terminal again takes no new place
    assert take("d", 2)
    assert not take("e", 3)  # the address's fourth
    assert take("e", 3, address="192.0.2.2")
    limits.terminal_lease_give_back(holder="a", user_id=1, address="192.0.2.1")
    assert take("c", 1)
    # A web process that died renews nothing: its places come back after the lease's time.
    now[0] += limits._lease_ttl() + 1
    assert take("f", 1) and take("g", 1)


# --- Queues: one per kind of work, all served by `make run` ---------------------------------------


def test_each_kind_of_work_has_its_queue(settings):
    settings.LAB_TASK_QUEUE = "host1"
    assert state.task_queue("provisioning") == "host1.provisioning"
    assert state.task_queue("checks") == "host1.checks"
    assert state.task_queue("housekeeping") == "host1.housekeeping"
    with pytest.raises(ValueError):
        state.task_queue("other")
    route = state.route_task
    assert route("labs.tasks.check", (), {}, {}) == {"queue": "host1.checks"}
    assert route("labs.tasks.provision", (), {}, {}) == {"queue": "host1.provisioning"}
    assert route("labs.tasks.reap", (), {}, {}) == {"queue": "host1.housekeeping"}
    assert route("academy.courses.tasks.x", (), {}, {}) is None
    beat = django_settings.CELERY_BEAT_SCHEDULE["reap-lab-sessions"]
    assert beat["options"]["queue"].endswith(".housekeeping")


def test_make_run_serves_every_queue_and_bounds_websocket_frames():
    procfile = (django_settings.BASE_DIR / "Procfile").read_text()
    served = set()
    workers = 0
    for line in procfile.splitlines():
        if " worker " in line:
            workers += 1
            queues = re.search(r"--queues (\S+)", line).group(1)
            served |= set(queues.replace("${LAB_TASK_QUEUE:-labs}", "labs").split(","))
    assert workers == 3  # a process per kind: checks cannot take provisioning's place
    assert {"labs", "labs.provisioning", "labs.checks", "labs.housekeeping"} <= served
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert f"--ws-max-size {MAX_FRAME}" in web


# --- With the real worker and the real engine -----------------------------------------------------


@pytest.fixture
def ready_session(lab_images, tmp_path):
    """A READY session of the tiny lab with a real sandbox, provisioned here; stopped after."""
    made: list[LabSession] = []

    def make(user) -> LabSession:
        if not Lab.objects.filter(key="tiny-lab").exists():
            write_tiny_lab(tmp_path)
            content_sync(root=tmp_path)
        lab = Lab.objects.get(key="tiny-lab")
        session = LabSession.objects.create(lab=lab, user=user, state=State.PROVISIONING)
        made.append(session)
        services.lab_session_provision(session=session)
        session.refresh_from_db()
        assert session.state == State.READY, session.error
        return session

    yield make
    for session in made:
        services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_clicks_never_runs_two_checks_of_a_session_at_once(
    lab_worker, ready_session, client
):
    user = UserFactory()
    session = ready_session(user)
    client.force_login(user)
    answers = [client.post(check_url(session)) for _ in range(30)]
    started = [a for a in answers if a.status_code == 202 and not a.json()["pending"]]
    waited = [a for a in answers if a.status_code == 202 and a.json()["pending"]]
    assert waited, "no click found a check in flight"
    assert any(a.status_code == 429 for a in answers)
    results = CheckResult.objects.filter(session=session)
    deadline = time.monotonic() + 90
    while results.count() < len(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Every check that was sent ran, once; and none overlapped another.
    assert results.count() == len(started)
    spans = sorted(
        (r.created_at - timedelta(milliseconds=r.duration_ms), r.created_at) for r in results
    )
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_terminal_over_the_users_limit_is_closed_with_4029(ready_session, settings):
    from tests.labs.test_terminal import Screen, communicator, cookie_for, run

    settings.LAB_MAX_TERMINALS_PER_USER = 1
    user = UserFactory()
    session = ready_session(user)
    cookie = cookie_for(user)

    async def scenario():
        first = await Screen(communicator(session, cookie)).open()
        await first.prompt()
        second = await Screen(communicator(session, cookie)).open()
        code, reason = await second.until_closed()
        assert (code, reason) == (4029, "Too many terminals are open.")
        await first.hang_up()
        third = await Screen(communicator(session, cookie)).open()
        await third.prompt()  # the first one's place was given back
        await third.hang_up()

    run(scenario)
