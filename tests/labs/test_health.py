"""A lab survives its learner: the shell's main process is out of the learner's reach, a
container that dies behind the platform's back is noticed, shown and restored in one click,
and a worker that comes back reconciles what changed while it was away."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from academy.courses.services import content_sync
from labs import runtime, selectors, services
from labs.models import CheckResult, Lab, LabSession
from labs.runtime import ContainerState
from tests.conftest import database_env
from tests.factories import UserFactory

State = LabSession.State

HEALTH_LAB_YAML = """\
order: 1
difficulty: beginner
duration_minutes: 10
slug: {en: health-lab, es: laboratorio-de-salud}
title: {en: Health lab, es: Laboratorio de salud}
summary: {en: A lab for health tests., es: Un laboratorio para pruebas de salud.}
shell: toolbox
setup: setup.sh
containers:
  - name: toolbox
    image: toolbox
    memory_mb: 128
    pids: 64
  - name: api
    image: target
    memory_mb: 64
    pids: 32
steps:
  - key: api-up
    messages:
      down:
        en: The api does not answer.
        es: La api no responde.
"""


def write_health_lab(root: Path) -> None:
    """A toolbox and an api, no faults: the setup leaves a mark in the toolbox's /tmp."""
    lab = root / "labs" / "health-lab"
    steps = lab / "steps"
    steps.mkdir(parents=True)
    (lab / "lab.yaml").write_text(HEALTH_LAB_YAML, encoding="utf-8")
    (lab / "setup.sh").write_text(
        "#!/usr/bin/env bash\nset -e\n"
        "for _ in $(seq 50); do curl -fsS --max-time 1 http://api:8080/health >/dev/null"
        " && break; sleep 0.2; done\n"
        "date +%s%N > /tmp/setup-ran\n",
        encoding="utf-8",
    )
    (steps / "api-up.en.md").write_text("---\ntitle: The api\n---\n\nLook at the api.\n")
    (steps / "api-up.es.md").write_text("---\ntitle: La api\n---\n\nMira la api.\n")
    (steps / "api-up.check.sh").write_text(
        "curl -fsS --max-time 2 http://api:8080/health >/dev/null"
        ' || { echo "FAIL: down"; exit 1; }\n'
    )
    (steps / "api-up.solve.sh").write_text("true\n")
    (root / "courses").mkdir(exist_ok=True)


def _state(name, status, exit_code=None, oom=False) -> ContainerState:
    return ContainerState(
        id=f"id-{name}", name=name, labels={}, status=status, exit_code=exit_code, oom_killed=oom
    )


def _session(lab: Lab, **fields) -> LabSession:
    names = [container["name"] for container in lab.topology]
    if lab.faults_enabled:
        names.append("faults")
    sandbox = {
        "sandbox_id": "acad-test",
        "network_id": "n",
        "containers": {name: f"id-{name}" for name in names},
        "labels": {},
    }
    return LabSession.objects.create(lab=lab, state=State.READY, sandbox=sandbox, **fields)


def _lab(key: str, *, faults: bool) -> Lab:
    return Lab.objects.create(
        key=key,
        slug=key,
        title=key,
        summary="-",
        difficulty="beginner",
        duration_minutes=10,
        topology=[{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}],
        shell_container="toolbox",
        faults_enabled=faults,
    )


# --- Without Docker: the rules ---------------------------------------------------------------


@pytest.mark.django_db
def test_diagnose_tells_a_dead_container_from_a_learners_fault():
    plain, faults = _lab("plain", faults=False), _lab("with-faults", faults=True)
    alive = {f"id-{n}": _state(n, "running") for n in ("toolbox", "api", "faults")}

    def diagnose(lab, **changed):
        states = {**alive, **{f"id-{n}": state for n, state in changed.items()}}
        states = {key: value for key, value in states.items() if value is not None}
        return services.sandbox_diagnose(session=_session(lab), states=states)

    assert diagnose(plain) is None
    assert diagnose(plain, api=_state("api", "paused")) is None  # `fault pause` is no problem
    assert diagnose(plain, api=_state("api", "exited", 137)) == {
        "container": "api",
        "reason": "exited",
        "exit_code": 137,
    }
    assert diagnose(plain, api=None)["reason"] == "missing"
    assert diagnose(faults, api=_state("api", "exited", 137, oom=True))["reason"] == "oom"
    # `fault kill api` (a SIGKILL) in a lab with faults is the learner's experiment...
    assert diagnose(faults, api=_state("api", "exited", 137)) is None
    # ...a crash is not, and neither is the end of the shell or of the sidecar.
    assert diagnose(faults, api=_state("api", "exited", 1))["exit_code"] == 1
    # A target that stopped a moment ago may be in the middle of a `fault restart`.
    just_now = timezone.now().isoformat().replace("+00:00", "Z")
    restarting = ContainerState(
        id="id-api", name="api", labels={}, status="exited", exit_code=143, finished_at=just_now
    )
    assert diagnose(faults, api=restarting) is None
    assert diagnose(plain, api=restarting)["exit_code"] == 143
    assert diagnose(faults, toolbox=_state("toolbox", "exited", 137))["container"] == "toolbox"
    assert diagnose(faults, faults=_state("faults", "exited", 137))["container"] == "faults"


@pytest.mark.django_db
def test_a_session_with_a_problem_is_not_running_and_says_why_in_the_learners_language():
    lab = _lab("plain", faults=False)
    user = UserFactory()
    session = _session(lab, user=user)
    assert services.session_is_running(session)
    session.problem = {"container": "api", "reason": "oom", "exit_code": 137}
    session.save()

    assert not services.session_is_running(session)
    assert not LabSession.objects.filter(services.access.running_q(), pk=session.pk).exists()
    with translation.override("es"):
        status = selectors.session_status(session=session)
        with pytest.raises(services.LabSessionError) as refused:
            services.lab_session_results_request(session=session)
    assert status["terminal"] is False
    assert status["state_label"] == "Necesita restaurarse"
    assert status["problem"]["message"] == (
        "El contenedor api se detuvo (se quedó sin memoria). Restaura el laboratorio para "
        "continuar; tu progreso se conserva."
    )
    assert str(refused.value) == status["problem"]["message"]
    with translation.override("en"):
        assert services.problem_text({"container": "toolbox", "reason": "missing"}) == (
            "The container toolbox is gone. Restore the lab to carry on; your progress is kept."
        )


@pytest.mark.django_db
def test_only_the_owner_restores_and_the_page_offers_it(client):
    lab = _lab("plain", faults=False)
    owner, stranger = UserFactory(), UserFactory()
    session = _session(lab, user=owner, problem={"container": "api", "reason": "exited"})
    url = reverse("labs:restore", kwargs={"session_id": session.pk})

    client.force_login(stranger)
    assert client.post(url).status_code == 404
    session.refresh_from_db()
    assert not session.problem.get("restoring")

    client.force_login(owner)
    page = client.get(session.get_absolute_url()).content.decode()
    assert "The container api stopped." in page and 'action="' + url in page
    response = client.post(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    session.refresh_from_db()
    assert session.problem["restoring"] is True
    status = client.get(reverse("labs:status", kwargs={"session_id": session.pk})).json()
    assert status["problem"]["restoring"] is True
    assert status["state_label"] == "Restoring"
    assert status["problem"]["message"].startswith("Restoring the lab")

    session.problem = {}
    session.save()
    assert client.post(url, HTTP_ACCEPT="application/json").status_code == 409


# --- With the engine ---------------------------------------------------------------------------


def wait_until(predicate, *, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"still not {what} after {timeout:.0f} s")


def start_ready(lab: Lab, user=None) -> LabSession:
    session = services.lab_session_start(user=user or UserFactory(), lab=lab)

    def ready():
        session.refresh_from_db()
        assert session.state not in (State.FAILED, State.DESTROYED), session.error
        return session.state == State.READY

    wait_until(ready, what="ready")
    return session


def exec_in(session: LabSession, script: str, *, container="toolbox", user="learner"):
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"][container],
        command=["bash", "-c", script],
        user=user,
        timeout=20,
    )


@pytest.fixture
def health_lab(tmp_path, lab_images) -> Lab:
    write_health_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="health-lab")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_kill_everything_as_the_learner_leaves_the_shell_container_running(lab_worker, health_lab):
    session = start_ready(health_lab)
    shell_id = session.sandbox["containers"]["toolbox"]
    owner = exec_in(session, "stat -c %U /proc/1 && ps -o user= -C sleep")
    assert owner.output.split() == ["root", "root"]  # init and `sleep infinity` are root's

    killed = exec_in(session, "sleep 300 & sleep 0.2; pkill sleep; kill -9 -1; echo done")
    assert "not permitted" in killed.output and "done" in killed.output
    left = exec_in(session, "pgrep -u learner -x sleep || echo none")
    assert left.output.strip() == "none"  # the learner's own processes did die

    states = runtime.container_states(labels=services.session_labels(session))
    assert states[shell_id].status == "running"
    assert services.lab_sessions_watch()["broken"] == 0
    session.refresh_from_db()
    assert session.problem == {} and services.session_is_running(session)
    # A new shell opens, as a reconnecting terminal's does.
    terminal = runtime.terminal_open(container_id=shell_id, command=["bash"], user="learner")
    try:
        terminal.write(b"echo alive-$((40+2))\r")
        seen = b""
        deadline = time.monotonic() + 10
        while b"alive-42" not in seen and time.monotonic() < deadline:
            seen += terminal.read(timeout=1) or b""
        assert b"alive-42" in seen
    finally:
        terminal.close()
    services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_container_killed_behind_the_platforms_back_is_noticed_and_restored(
    lab_worker, health_lab, django_assert_num_queries
):
    session = start_ready(health_lab)
    step = health_lab.steps.get()
    assert services.lab_session_check(session=session, step=step).passed
    first_setup = exec_in(session, "cat /tmp/setup-ran", user="root").output

    with django_assert_num_queries(1):  # nothing changed: one read, no writes
        assert services.lab_sessions_watch()["broken"] == 0

    runtime.container_action(container_id=session.sandbox["containers"]["api"], action="kill")
    assert services.lab_sessions_watch()["broken"] == 1
    session.refresh_from_db()
    assert session.problem["container"] == "api"
    assert session.problem["reason"] == "exited" and session.problem["exit_code"] == 137
    assert session.state == State.COMPLETED  # its state and progress are kept
    with translation.override("en"):
        status = selectors.session_status(session=session)
        with pytest.raises(services.LabSessionError, match="The container api stopped"):
            services.lab_session_check_request(session=session, step=step, language="en")
    assert status["terminal"] is False
    assert status["problem"]["message"] == (
        "The container api stopped (exit code 137). Restore the lab to carry on; your "
        "progress is kept."
    )
    assert services.lab_sessions_watch()["broken"] == 0  # known already: recorded once

    # The shell dies too (say, the engine stopped it): the restore brings back both.
    runtime.container_action(container_id=session.sandbox["containers"]["toolbox"], action="kill")
    # A check that was running then failed with its container and left the session "checking".
    LabSession.objects.filter(pk=session.pk).update(
        state=State.CHECKING, state_changed_at=timezone.now() - timedelta(minutes=5)
    )
    services.lab_session_restore_request(session=session)  # the Restore button
    wait_until(
        lambda: not LabSession.objects.get(pk=session.pk).problem, what="restored", timeout=120
    )

    session.refresh_from_db()
    assert services.session_is_running(session)
    assert session.state == State.COMPLETED  # as the check would have left it
    assert services.lab_session_check(session=session, step=step).passed
    assert CheckResult.objects.filter(session=session, passed=True).count() == 2
    again = exec_in(session, "cat /tmp/setup-ran", user="root").output
    assert again.strip() and again != first_setup  # the setup ran again in the new /tmp
    services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_worker_that_comes_back_reconciles_sessions_changed_while_it_was_down(
    lab_worker, health_lab
):
    session = start_ready(health_lab)
    step = health_lab.steps.get()
    lab_worker.kill()
    # While no worker runs, the session's containers are removed behind its back.
    runtime.sandbox_destroy(labels=services.session_labels(session))

    lab_worker.start()  # worker_ready: a watch runs at once, no beat needed

    def marked():
        session.refresh_from_db()
        return bool(session.problem)

    wait_until(marked, what="marked broken by the new worker", timeout=60)
    assert session.problem["reason"] == "missing"
    assert session.problem["container"] in ("toolbox", "api")

    assert services.lab_session_restore(session=session)  # rebuilt for the same session
    session.refresh_from_db()
    assert session.problem == {} and session.state == State.READY
    assert services.lab_session_check(session=session, step=step).passed
    services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_cli_answers_in_one_line_when_the_shell_container_is_gone(lab_worker, health_lab):
    session = start_ready(health_lab)
    runtime.container_action(container_id=session.sandbox["containers"]["toolbox"], action="kill")
    env = {**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue}

    def lab(*args, **more_env):
        return subprocess.run(
            [sys.executable, "manage.py", "lab", *args],
            cwd=settings.BASE_DIR,
            env={**env, **more_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    for _ in range(2):  # first found by the failed exec, then known from the session
        result = lab("exec", str(session.pk), "--", "true")
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "The container toolbox stopped (exit code 137)" in lines[0]
        assert f"manage.py lab restore {session.pk}" in lines[0]
    session.refresh_from_db()
    assert session.problem["container"] == "toolbox"

    LabSession.objects.filter(pk=session.pk).update(problem={})  # as if not yet noticed
    # The engine does not answer (DOCKER_HOST points nowhere): one line too.
    away = lab("exec", str(session.pk), "--", "true", DOCKER_HOST="unix:///nonexistent/d.sock")
    assert away.returncode != 0
    assert away.stderr.strip().startswith("CommandError: The Docker engine does not answer")
    assert len(away.stderr.strip().splitlines()) == 1, away.stderr
    LabSession.objects.filter(pk=session.pk).update(problem=session.problem)

    restored = lab("restore", str(session.pk))
    assert restored.returncode == 0, restored.stderr
    assert lab("exec", str(session.pk), "--", "echo", "back").stdout == "back\n"
    services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_broken_warm_pool_sandbox_is_replaced(lab_worker, health_lab, settings):
    settings.LAB_WARM_POOL_SIZE = 1
    services.pool_refill()
    pooled = LabSession.objects.pooled().get(lab=health_lab)
    wait_until(lambda: LabSession.objects.get(pk=pooled.pk).state == State.READY, what="ready")
    pooled.refresh_from_db()
    runtime.container_action(container_id=pooled.sandbox["containers"]["api"], action="kill")

    assert services.lab_sessions_watch()["replaced"] == 1
    pooled.refresh_from_db()
    assert pooled.state == State.DESTROYED
    fresh = LabSession.objects.live().pooled().filter(lab=health_lab).exclude(pk=pooled.pk)
    assert fresh.exists()
    wait_until(lambda: fresh.filter(state=State.READY).exists(), what="a fresh warm sandbox")
    for session in LabSession.objects.live():
        services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_terminal_survives_kill_all_and_closes_clearly_when_its_lab_breaks(
    health_lab, settings
):
    from channels.db import database_sync_to_async

    from tests.labs.test_terminal import Screen, communicator, cookie_for, run

    settings.LAB_TERMINAL_POLL_SECONDS = 0.5
    user = UserFactory()
    session = LabSession.objects.create(lab=health_lab, user=user, state=State.PROVISIONING)
    services.lab_session_provision(session=session)
    session.refresh_from_db()
    assert session.state == State.READY, session.error
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        await screen.type("kill -9 -1\r")  # tmux and the shell go; the container stays
        assert (await screen.until_closed())[0] == 1000  # "the shell exited": reconnect
        again = await Screen(communicator(session, cookie)).open()
        await again.prompt()
        await again.type("echo back-$((6 * 7))\r")
        await again.until(b"back-42")

        runtime.container_action(container_id=session.sandbox["containers"]["api"], action="kill")
        counts = await database_sync_to_async(services.lab_sessions_watch)()
        assert counts["broken"] == 1
        assert await again.until_closed() == (
            4009,
            "The lab's containers stopped; restore the lab.",
        )
        refused = await Screen(communicator(session, cookie)).open()
        assert (await refused.until_closed())[0] == 4009

    try:
        run(scenario)
    finally:
        services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_fault_the_learner_ran_is_no_problem_but_a_dead_sidecar_is(tmp_path, lab_images):
    from tests.labs_tree import write_faults_lab

    write_faults_lab(tmp_path)
    content_sync(root=tmp_path)
    lab = Lab.objects.get(key="faults-lab")
    session = LabSession.objects.create(lab=lab, user=UserFactory(), state=State.PROVISIONING)
    services.lab_session_provision(session=session)
    session.refresh_from_db()
    assert session.state == State.READY, session.error
    try:
        # What `fault kill api` makes the platform do (labs.faults -> runtime.container_action).
        runtime.container_action(container_id=session.sandbox["containers"]["api"], action="kill")
        assert services.lab_sessions_watch()["broken"] == 0
        session.refresh_from_db()
        assert session.problem == {} and services.session_is_running(session)

        runtime.container_action(
            container_id=session.sandbox["containers"]["faults"], action="kill"
        )
        assert services.lab_sessions_watch()["broken"] == 1
        session.refresh_from_db()
        assert session.problem["container"] == "faults"
    finally:
        services.lab_session_stop(session=session)
