"""Game day on the real engine, for the faults test_gameday.py does not cover: "break the
reconciler" on the project's own gitops-reconcile lab, "stress CPU" and "stress memory" on its
resource-pressure lab. What is asserted is what the engine and each session's own sidecar
observed, never what the game day's code says it did."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from academy.courses.models import Course
from academy.courses.services import content_sync
from academy.workshops import gameday, selectors, services
from academy.workshops.models import GAMEDAY_MIN_SECONDS, GameDay, GameDayOutcome
from labs import faults, runtime
from labs import services as lab_services
from labs.models import Lab, LabSession
from labs.runtime.engine import client
from tests.labs.conftest import docker_engine, lab_images  # noqa: F401  (the engine's fixtures)
from tests.workshops.conftest import make_instructor
from tests.workshops.test_gameday import fault_records, in_shell, wait_for

State = LabSession.State
Result = GameDayOutcome.Result
pytestmark = [
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lab_images", "lab_worker", "fault_relay"),
]


def workshop_of(lab: Lab, instructor, attendees: list[str]):
    """An open workshop of the course that practises ``lab``, with these attendees joined."""
    course = next(
        course for course in Course.objects.all() if lab in selectors.course_labs(course=course)
    )
    now = timezone.now()
    workshop = services.workshop_create(
        created_by=instructor,
        title="Game day",
        language="en",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=2),
        time_zone="UTC",
        course=course,
        labs=[lab],
        capacity=5,
    )
    return workshop, [
        services.attendee_join(workshop=workshop, display_name=n)[0] for n in attendees
    ]


def until(what, *, timeout: float, message=lambda: ""):
    """``what()``'s first truthy answer, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message()}")
        time.sleep(0.2)


def finished(game_day: GameDay, timeout: float = 120) -> GameDay:
    def done():
        game_day.refresh_from_db()
        return game_day.state == GameDay.State.FINISHED

    until(done, timeout=timeout, message=lambda: list(game_day.outcomes.values()))
    return game_day


def in_window(outcome: GameDayOutcome, timeout: float = 60) -> GameDayOutcome:
    """The outcome once its fault is injected (the task saves injected_at after the relay's
    answer) and its window is still open."""

    def injected():
        outcome.refresh_from_db()
        assert outcome.result != Result.FAILED, outcome.error
        return outcome.injected_at is not None

    until(injected, timeout=timeout, message=lambda: outcome.error)
    assert outcome.fault_ended_at is None, "the window closed before the test could look"
    return outcome


def phases(outcome: GameDayOutcome) -> list[tuple[str, bool]]:
    return [(m["phase"], m["ok"]) for m in outcome.measurements]


def state_of(container_id: str) -> dict:
    return client().api.inspect_container(container_id)["State"]


def stress_lines(container_id: str) -> list[str]:
    """The stress-ng launches running in one container, seen by ps inside it: one line per
    ``timeout ... stress-ng ...`` wrapper the relay started (container_action's stress)."""
    user = client().api.inspect_container(container_id)["Config"].get("User") or ""
    result = runtime.sandbox_exec(
        container_id=container_id, command=["ps", "-eo", "args="], user=user, timeout=20
    )
    assert result.exit_code == 0, result.output
    return [
        line.strip()
        for line in result.output.splitlines()
        if line.strip().startswith("timeout") and "stress-ng" in line
    ]


def stop_all() -> None:
    for live in LabSession.objects.live():
        lab_services.lab_session_stop(session=live)


def test_break_the_reconciler_pauses_that_sessions_reconciler_only_during_the_window():
    content_sync(root=settings.CONTENT_DIR)
    lab = Lab.objects.get(key="gitops-reconcile")
    choice = next(
        c for c in gameday.fault_choices(lab) if c.fault == GameDay.Fault.BREAK_RECONCILER
    )
    assert choice.targets == ["reconciler"]
    assert gameday.probe_for(lab)["container"] == "web"  # the system the learner runs
    instructor = make_instructor()
    workshop, (ana,) = workshop_of(lab, instructor, ["Ana"])
    session = wait_for(lab_services.lab_session_start(user=ana.user, lab=lab), State.READY, 150)
    try:
        reconciler = session.sandbox["containers"]["reconciler"]
        web = session.sandbox["containers"]["web"]
        assert state_of(reconciler)["Paused"] is False
        game_day = gameday.game_day_start(
            workshop=workshop,
            by=instructor,
            lab=lab,
            fault=GameDay.Fault.BREAK_RECONCILER,
            target="reconciler",
            duration_seconds=GAMEDAY_MIN_SECONDS,
        )
        outcome = in_window(game_day.outcomes.get())
        # The engine says it: THIS session's reconciler is frozen, its web service is not.
        until(lambda: state_of(reconciler)["Paused"], timeout=10)
        outcome.refresh_from_db()
        assert outcome.fault_ended_at is None
        assert state_of(web)["Paused"] is False and state_of(web)["Running"] is True
        # A paused reconciler does not answer: its status API hangs until the client gives up.
        frozen = in_shell(session, "curl -sS --max-time 2 http://reconciler:9100/status")
        assert frozen.exit_code != 0, frozen.output

        finished(game_day)
        outcome.refresh_from_db()
        assert outcome.fault_ended_at is not None
        after = state_of(reconciler)
        assert after["Paused"] is False and after["Running"] is True, after
        # And it works again: the reconciler answers and is still synced with main.
        until(
            lambda: (
                in_shell(
                    session,
                    "curl -fsS --max-time 2 http://reconciler:9100/status"
                    " | jq -e '.synced == true'",
                ).exit_code
                == 0
            ),
            timeout=30,
        )
        # Steady state is web answering. With its reconciler paused web still serves (only
        # drift correction stops), so the platform's truthful verdict here is "held".
        marks = phases(outcome)
        assert outcome.result == Result.HELD, (outcome.error, marks)
        assert [p for p, _ok in marks].count("before") == gameday.MEASURES_BEFORE
        assert [p for p, _ok in marks].count("after") == gameday.MEASURES_AFTER
        assert any(p == "during" for p, _ok in marks)
        assert all(ok for _p, ok in marks), marks
        done = [(r["action"], r["target"], r["ok"]) for r in fault_records(session)]
        assert done == [("pause", "reconciler", True), ("unpause", "reconciler", True)], done
    finally:
        stop_all()


def test_stress_runs_in_each_attendees_own_target_only_during_the_window():
    content_sync(root=settings.CONTENT_DIR)
    lab = Lab.objects.get(key="resource-pressure")
    faults_offered = [c.fault for c in gameday.fault_choices(lab)]
    assert {GameDay.Fault.STRESS_CPU, GameDay.Fault.STRESS_MEMORY} <= set(faults_offered)
    instructor = make_instructor()
    workshop, (ana, bruno) = workshop_of(lab, instructor, ["Ana", "Bruno"])
    started = [lab_services.lab_session_start(user=a.user, lab=lab) for a in (ana, bruno)]
    try:
        ana_session, bruno_session = [wait_for(s, State.READY, 150) for s in started]
        ana_api = ana_session.sandbox["containers"]["api"]
        bruno_api = bruno_session.sandbox["containers"]["api"]
        assert stress_lines(ana_api) == [] and stress_lines(bruno_api) == []

        # Hostile: no game day target names another session's container. The instructor's
        # form only offers the lab's own container names; a container id is refused.
        for forged in (bruno_api, bruno_api[:12], "../api", "faults", "toolbox"):
            with pytest.raises(gameday.GameDayError):
                gameday.game_day_start(
                    workshop=workshop,
                    by=instructor,
                    lab=lab,
                    fault=GameDay.Fault.STRESS_CPU,
                    target=forged,
                    duration_seconds=GAMEDAY_MIN_SECONDS,
                )
        assert not GameDay.objects.exists()
        # Hostile: Ana's own sidecar asked (from her shell) to stress Bruno's container by id.
        asked = in_shell(
            ana_session,
            "curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"action": "stress", "target": "{bruno_api}", "duration": 10}}\' '
            "http://faults:7000/v1/faults",
        )
        assert asked.output.strip().endswith("403"), asked.output
        # Hostile: a relay whose map of Ana's session was tampered to point "api" at Bruno's
        # container: the engine's labels say the container is not Ana's, so nothing runs.
        tampered = faults.SessionSandbox(
            session_id=ana_session.pk,
            containers={**ana_session.sandbox["containers"], "api": bruno_api},
            shell="toolbox",
        )
        answer = faults.fault_request_run(
            sandbox=tampered,
            line='{"id": "x", "action": "stress", "target": "api", "duration": 10}',
        )
        assert answer["ok"] is False and "not one of this sandbox" in answer["error"], answer
        assert stress_lines(bruno_api) == []

        for fault, flag in (
            (GameDay.Fault.STRESS_CPU, "--cpu"),
            (GameDay.Fault.STRESS_MEMORY, "--vm"),
        ):
            game_day = gameday.game_day_start(
                workshop=workshop,
                by=instructor,
                lab=lab,
                fault=fault,
                target="api",
                duration_seconds=GAMEDAY_MIN_SECONDS,
            )
            outcomes = {o.attendee_id: o for o in game_day.outcomes.all()}
            assert set(outcomes) == {ana.pk, bruno.pk}
            for attendee, container in ((ana, ana_api), (bruno, bruno_api)):
                outcome = in_window(outcomes[attendee.pk])
                # Inside this attendee's own api: exactly one stress, of this fault's kind.
                # Two here would mean the other attendee's stress landed in this container.
                lines = until(lambda c=container: stress_lines(c), timeout=10)
                assert len(lines) == 1 and flag in lines[0], lines
                outcome.refresh_from_db()
                assert outcome.fault_ended_at is None, "the window closed while looking"
            finished(game_day)
            for attendee, session, container in (
                (ana, ana_session, ana_api),
                (bruno, bruno_session, bruno_api),
            ):
                until(lambda c=container: stress_lines(c) == [], timeout=15)  # gone afterwards
                outcome = GameDayOutcome.objects.get(game_day=game_day, attendee=attendee)
                marks = phases(outcome)
                # A stressed api may answer slowly: held or deviated, both measured, never failed.
                assert outcome.result in (Result.HELD, Result.DEVIATED), (outcome.error, marks)
                assert [p for p, _ok in marks].count("before") == gameday.MEASURES_BEFORE
                assert any(p == "during" for p, _ok in marks)
                assert all(ok for p, ok in marks if p != "during"), marks
                # Each sidecar's own records: one stress and one unstress of its own api.
                mine = [
                    (r["action"], r["target"], r["resource"], r["ok"])
                    for r in fault_records(session)
                    if r["action"] in ("stress", "unstress")
                ]
                resource = "memory" if fault == GameDay.Fault.STRESS_MEMORY else "cpu"
                assert mine[-2:] == [
                    ("stress", "api", resource, True),
                    ("unstress", "api", None, True),
                ], mine
        # Over both game days, each sidecar ran exactly two stresses, the forged one never.
        for session in (ana_session, bruno_session):
            stresses = [r for r in fault_records(session) if r["action"] == "stress"]
            assert [r["ok"] for r in stresses] == [True, True], stresses
    finally:
        stop_all()
