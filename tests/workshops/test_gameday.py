"""Game day on the real engine: the fault reaches each attendee's own session through the
faults sidecar and the relay, nobody else's; the platform's probe decides held or deviated."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.courses.services import content_sync
from academy.workshops import gameday, services
from academy.workshops.models import GameDay, GameDayOutcome
from labs import runtime
from labs import services as lab_services
from labs.models import Lab, LabSession
from tests.factories import UserFactory
from tests.labs.conftest import docker_engine, lab_images  # noqa: F401  (the engine's fixtures)
from tests.workshops.conftest import make_instructor, write_workshop_content

State = LabSession.State

# The system: an api that calls its dependency. Killing the dependency makes the api answer
# 503, unless the learner gave it a fallback (PUT /config), which is what "fixed" means here.
GAMEDAY_LAB_YAML = """\
order: 3
difficulty: beginner
duration_minutes: 10
slug: {en: game-day-lab, es: laboratorio-game-day}
title: {en: Game day lab, es: Laboratorio de game day}
summary: {en: An api and its dependency., es: Una api y su dependencia.}
shell: toolbox
faults: true
lessons:
  - demo-course/second-lesson
containers:
  - name: toolbox
    image: toolbox
    memory_mb: 128
    pids: 64
  - name: api
    image: target
    memory_mb: 64
    pids: 32
    env:
      ROLE: service
      DEPENDENCY_URL: http://dependency:8080/data
      DEPENDENCY_TIMEOUT: "0.5"
  - name: dependency
    image: target
    memory_mb: 64
    pids: 32
    env:
      ROLE: dependency
steps:
  - key: add-a-fallback
"""


def write_gameday_lab(root):
    lab = root / "labs" / "game-day-lab"
    steps = lab / "steps"
    steps.mkdir(parents=True)
    (lab / "lab.yaml").write_text(GAMEDAY_LAB_YAML, encoding="utf-8")
    for language, title in (("en", "Add a fallback"), ("es", "Agrega una alternativa")):
        (steps / f"add-a-fallback.{language}.md").write_text(f"---\ntitle: {title}\n---\n\nx\n")
    (steps / "add-a-fallback.check.sh").write_text("curl -fsS http://api:8080/config\n")
    (steps / "add-a-fallback.solve.sh").write_text("true\n")


def wait_for(session: LabSession, state: str, timeout: float = 90) -> LabSession:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state == state:
            return session
        time.sleep(0.2)
    raise AssertionError(f"session {session.pk} is {session.state}: {session.error}")


def in_shell(session: LabSession, script: str) -> runtime.ExecResult:
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-lc", script],
        user="learner",
        timeout=30,
    )


def fault_records(session: LabSession) -> list[dict]:
    """What the session's own sidecar says the platform ran (its records, not ours)."""
    status, body = gameday._call(
        session.sandbox["containers"]["faults"],
        "GET",
        "http://127.0.0.1:7000/v1/records",
        None,
        5.0,
        limit=200_000,
    )
    assert status == 200, body
    return json.loads(body)["records"]


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("lab_images", "lab_worker", "fault_relay")
def test_game_day_injects_into_each_attendees_own_session_and_measures_it(tmp_path):
    root = write_workshop_content(tmp_path)
    write_gameday_lab(root)
    content_sync(root=root)
    lab = Lab.objects.get(key="game-day-lab")
    from academy.courses.models import Course

    instructor = make_instructor()
    now = timezone.now()
    workshop = services.workshop_create(
        created_by=instructor,
        title="Game day",
        language="en",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=2),
        time_zone="UTC",
        course=Course.objects.get(key="demo-course"),
        labs=[lab],
        capacity=5,
    )
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    bruno = services.attendee_join(workshop=workshop, display_name="Bruno")[0]
    outsider = UserFactory()
    sessions = [
        lab_services.lab_session_start(user=user, lab=lab)
        for user in (ana.user, bruno.user, outsider)
    ]
    try:
        ana_session, bruno_session, outsider_session = [
            wait_for(session, State.READY) for session in sessions
        ]
        # Ana fixed her system before the game day: the api answers from a fallback.
        fixed = in_shell(
            ana_session,
            "curl -fsS -X PUT -H 'Content-Type: application/json' "
            '-d \'{"fallback_quote": "Keep calm"}\' http://api:8080/config',
        )
        assert fixed.exit_code == 0, fixed.output
        # A forged start from an attendee is refused and records nothing.
        with pytest.raises(gameday.GameDayError):
            gameday.game_day_start(
                workshop=workshop,
                by=ana.user,
                lab=lab,
                fault="kill",
                target="api",
                duration_seconds=10,
            )
        with pytest.raises(gameday.GameDayError):  # the shell is never a target
            gameday.game_day_start(
                workshop=workshop,
                by=instructor,
                lab=lab,
                fault="kill",
                target="toolbox",
                duration_seconds=10,
            )
        assert not GameDay.objects.exists()

        game_day = gameday.game_day_start(
            workshop=workshop,
            by=instructor,
            lab=lab,
            fault="kill",
            target="dependency",
            duration_seconds=10,
        )
        with pytest.raises(gameday.GameDayError):  # one at a time
            gameday.game_day_start(
                workshop=workshop,
                by=instructor,
                lab=lab,
                fault="stress_cpu",
                target="api",
                duration_seconds=10,
            )
        outcomes = {o.attendee_id: o for o in game_day.outcomes.all()}
        assert set(outcomes) == {ana.pk, bruno.pk}  # the outsider's session takes no part

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            game_day.refresh_from_db()
            if game_day.state == GameDay.State.FINISHED:
                break
            time.sleep(0.5)
        assert game_day.state == GameDay.State.FINISHED, list(game_day.outcomes.values())

        results = {o.attendee_id: o for o in game_day.outcomes.all()}
        assert results[ana.pk].result == GameDayOutcome.Result.HELD, [
            (m["phase"], m["status"], m["ms"]) for m in results[ana.pk].measurements
        ]
        assert results[bruno.pk].result == GameDayOutcome.Result.DEVIATED
        for outcome in results.values():
            phases = [m["phase"] for m in outcome.measurements]
            assert phases.count("before") == 2 and phases.count("after") == 2
            assert "during" in phases
            assert all(m["ok"] for m in outcome.measurements if m["phase"] == "before")
            # The system was put back: after the window the api answers again.
            assert all(m["ok"] for m in outcome.measurements if m["phase"] == "after")
        assert not any(m["ok"] for m in results[bruno.pk].measurements if m["phase"] == "during")
        # Each attendee's own sidecar ran the kill (and the restart) on its own dependency;
        # the outsider's saw no fault at all.
        for session in (ana_session, bruno_session):
            done = [(r["action"], r["target"], r["ok"]) for r in fault_records(session)]
            assert ("kill", "dependency", True) in done and ("restart", "dependency", True) in done
        assert fault_records(outsider_session) == []

        client = Client()
        client.force_login(instructor)
        for language in ("en", "es"):
            with translation.override(language):
                page = client.get(
                    reverse(
                        "workshops:gameday_debrief",
                        kwargs={"pk": workshop.pk, "game_day_id": game_day.pk},
                    )
                )
            assert page.status_code == 200
            text = page.content.decode()
            assert "Ana" in text and "Bruno" in text and "gameday-window" in text
        stranger = Client()
        stranger.force_login(ana.user)
        with translation.override("en"):
            assert (
                stranger.get(
                    reverse(
                        "workshops:gameday_debrief",
                        kwargs={"pk": workshop.pk, "game_day_id": game_day.pk},
                    )
                ).status_code
                == 404
            )
    finally:
        for session in LabSession.objects.live():
            lab_services.lab_session_stop(session=session)


LATENCY_LAB_YAML = """\
order: 4
difficulty: beginner
duration_minutes: 10
slug: {en: latency-game-day, es: game-day-de-latencia}
title: {en: Latency game day, es: Game day de latencia}
summary: {en: An api behind a proxy., es: Una api detrás de un proxy.}
shell: toolbox
faults: true
lessons:
  - demo-course/second-lesson
containers:
  - name: toolbox
    image: toolbox
    memory_mb: 128
    pids: 64
  - name: api
    image: target
    memory_mb: 64
    pids: 32
    env:
      ROLE: service
      DEPENDENCY_URL: http://proxy:8666/data
      DEPENDENCY_TIMEOUT: "0.5"
  - name: proxy
    image: proxy
    memory_mb: 64
    pids: 64
    env:
      TOXIPROXY_CONFIG: >-
        [{"name": "dependency", "listen": "0.0.0.0:8666", "upstream": "dependency:8080"}]
  - name: dependency
    image: target
    memory_mb: 64
    pids: 32
    env:
      ROLE: dependency
steps:
  - key: add-a-fallback
"""


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("lab_images", "lab_worker", "fault_relay")
def test_latency_goes_through_the_sessions_own_proxy_and_is_removed(tmp_path):
    root = write_workshop_content(tmp_path)
    write_gameday_lab(root)
    (root / "labs/game-day-lab/lab.yaml").write_text(LATENCY_LAB_YAML, encoding="utf-8")
    content_sync(root=root)
    lab = Lab.objects.get(key="game-day-lab")
    assert [c.fault for c in gameday.fault_choices(lab)][:2] == ["kill", "latency"]
    from academy.courses.models import Course

    instructor = make_instructor()
    now = timezone.now()
    workshop = services.workshop_create(
        created_by=instructor,
        title="Latency",
        language="es",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=2),
        time_zone="UTC",
        course=Course.objects.get(key="demo-course"),
        labs=[lab],
        capacity=5,
    )
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    session = wait_for(lab_services.lab_session_start(user=ana.user, lab=lab), State.READY)
    try:
        game_day = gameday.game_day_start(
            workshop=workshop,
            by=instructor,
            lab=lab,
            fault="latency",
            target="proxy",
            duration_seconds=10,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            game_day.refresh_from_db()
            if game_day.state == GameDay.State.FINISHED:
                break
            time.sleep(0.5)
        outcome = game_day.outcomes.get()
        marks = [(m["phase"], m["ok"]) for m in outcome.measurements]
        assert outcome.result == GameDayOutcome.Result.DEVIATED, (outcome.error, marks)
        assert all(ok for phase, ok in marks if phase != "during"), marks
        assert not any(ok for phase, ok in marks if phase == "during"), marks
        # The toxic is gone from the session's own proxy.
        status, body = gameday._proxy_call(
            session.sandbox["containers"]["proxy"], "GET", "/proxies", None
        )
        assert status == 200 and json.loads(body)["dependency"]["toxics"] == []
    finally:
        for live in LabSession.objects.live():
            lab_services.lab_session_stop(session=live)
