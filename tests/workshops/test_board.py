"""The live board and the room's actions: who may see and do what, and the live updates."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import translation

from academy.asgi import application
from academy.workshops import board, services
from academy.workshops.models import HelpRequest, WorkshopEvent
from labs.models import CheckResult, LabSession
from tests.event_loops import run_on_new_loop
from tests.factories import UserFactory
from tests.workshops.conftest import make_instructor

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate-limit counters live in the cache, keyed by user id, which a new test may reuse."""
    from django.core.cache import cache

    cache.clear()


def url(name: str, language: str = "en", **kwargs) -> str:
    with translation.override(language):
        return reverse(f"workshops:{name}", kwargs=kwargs)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _attendee(workshop, name="Ana"):
    return services.attendee_join(workshop=workshop, display_name=name)[0]


def _socket(path: str, client: Client, query: bytes = b"") -> ApplicationCommunicator:
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    return ApplicationCommunicator(
        application,
        {
            "type": "websocket",
            "path": path,
            "query_string": query,
            "headers": [ORIGIN, cookie],
            "subprotocols": [],
        },
    )


async def _next(connection, timeout=10):
    """The next text frame as JSON, or ("close", code)."""
    while True:
        message = await connection.receive_output(timeout)
        if message["type"] == "websocket.close":
            return ("close", message.get("code"))
        if message["type"] == "websocket.send" and message.get("text"):
            return json.loads(message["text"])


def _run(coroutine):
    return run_on_new_loop(coroutine)


def _first(path: str, client: Client, query: bytes = b""):
    async def scenario():
        connection = _socket(path, client, query)
        await connection.send_input({"type": "websocket.connect"})
        first = await _next(connection)
        await connection.send_input({"type": "websocket.disconnect", "code": 1000})
        await connection.wait(1)
        return first

    return _run(scenario())


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_board_is_for_the_workshops_instructors_only(workshop, instructor, language):
    ana = _attendee(workshop)
    other = make_instructor()
    assert _client(instructor).get(url("board", language, pk=workshop.pk)).status_code == 200
    for stranger in (other, ana.user, UserFactory()):
        client = _client(stranger)
        assert client.get(url("board", language, pk=workshop.pk)).status_code == 404
        assert client.get(url("gameday", language, pk=workshop.pk)).status_code == 404


@pytest.mark.django_db
def test_the_board_shows_each_attendee_their_step_and_a_raised_hand(workshop, instructor):
    ana, bea = _attendee(workshop, "Ana <b>"), _attendee(workshop, "Bea")
    lab = workshop.ordered_labs()[0]
    session = LabSession.objects.create(
        user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={}
    )
    step = lab.steps.order_by("number").first()
    CheckResult.objects.create(session=session, step=step, passed=False, duration_ms=5)
    board.help_toggle(attendee=bea)
    snapshot = board.board_snapshot(workshop=workshop)
    rows = {row["name"]: row for row in snapshot["rows"]}
    assert rows["Ana <b>"]["step"] == step.number
    assert rows["Ana <b>"]["last_check"]["passed"] is False
    assert rows["Ana <b>"]["session"] == session.pk
    assert rows["Bea"]["help_since"] and rows["Ana <b>"]["help_since"] is None
    assert snapshot["help_count"] == 1
    page = _client(instructor).get(url("board", pk=workshop.pk)).content.decode()
    assert "Ana &lt;b&gt;" in page and "Ana <b>" not in page


@pytest.mark.django_db
def test_an_attendee_raises_only_their_own_hand(workshop, make_workshop, instructor):
    ana, bea = _attendee(workshop, "Ana"), _attendee(workshop, "Bea")
    other_workshop = make_workshop(title="Otro taller")
    client = _client(ana.user)
    # Another workshop's help address: ana is no attendee there.
    response = client.post(url("help", slug=other_workshop.slug))
    assert response.status_code == 404
    response = client.post(url("help", slug=workshop.slug), HTTP_ACCEPT="application/json")
    assert response.json() == {"help": True}
    assert list(HelpRequest.objects.filter(cleared_at__isnull=True)) == [
        HelpRequest.objects.get(attendee=ana)
    ]
    assert not HelpRequest.objects.filter(attendee=bea).exists()
    # Toggling lowers it; the instructor can clear a hand, an attendee cannot clear another's.
    assert client.post(url("help", slug=workshop.slug), HTTP_ACCEPT="application/json").json() == {
        "help": False
    }
    board.help_toggle(attendee=bea)
    forged = client.post(url("help_clear", pk=workshop.pk, attendee_id=bea.pk))
    assert forged.status_code == 404
    assert HelpRequest.objects.filter(attendee=bea, cleared_at__isnull=True).exists()
    _client(instructor).post(url("help_clear", pk=workshop.pk, attendee_id=bea.pk))
    assert not HelpRequest.objects.filter(attendee=bea, cleared_at__isnull=True).exists()


@pytest.mark.django_db
def test_asking_for_help_is_rate_limited(workshop):
    ana = _attendee(workshop)
    client = _client(ana.user)
    answers = [
        client.post(url("help", slug=workshop.slug), HTTP_ACCEPT="application/json").status_code
        for _ in range(board.HELP_RATE[0] + 2)
    ]
    assert answers[: board.HELP_RATE[0]] == [200] * board.HELP_RATE[0]
    assert answers[-1] == 429


@pytest.mark.django_db
def test_instructor_actions_are_audited_and_refused_to_others(workshop, instructor):
    ana = _attendee(workshop)
    lab = workshop.ordered_labs()[0]
    LabSession.objects.create(
        user=ana.user,
        lab=lab,
        state=LabSession.State.READY,
        sandbox={},
        expires_at=workshop.starts_at,
    )
    other = make_instructor()
    for forger in (ana.user, other):
        client = _client(forger)
        for name in ("announce", "extend", "timer"):
            response = client.post(
                url(name, pk=workshop.pk), {"text": "Go home", "action": "pause"}
            )
            assert response.status_code == 404
    assert not WorkshopEvent.objects.exists()
    client = _client(instructor)
    client.post(url("announce", pk=workshop.pk), {"text": "  Break   in 5 <script>  "})
    response = client.post(url("extend", pk=workshop.pk), follow=True)
    assert "1 running lab session was extended." in response.content.decode()
    client.post(url("timer", pk=workshop.pk), {"action": "pause"})
    assert board.timer_state(workshop)["paused"] is True
    client.post(url("timer", pk=workshop.pk), {"action": "resume"})
    assert board.timer_state(workshop)["paused"] is False
    kinds = list(WorkshopEvent.objects.order_by("pk").values_list("kind", "actor", "text"))
    assert kinds == [
        ("announce", instructor.pk, "Break in 5 <script>"),
        ("extend", instructor.pk, ""),
        ("pause", instructor.pk, ""),
        ("resume", instructor.pk, ""),
    ]
    too_long = client.post(url("announce", pk=workshop.pk), {"text": "x" * 281}, follow=True)
    assert "at most 280 characters" in too_long.content.decode()
    assert WorkshopEvent.objects.filter(kind="announce").count() == 1


@pytest.mark.django_db(transaction=True)
def test_websockets_refuse_strangers_and_other_workshops(workshop, make_workshop, instructor):
    ana = _attendee(workshop)
    other = make_workshop(title="Otro")
    bea = _attendee(other, "Bea")
    board_path = f"/ws/workshops/{workshop.pk}/board/"
    room_path = f"/ws/workshops/{workshop.pk}/room/"
    assert _first(board_path, _client(make_instructor())) == ("close", 4003)
    assert _first(board_path, _client(ana.user)) == ("close", 4003)
    assert _first(room_path, _client(bea.user)) == ("close", 4003)
    assert _first(room_path, _client(UserFactory())) == ("close", 4003)
    assert _first(board_path, _client(instructor))["type"] == "board"
    # The rows speak the page's language (?lang=), an unknown one falls back to the default.
    lab = workshop.ordered_labs()[0]
    LabSession.objects.create(user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={})
    spanish = _first(board_path, _client(instructor), b"lang=es")["rows"][0]
    assert (spanish["lab"], spanish["state_label"]) == (lab.title_es, "Lista")
    assert _first(board_path, _client(instructor), b"lang=xx")["rows"][0]["lab"] == lab.title_en
    assert _first(room_path, _client(ana.user))["type"] == "room"


@pytest.mark.django_db(transaction=True)
def test_the_board_updates_when_a_check_finishes_and_announcements_reach_only_the_room(
    workshop, make_workshop, instructor
):
    ana = _attendee(workshop)
    other = make_workshop(title="Otro")
    bea = _attendee(other, "Bea")
    lab = workshop.ordered_labs()[0]
    session = LabSession.objects.create(
        user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={}
    )
    step = lab.steps.order_by("number").first()
    instructor_client, ana_client, bea_client = (
        _client(instructor),
        _client(ana.user),
        _client(bea.user),
    )

    async def scenario():
        board_socket = _socket(f"/ws/workshops/{workshop.pk}/board/", instructor_client)
        ana_socket = _socket(f"/ws/workshops/{workshop.pk}/room/", ana_client)
        bea_socket = _socket(f"/ws/workshops/{other.pk}/room/", bea_client)
        for socket in (board_socket, ana_socket, bea_socket):
            await socket.send_input({"type": "websocket.connect"})
        first = await _next(board_socket)
        assert (await _next(ana_socket))["type"] == "room"
        assert (await _next(bea_socket))["type"] == "room"
        # A check finishes on a worker: the board hears of it.
        from channels.db import database_sync_to_async

        await database_sync_to_async(CheckResult.objects.create)(
            session=session, step=step, passed=True, duration_ms=3
        )
        update = await _next(board_socket)
        await database_sync_to_async(board.announcement_send)(
            workshop=workshop, by=instructor, text="Pizza <i>now</i>"
        )
        heard = await _next(ana_socket)
        assert await bea_socket.receive_nothing(1)
        for socket in (board_socket, ana_socket, bea_socket):
            await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        return first, update, heard

    first, update, heard = _run(scenario())
    assert first["rows"][0]["last_check"] is None
    assert update["type"] == "board"
    assert update["rows"][0]["last_check"]["passed"] is True
    assert heard == {
        "type": "announce",
        "announcement": {
            "id": heard["announcement"]["id"],
            "text": "Pizza <i>now</i>",
            "at": heard["announcement"]["at"],
        },
    }


@pytest.mark.django_db
def test_an_instructor_may_watch_only_their_workshops_attendees(
    workshop, make_workshop, instructor
):
    ana = _attendee(workshop)
    lab = workshop.ordered_labs()[0]
    session = LabSession.objects.create(user=ana.user, lab=lab, state=LabSession.State.READY)
    other_instructor = make_instructor()
    make_workshop(by=other_instructor, title="Otro")
    from labs.terminal import may_watch

    assert may_watch(instructor, session)
    assert not may_watch(other_instructor, session)
    assert not may_watch(UserFactory(), session)
    lone = LabSession.objects.create(
        user=ana.user, lab=lab.__class__.objects.get(key="lone-lab"), state="ready"
    )
    assert not may_watch(instructor, lone)  # not one of the workshop's labs


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_watch_page_is_for_the_workshops_instructors_only(workshop, instructor, language):
    ana, bea = _attendee(workshop), _attendee(workshop, "Bea")
    lab = workshop.ordered_labs()[0]
    LabSession.objects.create(user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={})
    page = _client(instructor).get(url("watch", language, pk=workshop.pk, attendee_id=ana.pk))
    assert page.status_code == 200
    assert "data-terminal-url" in page.content.decode()
    # Bea has no session: nothing to watch.
    assert (
        _client(instructor)
        .get(url("watch", language, pk=workshop.pk, attendee_id=bea.pk))
        .status_code
        == 404
    )
    for stranger in (make_instructor(), bea.user):
        response = _client(stranger).get(url("watch", language, pk=workshop.pk, attendee_id=ana.pk))
        assert response.status_code == 404


@pytest.mark.django_db
def test_the_room_bar_shows_only_to_attendees_of_an_open_workshop(workshop, instructor):
    from django.template import engines
    from django.test import RequestFactory

    from academy.workshops.models import Workshop

    ana = _attendee(workshop)
    board.announcement_send(workshop=workshop, by=instructor, text="<script>x</script> hola")
    template = engines["django"].from_string(
        '{% include "workshops/_room_bar.html" with compact=True %}'
    )

    def render(user) -> str:
        request = RequestFactory().get("/")
        request.user = user
        return template.render({"request": request}, request)

    html = render(ana.user)
    assert "room-bar card is-compact" in html
    assert f"/ws/workshops/{workshop.pk}/room/" in html
    assert "&lt;script&gt;x&lt;/script&gt; hola" in html and "<script>x" not in html
    assert "room-bar" not in render(UserFactory())
    assert "room-bar" not in render(instructor)
    Workshop.objects.filter(pk=workshop.pk).update(state=Workshop.State.ENDED)
    assert "room-bar" not in render(ana.user)
