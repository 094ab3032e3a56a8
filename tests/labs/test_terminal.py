"""The browser terminal's websocket, end to end: the ASGI application, a real session on the
real engine, its shell in tmux."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from academy.asgi import application
from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import Lab, LabSession
from labs.terminal import HISTORY_BYTES, HISTORY_LINES, MAX_FRAME
from tests.event_loops import run_on_new_loop
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture
def tiny_lab(tmp_path, lab_images) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


@pytest.fixture
def make_session(tiny_lab):
    """A READY session with a real sandbox, provisioned here (no worker needed)."""
    made: list[LabSession] = []

    def make(user) -> LabSession:
        session = LabSession.objects.create(lab=tiny_lab, user=user, state=State.PROVISIONING)
        made.append(session)
        services.lab_session_provision(session=session)
        session.refresh_from_db()
        assert session.state == State.READY, session.error
        return session

    yield make
    for session in made:
        services.lab_session_stop(session=session)


def cookie_for(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def websocket(path: str, headers: list[tuple[bytes, bytes]]) -> ApplicationCommunicator:
    """The application behind a websocket (what channels.testing.WebsocketCommunicator wraps;
    that module needs daphne, which this project does not use)."""
    path, _, query = path.partition("?")
    scope = {
        "type": "websocket",
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
        "subprotocols": [],
    }
    return ApplicationCommunicator(application, scope)


def communicator(session: LabSession, *headers: tuple[bytes, bytes], query: str = ""):
    return websocket(f"/ws/labs/sessions/{session.pk}/terminal/{query}", [ORIGIN, *headers])


async def connect(connection: ApplicationCommunicator) -> bool:
    """True when the handshake was accepted."""
    await connection.send_input({"type": "websocket.connect"})
    return (await connection.receive_output(10))["type"] == "websocket.accept"


class Screen:
    """What one websocket shows: output bytes, the hello message, and how it closed."""

    def __init__(self, connection: ApplicationCommunicator) -> None:
        self.connection = connection
        self.output = b""
        self.hello: dict | None = None
        self.closed: tuple[int, str] | None = None

    async def open(self) -> Screen:
        assert await connect(self.connection)
        return self

    async def _next(self, timeout: float) -> None:
        # Not receive_output(timeout): when its timeout runs out, asgiref cancels the
        # application itself (the CancelledError of a loaded machine's slower answers), so a
        # wait that is allowed to end empty-handed must not use it.
        if self.connection.future.done():
            self.connection.future.result()  # the application failed: say how
        message = await asyncio.wait_for(self.connection.receive_output(None), timeout)
        if message["type"] == "websocket.close":
            self.closed = (message.get("code", 1000), message.get("reason", ""))
        elif "bytes" in message:
            self.output += message["bytes"]
        else:
            self.hello = json.loads(message["text"])

    async def until(self, marker: bytes, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.output:
            assert self.closed is None, f"closed {self.closed} before {marker!r}"
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{marker!r} never came; got {self.output[-400:]!r}"
            with contextlib.suppress(TimeoutError):
                await self._next(remaining)
        return self.output

    async def until_closed(self, timeout: float = 20) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.closed is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the terminal was never closed"
            with contextlib.suppress(TimeoutError):
                await self._next(remaining)
        return self.closed

    async def send(self, *, text: str | None = None, data: bytes | None = None) -> None:
        if text is not None:
            await self.connection.send_input({"type": "websocket.receive", "text": text})
        else:
            await self.connection.send_input({"type": "websocket.receive", "bytes": data})

    async def type(self, keys: str) -> None:
        await self.send(data=keys.encode())

    async def prompt(self) -> None:
        await self.until(b"learner@toolbox:~$ ")

    async def hang_up(self) -> None:
        await self.connection.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.connection.wait(5)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs an async test scenario on an event loop of its own (tests/event_loops.py)."""
    run_on_new_loop(scenario())


def tmux_clients(session: LabSession, *, wait_for_none: float = 10) -> list[str]:
    """The tmux clients attached in the shell container, once there are none (or time is up):
    a client detaches a moment after its websocket has closed."""
    deadline = time.monotonic() + wait_for_none
    while True:
        result = runtime.sandbox_exec(
            container_id=session.sandbox["containers"]["toolbox"],
            command=["tmux", "list-clients", "-F", "#{client_tty}"],
            user="learner",
            timeout=10,
        )
        clients = result.output.split()
        if not clients or time.monotonic() > deadline:
            return clients
        time.sleep(0.1)


def test_the_owner_gets_a_shell_and_an_echo_round_trip(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        assert screen.hello == {"type": "hello", "read_only": False, "tab": 1, "tabs": 4}
        await screen.type("echo hello-$((40 + 2)) $TERM\r")
        await screen.until(b"hello-42 tmux-256color")
        await screen.hang_up()

    run(scenario)
    assert tmux_clients(session) == []  # a closed websocket leaves no tmux client behind


def test_a_learner_who_unbinds_the_detach_key_still_leaves_no_client_behind(make_session):
    """The learner owns the shell, and so tmux: unbinding the key a closing connection sends
    must not let reconnects pile up tmux clients (and engine execs) in the container."""
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        for attempt in range(3):
            screen = await Screen(communicator(session, cookie)).open()
            await screen.prompt()
            await screen.type(f"tmux unbind-key -n User0; echo unbound-{attempt}$((1 + 1))\r")
            await screen.until(f"unbound-{attempt}2".encode())
            await screen.type("env | grep -c ACADEMY_TERMINAL; echo counted\r")
            await screen.until(b"0\r\ncounted")  # the client's mark is not the shell's
            await screen.hang_up()

    run(scenario)
    assert tmux_clients(session) == []


def test_resize_reaches_the_shell(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = communicator(session, cookie, query="?cols=100&rows=30")
        screen = await Screen(screen).open()
        await screen.prompt()
        await screen.type("stty size\r")
        await screen.until(b"30 100")
        await screen.send(text=json.dumps({"type": "resize", "cols": 120, "rows": 40}))
        # The TTY takes the new size at once; tmux passes it to the shell's pane a moment later.
        for _ in range(20):
            await screen.type("stty size\r")
            with contextlib.suppress(AssertionError):
                await screen.until(b"40 120", timeout=0.5)
                break
        await screen.until(b"40 120")
        # Bad sizes and unknown control messages are ignored; the shell goes on.
        await screen.send(text=json.dumps({"type": "resize", "cols": 10**6, "rows": "x"}))
        await screen.send(text="not json")
        await screen.type("stty size; echo checked-$((2 + 3))\r")
        await screen.until(b"checked-5")
        assert screen.output.count(b"40 120") >= 2
        await screen.hang_up()

    run(scenario)


def test_a_second_tab_and_a_reconnect_share_the_same_shell(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        first = await Screen(communicator(session, cookie)).open()
        await first.prompt()
        await first.type("export SHARED=value-$((6 * 7))\r")
        second = await Screen(communicator(session, cookie)).open()
        await second.prompt()
        await second.type("echo got:$SHARED\r")
        await second.until(b"got:value-42")
        await first.until(b"got:value-42")  # the first tab sees the same screen
        await first.hang_up()
        await second.hang_up()
        again = await Screen(communicator(session, cookie)).open()
        await again.prompt()
        await again.type("echo again:$SHARED\r")
        await again.until(b"again:value-42")
        await again.type("exit\r")  # the shell ends: a reconnect starts a new one
        assert await again.until_closed() == (1000, "The shell has exited.")
        await again.hang_up()
        fresh = await Screen(communicator(session, cookie)).open()
        await fresh.prompt()
        await fresh.type("echo fresh:${SHARED:-unset}\r")
        await fresh.until(b"fresh:unset")
        await fresh.hang_up()

    run(scenario)
    assert tmux_clients(session) == []


def tmux_sessions(session: LabSession) -> list[str]:
    result = runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["sh", "-c", "tmux list-sessions -F '#{session_name}' 2>/dev/null; true"],
        user="learner",
        timeout=10,
    )
    return sorted(result.output.split())


def test_two_tabs_are_two_shells_and_each_survives_a_reconnect(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        one = await Screen(communicator(session, cookie, query="?tab=1")).open()
        await one.prompt()
        assert one.hello == {"type": "hello", "read_only": False, "tab": 1, "tabs": 4}
        await one.type("export WHERE=tab-one; cd /tmp\r")
        two = await Screen(communicator(session, cookie, query="?tab=2")).open()
        await two.prompt()
        assert two.hello["tab"] == 2
        await two.type("export KEPT=two-$((2 * 21)); echo seen:${WHERE:-unset} $PWD\r")
        await two.until(b"seen:unset /home/learner")  # not tab 1's variable or directory
        assert b"seen:unset" not in one.output  # nor its screen
        await two.hang_up()
        again = await Screen(communicator(session, cookie, query="?tab=2")).open()
        await again.prompt()
        await again.type("echo again:$KEPT\r")
        await again.until(b"again:two-42")
        await one.type("echo one:$WHERE:${KEPT:-unset}\r")
        await one.until(b"one:tab-one:unset")
        await again.hang_up()
        await one.hang_up()

    run(scenario)
    assert tmux_sessions(session) == ["lab", "lab-2"]
    assert tmux_clients(session) == []


FORGED_TABS = ["0", "5", "999", "abc", "-1", "+2", "02", "1.0", "2&tab=3", "", "9" * 40]


def test_a_forged_tab_is_refused_before_it_takes_a_place_or_starts_a_shell(make_session, settings):
    settings.LAB_MAX_TERMINALS_PER_USER = 1
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        for tab in FORGED_TABS:
            screen = await Screen(communicator(session, cookie, query=f"?tab={tab}")).open()
            closed = await screen.until_closed()
            assert closed == (4004, "There is no such terminal tab."), tab
            assert screen.output == b"" and screen.hello is None
        assert await asyncio.to_thread(tmux_sessions, session) == []  # no shell started
        # None of them kept a place: the user's only one is still free.
        screen = await Screen(communicator(session, cookie, query="?tab=4")).open()
        await screen.prompt()
        assert screen.hello["tab"] == 4
        await screen.hang_up()

    run(scenario)


def test_closing_a_tab_ends_its_shell_but_tab_one_stays(make_session):
    learner, staff = UserFactory(), UserFactory(is_staff=True)
    session = make_session(learner)
    cookie, staff_cookie = cookie_for(learner), cookie_for(staff)

    async def scenario():
        one = await Screen(communicator(session, cookie, query="?tab=1")).open()
        await one.prompt()
        two = await Screen(communicator(session, cookie, query="?tab=2")).open()
        await two.prompt()
        await two.type("export GONE=yes\r")
        # A watcher cannot close the learner's tab; tab 1 cannot be closed at all.
        watcher = await Screen(communicator(session, staff_cookie, query="?tab=2")).open()
        await watcher.until(b"learner@toolbox:~$ ")
        await watcher.send(text=json.dumps({"type": "close-tab"}))
        await one.send(text=json.dumps({"type": "close-tab"}))
        await one.type("echo one-$((5 + 5))\r")
        await one.until(b"one-10")
        await two.type("echo two-$((5 + 6))\r")
        await two.until(b"two-11")
        assert one.closed is None and two.closed is None and watcher.closed is None

        await two.send(text=json.dumps({"type": "close-tab"}))
        assert await two.until_closed() == (1000, "The terminal tab was closed.")
        assert (await watcher.until_closed())[0] == 1000  # its shell has ended
        await two.hang_up()
        await watcher.hang_up()
        assert await asyncio.to_thread(tmux_sessions, session) == ["lab"]
        fresh = await Screen(communicator(session, cookie, query="?tab=2")).open()
        await fresh.prompt()
        await fresh.type("echo fresh:${GONE:-unset}\r")
        await fresh.until(b"fresh:unset")  # a new shell, not the closed one
        await fresh.hang_up()
        await one.hang_up()

    run(scenario)


def test_a_reload_gets_the_history_once_and_a_reconnect_none(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)
    query = "?tab=2&cols=80&rows=10"

    async def scenario():
        first = await Screen(communicator(session, cookie, query=query + "&history=1")).open()
        await first.prompt()  # a new shell: no history to send
        assert first.output.startswith(b"\x1b")  # tmux's own drawing first
        # One marker scrolls off the 10-row screen into tmux's history, one stays on screen.
        await first.type("echo early-$((6 * 7)); seq 1 30; echo late-$((6 * 8))\r")
        await first.until(b"late-48")
        await first.hang_up()

        reloaded = await Screen(communicator(session, cookie, query=query + "&history=1")).open()
        await reloaded.prompt()
        await reloaded.type("echo settled-$((1 + 1))\r")
        await reloaded.until(b"settled-2")
        # The history holds the line that left the screen, once; tmux draws the screen (the
        # other marker) in place, from its top-left corner, over the blank lines below it.
        history, _, drawn = reloaded.output.partition(b"\x1b[H")
        assert history.count(b"early-42") == 1 and b"late-48" not in history
        assert b"\x1b[0m" + b"\r\n" * 10 in history  # then scrolled into the scrollback
        assert b"early-42" not in drawn and b"late-48" in drawn
        await reloaded.hang_up()

        reconnected = await Screen(communicator(session, cookie, query=query)).open()
        await reconnected.prompt()
        await reconnected.type("echo settled-$((1 + 2))\r")
        await reconnected.until(b"settled-3")
        assert b"early-42" not in reconnected.output  # the page still shows it
        assert b"late-48" in reconnected.output.partition(b"\x1b[H")[2]  # only drawn
        await reconnected.hang_up()

    run(scenario)


def test_the_history_is_bounded_in_lines_and_bytes_and_starts_with_a_whole_line(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)
    query = "?tab=3&cols=200&rows=10"

    async def reload_history() -> bytes:
        screen = await Screen(communicator(session, cookie, query=query + "&history=1")).open()
        await screen.prompt()
        await screen.hang_up()
        return screen.output.partition(b"\x1b[H")[0]

    async def scenario():
        first = await Screen(communicator(session, cookie, query=query)).open()
        await first.prompt()
        # Short lines: more than HISTORY_LINES of them.
        await first.type("seq 1 5000; echo short-$((1 + 1))\r")
        await first.until(b"short-2")
        await first.hang_up()
        history = await reload_history()
        lines = history.split(b"\x1b[0m")[0].split(b"\r\n")
        assert len(lines) == HISTORY_LINES
        assert lines[-1] == b"4992"  # the last one above the 10-row screen

        again = await Screen(communicator(session, cookie, query=query)).open()
        await again.prompt()
        # Long lines: more than HISTORY_BYTES of them; cut at a line, never inside one.
        await again.type("for i in $(seq 1 900); do printf '%05d-%0150d\\n' $i 0; done\r")
        await again.until(b"00900-")
        await again.hang_up()
        history = await reload_history()
        text = history.split(b"\x1b[0m")[0]
        assert HISTORY_BYTES - 200 < len(text) <= HISTORY_BYTES
        lines = text.split(b"\r\n")
        assert all(len(line) == 156 and line[5:6] == b"-" for line in lines), lines[0]
        numbers = [int(line[:5]) for line in lines]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # none twice

    run(scenario)


def test_four_tabs_and_a_reload_stay_within_the_terminal_limit(make_session, settings):
    settings.LAB_MAX_TERMINALS_PER_USER = 6
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def open_tabs() -> list[Screen]:
        screens = []
        for tab in range(1, 5):
            query = f"?tab={tab}&history=1"
            screens.append(await Screen(communicator(session, cookie, query=query)).open())
        for screen in screens:
            await screen.prompt()
        return screens

    async def scenario():
        page = await open_tabs()
        for screen in page:  # a reload: the page's sockets close, the new page opens its own
            await screen.hang_up()
        reloaded = await open_tabs()
        assert all(screen.closed is None for screen in reloaded)
        extra = [await Screen(communicator(session, cookie, query="?tab=1")).open()]
        extra.append(await Screen(communicator(session, cookie, query="?tab=2")).open())
        await extra[0].prompt()
        await extra[1].prompt()
        over = await Screen(communicator(session, cookie, query="?tab=3")).open()
        assert (await over.until_closed())[0] == 4029  # the seventh
        for screen in [*reloaded, *extra]:
            await screen.hang_up()

    run(scenario)


def test_staff_watch_read_only(make_session):
    learner, staff = UserFactory(), UserFactory(is_staff=True)
    session = make_session(learner)
    own_cookie, staff_cookie = cookie_for(learner), cookie_for(staff)

    async def scenario():
        own = await Screen(communicator(session, own_cookie)).open()
        await own.prompt()
        watcher = await Screen(communicator(session, staff_cookie)).open()
        await watcher.until(b"learner@toolbox:~$ ")
        assert watcher.hello == {"type": "hello", "read_only": True, "tab": 1, "tabs": 4}
        await watcher.type("touch /tmp/by-staff\r")
        await own.type("echo learner-$((1 + 1)); ls /tmp/by-staff\r")
        await own.until(b"No such file")
        await watcher.until(b"learner-2")
        await watcher.hang_up()
        await own.hang_up()

    run(scenario)


@pytest.mark.parametrize("who", ["anonymous", "someone else"])
def test_others_are_refused(make_session, who):
    session = make_session(UserFactory())
    headers = [] if who == "anonymous" else [cookie_for(UserFactory())]
    expected = 4001 if who == "anonymous" else 4003

    async def scenario():
        screen = await Screen(communicator(session, *headers)).open()
        code, reason = await screen.until_closed()
        assert code == expected and reason
        assert screen.output == b""

    run(scenario)


def test_a_session_that_does_not_exist_is_refused_like_someone_elses(db):
    cookie = cookie_for(UserFactory())

    async def scenario():
        connection = websocket("/ws/labs/sessions/999999/terminal/", [ORIGIN, cookie])
        screen = await Screen(connection).open()
        assert (await screen.until_closed())[0] == 4003

    run(scenario)


def test_another_origin_is_refused(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        path = f"/ws/labs/sessions/{session.pk}/terminal/"
        headers = [(b"origin", b"http://evil.example"), cookie]
        assert not await connect(websocket(path, headers))
        assert not await connect(websocket(path, [cookie]))  # no Origin at all

    run(scenario)


def test_a_session_that_is_not_running_is_refused(tiny_lab):
    user = UserFactory()
    session = LabSession.objects.create(lab=tiny_lab, user=user, state=State.REQUESTED)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        assert (await screen.until_closed())[0] == 4009

    run(scenario)


def test_an_oversized_frame_closes_the_terminal(make_session):
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        await screen.send(data=b"x" * MAX_FRAME)  # the largest allowed
        await screen.send(data=b"\x15")  # ^U: clear the line again
        await screen.send(data=b"y" * (MAX_FRAME + 1))
        code, _ = await screen.until_closed()
        assert code == 1009

    run(scenario)


def test_stopping_the_session_closes_the_terminal(make_session, settings):
    settings.LAB_TERMINAL_POLL_SECONDS = 600  # only the notice from services can close it
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        await database_sync_to_async(services.lab_session_stop)(session=session)
        assert (await screen.until_closed())[0] == 4010

    run(scenario)


def test_the_session_ended_notice_closes_the_terminal(make_session, settings):
    from channels.layers import get_channel_layer

    settings.LAB_TERMINAL_POLL_SECONDS = 600  # only the notice can close it
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        await get_channel_layer().group_send(f"lab-session-{session.pk}", {"type": "session.ended"})
        assert await screen.until_closed() == (4010, "The lab session has ended.")
        await screen.hang_up()

    run(scenario)
    assert tmux_clients(session) == []


def test_the_terminal_notices_the_end_of_a_session_by_itself(make_session, settings):
    settings.LAB_TERMINAL_POLL_SECONDS = 0.5
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        # An end that sends no notice (another process's in-memory layer, a lost message).
        await database_sync_to_async(LabSession.objects.filter(pk=session.pk).update)(
            state=State.EXPIRED
        )
        assert await screen.until_closed() == (4010, "The lab session has ended.")

    run(scenario)


def test_an_idle_terminal_is_closed(make_session, settings):
    settings.LAB_TERMINAL_IDLE_SECONDS = 1.5
    user = UserFactory()
    session = make_session(user)
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        await screen.prompt()
        await screen.type("echo still-$((2 * 4))\r")  # input resets the clock
        await screen.until(b"still-8")
        code, reason = await screen.until_closed()
        assert code == 4008 and "without input" in reason
        await screen.hang_up()

    run(scenario)
    assert tmux_clients(session) == []


@pytest.fixture
def live_server_url(transactional_db):
    """The ASGI application on uvicorn, in a thread of this process (and so on the test
    database): real websocket handshakes, frames and close frames."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_over_a_real_server(make_session, live_server_url, settings):
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    settings.LAB_TERMINAL_IDLE_SECONDS = 3
    user = UserFactory()
    session = make_session(user)
    name, value = cookie_for(user)
    url = f"ws://{live_server_url}/ws/labs/sessions/{session.pk}/terminal/?cols=90&rows=20"
    origin = f"http://{live_server_url}"

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(url, origin="http://evil.example", additional_headers={"Cookie": ""})
        assert refused.value.response.status_code == 403

        headers = {name.decode(): value.decode()}
        async with ws_connect(url, origin=origin, additional_headers=headers) as ws:
            hello = json.loads(await ws.recv())
            assert hello == {"type": "hello", "read_only": False, "tab": 1, "tabs": 4}
            output = b""
            await ws.send(b"stty size; echo wire-$((3 * 3))\r")
            while b"wire-9" not in output:
                frame = await asyncio.wait_for(ws.recv(), 10)
                assert isinstance(frame, bytes)  # output comes as binary frames
                output += frame
            assert b"20 90" in output
            with pytest.raises(ConnectionClosed) as closed:
                while True:  # nothing typed from here on: the idle timeout closes it
                    await asyncio.wait_for(ws.recv(), 15)
            assert closed.value.rcvd.code == 4008
            assert "without input" in closed.value.rcvd.reason

    run(scenario)
    assert tmux_clients(session) == []


def test_a_gateway_refuses_a_session_on_another_lab_host(tiny_lab):
    """Each host's terminal gateway reaches its own engine only: a session placed on another
    host is refused (4007) before any container id of that host is tried here."""
    user = UserFactory()
    session = LabSession.objects.create(
        lab=tiny_lab,
        user=user,
        state=State.READY,
        host="another-host",
        sandbox={"containers": {"toolbox": "0" * 64}},
        ready_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    cookie = cookie_for(user)

    async def scenario():
        screen = await Screen(communicator(session, cookie)).open()
        assert (await screen.until_closed())[0] == 4007

    run(scenario)
