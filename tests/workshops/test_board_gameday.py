"""The game-day notice on an attendee's room bar: shown while a game day runs on THEIR lab, then
their own result; pushed over the room socket, with the consumer's 5 s refresh behind it; and
never anyone else's outcome."""

import json
from datetime import timedelta

import pytest
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone, translation

from academy.workshops import board, gameday
from academy.workshops.models import GameDay, GameDayOutcome
from labs.models import LabSession
from tests.factories import UserFactory
from tests.workshops.test_board import _attendee, _client, _next, _run, _socket

Result = GameDayOutcome.Result


@pytest.fixture(autouse=True)
def _fresh_counters():
    from django.core.cache import cache

    cache.clear()


def start(workshop, instructor, attendees, *, fault=GameDay.Fault.KILL, target="api"):
    """A running game day with one pending outcome per attendee (as game_day_start records
    them; no engine here: the engine tests are test_gameday*.py)."""
    lab = workshop.ordered_labs()[0]
    game_day = GameDay.objects.create(
        workshop=workshop,
        lab=lab,
        fault=fault,
        target=target,
        duration_seconds=60,
        probe={"container": target, "port": 8080, "path": "/"},
        started_by=instructor,
    )
    outcomes = {}
    for attendee in attendees:
        session = LabSession.objects.create(
            user=attendee.user, lab=lab, state=LabSession.State.READY, sandbox={}
        )
        outcomes[attendee.pk] = GameDayOutcome.objects.create(
            game_day=game_day, attendee=attendee, session=session
        )
    return game_day, outcomes


def mark(ok: bool, phase: str = "during") -> dict:
    return {"at": timezone.now().isoformat(), "phase": phase, "ok": ok, "status": 200, "ms": 7}


def finish(game_day, results: dict) -> None:
    for outcome, result in results.items():
        outcome.result = result
        outcome.fault_ended_at = timezone.now()
        outcome.measurements = [mark(result == Result.HELD)]
        outcome.error = "boom" if result == Result.FAILED else ""
        outcome.save()
    GameDay.objects.filter(pk=game_day.pk).update(
        state=GameDay.State.FINISHED, finished_at=timezone.now()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "target", "words"),
    [
        (
            GameDay.Fault.KILL,
            "dependency",
            "The dependency container of your lab is killed for 60 s",
        ),
        (
            GameDay.Fault.LATENCY,
            "proxy",
            "through the proxy container of your lab is slowed down for 60 s",
        ),
        (
            GameDay.Fault.STRESS_CPU,
            "api",
            "The api container of your lab is under CPU stress for 60 s",
        ),
        (
            GameDay.Fault.STRESS_MEMORY,
            "api",
            "The api container of your lab is under memory stress for 60 s",
        ),
        (
            GameDay.Fault.BREAK_RECONCILER,
            "reconciler",
            "The reconciler container of your lab is paused for 60 s",
        ),
    ],
)
def test_the_notice_says_what_fault_on_which_container_for_how_long(
    workshop, instructor, fault, target, words
):
    ana = _attendee(workshop)
    start(workshop, instructor, [ana], fault=fault, target=target)
    with translation.override("en"):
        state = board.room_game_day(workshop=workshop, user=ana.user)
    assert state["running"] is True and state["result"] is None
    assert state["title"] == "Game day in progress"
    assert words in state["text"]
    assert "Watch whether your system holds its steady state." in state["text"]


@pytest.mark.django_db
def test_an_attendee_sees_only_their_own_game_day_and_result(workshop, make_workshop, instructor):
    ana, bruno, carla = (_attendee(workshop, name) for name in ("Ana", "Bruno", "Carla"))
    # Carla has no session of the lab: the fault is not injected into her lab, no notice.
    game_day, outcomes = start(workshop, instructor, [ana, bruno])
    assert board.room_game_day(workshop=workshop, user=carla.user) is None
    # Another workshop's attendee (and the same user in another workshop) sees nothing of it.
    other = make_workshop(title="Otro")
    dora = _attendee(other, "Dora")
    assert board.room_game_day(workshop=other, user=dora.user) is None
    assert board.room_game_day(workshop=other, user=ana.user) is None

    # Ana's system deviates during the window: only Ana's notice says so.
    outcomes[ana.pk].result = Result.DEVIATED
    outcomes[ana.pk].save()
    with translation.override("en"):
        ana_state = board.room_game_day(workshop=workshop, user=ana.user)
        bruno_state = board.room_game_day(workshop=workshop, user=bruno.user)
    assert ana_state["running"] is True and ana_state["result"] == Result.DEVIATED
    assert "deviated" in ana_state["status"]
    assert ana_state["result_url"] == "" and ana_state["result_link"] == ""  # not final yet
    assert bruno_state["result"] is None and bruno_state["status"] == ""

    finish(game_day, {outcomes[ana.pk]: Result.DEVIATED, outcomes[bruno.pk]: Result.HELD})
    with translation.override("en"):
        ana_room = board.room_state(workshop=workshop, user=ana.user)
        bruno_room = board.room_state(workshop=workshop, user=bruno.user)
    assert ana_room["gameday"]["result"] == Result.DEVIATED
    assert ana_room["gameday"]["status"] == ("Your system deviated from its steady state.")
    assert bruno_room["gameday"]["result"] == Result.HELD
    assert bruno_room["gameday"]["status"] == "Your system held its steady state."
    # Nothing of Ana's outcome rides in Bruno's payload: not her name, her result, her
    # outcome's id or her measurements; the keys are the notice's and no more.
    payload = json.dumps(bruno_room)
    assert "Ana" not in payload and "deviated" not in payload
    assert set(bruno_room["gameday"]) == {
        "id",
        "running",
        "fault",
        "target",
        "seconds",
        "lab",
        "result",
        "title",
        "text",
        "status",
        "result_url",
        "result_link",
    }
    assert bruno_room["gameday"]["id"] == game_day.pk  # the game day's, not an outcome's
    # Once over, the notice links to the attendee's own timeline: the game day's page under
    # THEIR workshop's URLs (the page itself shows only the requester's outcome).
    assert bruno_room["gameday"]["result_url"] == (
        f"/en/workshops/{workshop.slug}/my-labs/game-day/{game_day.pk}/"
    )
    assert bruno_room["gameday"]["result_link"] == "See your timeline of the game day"

    # Long after it ended, the notice is gone.
    later = timezone.now() + board.GAMEDAY_RESULT_SHOWN + timedelta(minutes=1)
    assert board.room_game_day(workshop=workshop, user=ana.user, now=later) is None


@pytest.mark.django_db
def test_the_room_bar_renders_the_notice_in_a_polite_live_region(workshop, instructor):
    ana, bruno = _attendee(workshop, "Ana"), _attendee(workshop, "Bruno")
    game_day, outcomes = start(workshop, instructor, [ana])
    template = engines["django"].from_string('{% include "workshops/_room_bar.html" %}')

    def render(user, language="en") -> str:
        request = RequestFactory().get("/")
        request.user = user
        with translation.override(language):
            return template.render({"request": request}, request)

    html = render(ana.user)
    assert 'aria-live="polite" data-room-gameday' in html
    assert (
        "Game day in progress" in html
        and "The api container of your lab is killed for 60 s" in html
    )
    assert "?lang=en" in html and "?lang=es" in render(ana.user, "es")
    assert "css/gameday-notice.css" in html
    # Bruno took no part: the live region is there (empty), no notice.
    bruno_html = render(bruno.user)
    assert 'data-room-gameday data-key=""></div>' in bruno_html
    assert "Game day" not in bruno_html
    # The lab session page's one-line bar carries the same notice.
    compact = engines["django"].from_string(
        '{% include "workshops/_room_bar.html" with compact=True %}'
    )
    request = RequestFactory().get("/")
    request.user = ana.user
    with translation.override("en"):
        compact_html = compact.render({"request": request}, request)
    assert "is-compact" in compact_html and "room-gameday is-running" in compact_html
    finish(game_day, {outcomes[ana.pk]: Result.HELD})
    html = render(ana.user)
    assert "room-gameday is-held" in html
    assert "Your system held its steady state." in html


@pytest.mark.django_db(transaction=True)
def test_the_room_socket_pushes_each_attendee_only_their_own_game_day(workshop, instructor):
    ana, bruno = _attendee(workshop, "Ana"), _attendee(workshop, "Bruno")
    stranger = UserFactory()
    ana_client, bruno_client = _client(ana.user), _client(bruno.user)

    async def scenario():
        from channels.db import database_sync_to_async

        path = f"/ws/workshops/{workshop.pk}/room/"
        ana_socket = _socket(path, ana_client, b"lang=en")
        bruno_socket = _socket(path, bruno_client, b"lang=en")
        for socket in (ana_socket, bruno_socket):
            await socket.send_input({"type": "websocket.connect"})
            first = await _next(socket)
            assert first["type"] == "room" and first["gameday"] is None
        # The instructor starts a game day on Ana's lab only (Bruno has no session of it);
        # game_day_start tells each outcome's attendee, after commit.
        game_day, outcomes = await database_sync_to_async(start)(workshop, instructor, [ana])
        await database_sync_to_async(board.game_day_changed)(user_ids=[ana.user_id])
        started = await _next(ana_socket)
        assert started["type"] == "gameday" and started["gameday"]["running"] is True
        assert "The api container of your lab is killed for 60 s" in started["gameday"]["text"]
        assert await bruno_socket.receive_nothing(1)
        # The measurement task records a deviation (gameday._save, as on a lab host).
        outcome = await database_sync_to_async(
            GameDayOutcome.objects.select_related("game_day", "attendee").get
        )(pk=outcomes[ana.pk].pk)
        await database_sync_to_async(gameday._save)(
            outcome, result=Result.DEVIATED, measurements=[mark(False)]
        )
        deviated = await _next(ana_socket)
        assert deviated["gameday"]["result"] == Result.DEVIATED
        assert await bruno_socket.receive_nothing(1)
        # A worker in another process: its notice never reaches this process's channel layer
        # (the embedded in-memory one). Nothing is told; the consumer's 5 s refresh finds it.
        await database_sync_to_async(finish)(game_day, {outcome: Result.DEVIATED})
        over = await _next(ana_socket, timeout=board.BOARD_REFRESH_SECONDS * 3)
        assert over["gameday"]["running"] is False
        assert over["gameday"]["status"] == ("Your system deviated from its steady state.")
        # Bruno's refresh runs too, and finds nothing of his to say.
        assert await bruno_socket.receive_nothing(board.BOARD_REFRESH_SECONDS + 1)
        for socket in (ana_socket, bruno_socket):
            await socket.send_input({"type": "websocket.disconnect", "code": 1000})

    _run(scenario())
    # A stranger's socket to the room is refused before any game day is read.
    from tests.workshops.test_board import _first

    assert _first(f"/ws/workshops/{workshop.pk}/room/", _client(stranger)) == ("close", 4003)


@pytest.mark.django_db(transaction=True)
def test_game_day_start_and_its_outcome_reach_only_their_attendees_socket(workshop, instructor):
    """The real services: game_day_start tells the attendees it injects into, and the outcome's
    task (here one that cannot inject: the session ended) tells that attendee alone."""
    from labs.models import Lab

    ana, bruno = _attendee(workshop, "Ana"), _attendee(workshop, "Bruno")
    lab = Lab.objects.get(key="faults-lab")
    session = LabSession.objects.create(
        user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={}
    )
    ana_client, bruno_client = _client(ana.user), _client(bruno.user)

    async def scenario():
        from channels.db import database_sync_to_async

        path = f"/ws/workshops/{workshop.pk}/room/"
        ana_socket = _socket(path, ana_client, b"lang=en")
        bruno_socket = _socket(path, bruno_client, b"lang=en")
        for socket in (ana_socket, bruno_socket):
            await socket.send_input({"type": "websocket.connect"})
            assert (await _next(socket))["gameday"] is None

        def begin():
            return gameday.game_day_start(
                workshop=workshop,
                by=instructor,
                lab=lab,
                fault=GameDay.Fault.STRESS_MEMORY,
                target="api",
                duration_seconds=10,
            )

        game_day = await database_sync_to_async(begin)()
        started = await _next(ana_socket, timeout=3)  # pushed, long before a refresh
        assert started["gameday"]["running"] is True
        assert "under memory stress for 10 s" in started["gameday"]["text"]
        assert await bruno_socket.receive_nothing(1)

        def run():
            LabSession.objects.filter(pk=session.pk).update(state=LabSession.State.DESTROYED)
            return gameday.game_day_outcome_run(outcome=game_day.outcomes.get())

        assert await database_sync_to_async(run)() == Result.FAILED
        over = await _next(ana_socket, timeout=3)
        assert over["gameday"]["running"] is False and over["gameday"]["result"] == "failed"
        assert over["gameday"]["status"] == (
            "The fault could not be injected into your lab, so there is no result."
        )
        # The end of the game day is told to the whole room: Bruno's socket reads his own
        # (nothing) and so sends nothing.
        assert await bruno_socket.receive_nothing(1)
        for socket in (ana_socket, bruno_socket):
            await socket.send_input({"type": "websocket.disconnect", "code": 1000})

    _run(scenario())
