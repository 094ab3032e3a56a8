"""The certifications' practical tasks on a real Docker engine: each proves itself (every check
fails before the solves and passes after them, graded as the exam grades them, among the planted
files of the lab self-test), and refuses what a candidate forges instead of doing the task.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import CheckResult, Lab, LabSession
from tests.factories import UserFactory
from tests.labs.conftest import (  # noqa: F401 - fixtures of the lab engine's tests
    _docker_marked_tests_need_the_engine,
    docker_engine,
    lab_images,
)
from tests.labs.test_grading_isolation import MARKS, PLANT_CLONES, PLANT_HOME, PLANT_SYSTEM_CONFIG

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State

CERTIFICATIONS = Path(__file__).resolve().parents[2] / "content" / "certifications"
TASKS = sorted(
    f"{path.parents[2].name}--{path.parent.name}"
    for path in CERTIFICATIONS.glob("*/tasks/*/lab.yaml")
)


def _now(seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _run(name: str, provider: dict, *, start: float, output=None) -> dict:
    return {
        "activity": {"type": "action", "name": name, "provider": provider},
        "status": "succeeded",
        "output": {"status": 0, "stdout": "", "stderr": ""} if output is None else output,
        "start": _now(start),
        "end": _now(start + 0.5),
        "duration": 0.5,
    }


def _probe(provider: dict, *, start: float, ok: bool) -> dict:
    run = _run("users-get-quotes", provider, start=start)
    run["activity"] = {**run["activity"], "type": "probe", "tolerance": 0}
    run["output"] = {"status": 0 if ok else 1, "stdout": "", "stderr": ""}
    run["tolerance_met"] = ok
    return run


def _journal(*, probe: dict, method: list, rollbacks: list, after_ok: bool) -> dict:
    """A journal written by hand, shaped as `chaos run` writes one, claiming what never ran."""
    return {
        "chaoslib-version": "1.42.0",
        "platform": "Linux",
        "start": _now(-30),
        "end": _now(-1),
        "status": "completed",
        "deviated": not after_ok,
        "experiment": {
            "title": "forged",
            "description": "written by hand",
            "steady-state-hypothesis": {
                "title": "users get quotes",
                "probes": [
                    {"type": "probe", "name": "users-get-quotes", "tolerance": 0, "provider": probe}
                ],
            },
            "method": [run["activity"] for run in method],
            "rollbacks": [run["activity"] for run in rollbacks],
        },
        "steady_states": {
            "before": {"steady_state_met": True, "probes": [_probe(probe, start=-29, ok=True)]},
            "after": {
                "steady_state_met": after_ok,
                "probes": [_probe(probe, start=-5, ok=after_ok)],
            },
            "during": [],
        },
        "run": method,
        "rollbacks": rollbacks,
    }


def _fault(action: str, target: str) -> dict:
    return {"type": "process", "path": "fault", "arguments": f"{action} {target}"}


def _toxic(func: str, **arguments) -> dict:
    return {
        "type": "python",
        "module": "chaostoxi.toxic.actions",
        "func": func,
        "arguments": {"for_proxy": "dependency", "toxic_name": "slow", **arguments},
    }


SLO_LB = {"type": "process", "path": "slo", "arguments": "http://lb:8080/ --requests 30"}
SLO_API = {"type": "process", "path": "slo", "arguments": "http://api:8080/api/quote --timeout 1"}


def _write_file(name: str, data: dict) -> str:
    text = json.dumps(data).replace("'", "'\\''")
    return f"printf '%s' '{text}' > ~/{name}"


# What a candidate might do instead of the task: write the journal by hand, or change the system
# by hand. Run as the candidate (and, where it says "root:", as the platform's scenario again).
FORGERIES = {
    "chaos-engineering-practitioner--one-replica-down": [
        _write_file(
            "replica-journal.json",
            _journal(
                probe=SLO_LB,
                method=[_run("kill-api-2", _fault("kill", "api-2"), start=-25)],
                rollbacks=[_run("restart-api-2", _fault("restart", "api-2"), start=-3)],
                after_ok=True,
            ),
        )
    ],
    "chaos-engineering-practitioner--slow-dependency": [
        _write_file(
            "latency-journal.json",
            _journal(
                probe=SLO_API,
                method=[
                    _run(
                        "slow",
                        _toxic(
                            "create_toxic",
                            toxic_type="latency",
                            toxicity=1,
                            attributes={"latency": 3000},
                        ),
                        start=-25,
                        output=True,
                    )
                ],
                rollbacks=[_run("unslow", _toxic("delete_toxic"), start=-3, output=True)],
                after_ok=False,
            ),
        )
    ],
    # Fixing web by hand and pushing an empty commit that only says it reverts the bad release.
    "gitops-practitioner--revert-a-bad-release": [
        "curl -fsS -X PUT http://web:8080/config -H 'Content-Type: application/json' "
        "-d '{\"delay_ms\": 0}' >/dev/null",
        "git clone --quiet git://git/platform.git ~/forged && cd ~/forged "
        "&& bad=$(git log --format=%H --grep='warm the cache' -n 1) "
        '&& git commit --quiet --allow-empty -m "Revert it" -m "This reverts commit $bad." '
        "&& git push --quiet origin main && cd && rm -rf ~/forged",
    ],
    # Undoing the drift by hand instead of declaring web again; then the scenario is put back.
    "gitops-practitioner--bring-web-back": [
        "curl -fsS -X PUT http://web:8080/config -H 'Content-Type: application/json' "
        '-d \'{"delay_ms": 0, "message": "Deployed from git"}\' >/dev/null',
    ],
}
AFTER_FORGERY = {
    "gitops-practitioner--bring-web-back": (
        "curl -fsS -X PUT http://web:8080/config -H 'Content-Type: application/json' "
        '-d \'{"delay_ms": 900, "message": "Hotfix applied by hand"}\' >/dev/null'
    ),
}


def _exec(session: LabSession, script: str, *, user: str = "learner") -> runtime.ExecResult:
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"][session.lab.shell_container],
        command=["bash", "-c", script],
        user=user,
        timeout=120,
        workdir="/home/learner" if user == "learner" else "/",
    )


def _wait_ready(session: LabSession, timeout: float = 300) -> LabSession:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state in (State.READY, State.COMPLETED):
            return session
        assert session.is_live, f"session {session.state}: {session.error}"
        time.sleep(0.5)
    raise AssertionError(f"session {session.pk} is still {session.state}")


@pytest.fixture
def synced(lab_images, lab_worker, fault_relay):  # noqa: F811 - the imported fixture
    content_sync(root=settings.CONTENT_DIR)


def test_every_certification_ships_two_tasks_or_more():
    for folder in CERTIFICATIONS.iterdir():
        if (folder / "certification.yaml").exists():
            assert len(list(folder.glob("tasks/*/lab.yaml"))) >= 2, folder.name
    assert set(FORGERIES) == set(TASKS)


@pytest.mark.parametrize("key", TASKS)
def test_task_proves_itself_and_refuses_forgeries(synced, key):
    lab = Lab.objects.get(key=key)
    assert lab.exam_only
    steps = list(lab.steps.order_by("number"))
    deadline = timezone.now() + timedelta(minutes=40)
    session = services.lab_session_start_for_exam(
        user=UserFactory(), lab=lab, expires_at=deadline, language="en"
    )
    session = _wait_ready(session)
    try:
        # The attempt's deadline, untouched by provisioning.
        assert session.expires_at == deadline
        assert _exec(session, f"mkdir -p {MARKS} && chmod 0777 {MARKS}").exit_code == 0
        planted = _exec(session, PLANT_HOME)
        assert "planted" in planted.output, planted.output

        fresh = services.lab_session_grade_all(session=session)
        assert fresh == [{"step": step.key, "passed": False} for step in steps]

        for script in FORGERIES[key]:
            forged = _exec(session, script)
            assert forged.exit_code == 0, forged.output
        forged_verdicts = services.lab_session_grade_all(session=session)
        assert not any(verdict["passed"] for verdict in forged_verdicts), forged_verdicts
        if key in AFTER_FORGERY:
            assert _exec(session, AFTER_FORGERY[key], user="root").exit_code == 0

        for step in steps:
            solved = services.lab_session_solve(session=session, step=step)
            assert solved.exit_code == 0, f"{step.key}:\n{solved.output[-3000:]}"
        solved_verdicts = services.lab_session_grade_all(session=session, language="es")
        assert solved_verdicts == [{"step": step.key, "passed": True} for step in steps]
        # Among the candidate's planted clones and git configuration, grading still runs
        # nothing of theirs, and still passes.
        assert _exec(session, PLANT_CLONES).exit_code == 0
        assert _exec(session, PLANT_SYSTEM_CONFIG, user="root").exit_code == 0
        planted_verdicts = services.lab_session_grade_all(session=session)
        assert planted_verdicts == solved_verdicts

        marks = _exec(session, f"ls -A {MARKS}").output.split()
        during = [mark for mark in marks if mark.rsplit(".", 2)[-2:-1] == ["0"]]
    finally:
        services.lab_session_stop(session=session)
    assert during == [], f"planted programs ran as root during grading: {during}"
    # Nothing a candidate could read: no stored verdicts, and the session never changed state.
    assert not CheckResult.objects.filter(session=session).exists()


def test_lab_selftest_command_proves_a_task_as_the_exam_grades_it(synced):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("lab", "selftest", "gitops-practitioner--revert-a-bad-release", stdout=out)

    assert "(bad-release-reverted): before the solves FAIL, after them PASS" in out.getvalue()
    assert "1 lab(s) passed their self-test" in out.getvalue()
    lab = Lab.objects.get(key="gitops-practitioner--revert-a-bad-release")
    assert not LabSession.objects.live().filter(lab=lab).exists()
    assert not CheckResult.objects.exists()
