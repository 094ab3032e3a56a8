"""The browser terminal: a websocket to the learner's shell in the lab's shell container.

``ws/labs/sessions/<session_id>/terminal/?tab=T&cols=N&rows=M&history=1``, all optional:
``tab`` the terminal tab, 1 to LAB_TERMINAL_TABS (1 when absent); ``cols`` and ``rows`` the
first size; ``history=1`` asks for the shell's recent history first (a page whose terminal is
still empty: a first load or a reload; a reconnect keeps what the page shows and omits it).

Browser to server:
    binary frame   keystrokes and pastes, as bytes (UTF-8), at most 64 KiB a frame
    text frame     a JSON control message: {"type": "resize", "cols": N, "rows": M}, or
                   {"type": "close-tab"}: ends this tab's shell for good (not tab 1's; not for
                   read-only watchers), then the terminal closes with 1000
Server to browser:
    text frame     first, once: {"type": "hello", "read_only": true|false, "tab": T, "tabs": max}
    binary frame   terminal output, raw bytes (a UTF-8 character may span two frames); with
                   ``history=1`` the first ones are the history, scrolled out of the screen

Each tab's shell runs in a tmux session of its own ("lab" for tab 1, "lab-T" for tab T), so
that a reload, a dropped connection or a second browser tab lands in the same shell, and the
tabs of one page are independent shells; tmux is set up to look like a plain shell. Staff (and
whoever a WATCH_RULES rule admits) may watch a learner's shell read-only, tab by tab. Each tab
is one open terminal for the limits.

Close codes: 4001 not signed in, 4003 not yours (or no such session), 4004 no such terminal tab
(``tab`` is not a number from 1 to LAB_TERMINAL_TABS), 4009 the session is not
running (also when a container of its sandbox dies while connected: until it is restored), 4008
idle for LAB_TERMINAL_IDLE_SECONDS, 4010 the session ended while connected, 4029 too many open
terminals for the user or the client address (LAB_MAX_TERMINALS_PER_USER, _ADDRESS), 1000 the
shell exited (a reconnect starts a new one), 1009 a frame over 64 KiB, 1011 the shell could not
be started or stopped taking input. Every close carries a short English reason for
logs and developer tools; the page shows its own translated texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from labs import runtime
from labs.models import LabSession
from labs.services import limits, session_is_running
from labs.services.access import running_q
from labs.services.hosts import session_host, this_host

if TYPE_CHECKING:
    from academy.accounts.models import User

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
SHELL_USER = "learner"
SHELL_HOME = "/home/learner"
TMUX_SESSION = "lab"  # tab 1's; tab T's is "lab-T"
# Written to tmux when a connection ends: tmux detaches that client, so that no tmux client is
# left behind in the container (the engine does not hang up an exec's TTY when its stream
# closes). No key produces it; tmux knows it as User0.
DETACH_KEY = b"\x1b[9999~"
# The key is the fast way; a client that missed it (the key arrived while tmux was busy, or the
# close was cut short under load) is found by the mark in its environment and detached by name.
CLIENT_MARK = "ACADEMY_TERMINAL"
DETACH_SCRIPT = """\
command -v tmux >/dev/null || exit 0
tmux list-clients -F '#{client_pid} #{client_tty}' 2>/dev/null | while read -r pid tty; do
    if tr '\\0' '\\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "$1=$2"; then
        tmux detach-client -t "$tty" 2>/dev/null
    fi
done
exit 0
"""
# Input budget: bursts of a few pastes, then 64 KiB/s. Each frame also costs 64 bytes, so that a
# flood of tiny frames is slowed too. A client over budget is slowed down, not disconnected.
INPUT_BURST = 256 * 1024
INPUT_RATE = 64 * 1024
FRAME_COST = 64
RESIZE_COST = 4 * 1024
WRITE_TIMEOUT = 10.0
# The history sent first to a page whose terminal is empty: at most this many lines, and of
# them at most this many bytes (escape sequences for colours included; under what one exec
# returns whole, labs.runtime's MAX_OUTPUT).
HISTORY_LINES = 2000
HISTORY_BYTES = 48 * 1024
HISTORY_TIMEOUT = 5.0
TAB_PATTERN = re.compile(r"[1-9][0-9]{0,2}")  # digits as the page writes them: no sign, no 0


class Close:
    NORMAL = 1000
    TOO_BIG = 1009
    SERVER_ERROR = 1011
    NOT_SIGNED_IN = 4001
    FORBIDDEN = 4003
    NO_SUCH_TAB = 4004
    OTHER_HOST = 4007
    IDLE = 4008
    NOT_RUNNING = 4009
    ENDED = 4010
    TOO_MANY = 4029


def tmux_session_name(tab: int) -> str:
    """Tab 1 keeps "lab", the name from before there were tabs, so that its shell lives on."""
    return TMUX_SESSION if tab == 1 else f"{TMUX_SESSION}-{tab}"


def tmux_command(
    *,
    read_only: bool,
    session: str = TMUX_SESSION,
    cols: int | None = None,
    rows: int | None = None,
) -> list[str]:
    """The shell: tmux's session ``session``, made or joined; a plain login shell without tmux.

    With ``cols`` and ``rows``, the TTY has its size before tmux starts: tmux would otherwise
    attach at the engine's 80x24 and draw its screen twice, and a first drawing taller than
    the browser's terminal scrolls lines into its scrollback a second time."""
    options = [
        ("-s", "escape-time", "0"),
        ("-s", "user-keys[0]", DETACH_KEY.decode()),
        # Draw on the normal screen, so that the browser terminal's scrollback works.
        ("-s", "terminal-overrides[0]", "xterm*:smcup@:rmcup@"),
        ("-g", "status", "off"),
        ("-g", "mouse", "off"),
        ("-g", "prefix", "None"),  # every key goes to the shell
        ("-g", "prefix2", "None"),
        ("-g", "history-limit", "10000"),
        ("-g", "set-titles", "off"),
        ("-g", "window-size", "latest"),  # two tabs of different sizes: the last one used
    ]
    tmux = ["tmux", "-u", "start-server", ";", "bind-key", "-n", "User0", "detach-client"]
    tmux += [";", "set-environment", "-g", "-u", CLIENT_MARK]  # the client's, not the shell's
    for flag, name, value in options:
        tmux += [";", "set-option", flag, name, value]
    tmux += [";", "new-session", "-A", "-s", session, "-c", SHELL_HOME]
    if read_only:
        tmux += ["-f", "read-only,ignore-size"]
    fallback = "command -v bash >/dev/null && exec bash -l; exec sh -l"
    script = f'if command -v tmux >/dev/null; then exec "$@"; fi; {fallback}'
    if type(cols) is int and type(rows) is int:  # numbers only ever, never text from a client
        script = f"stty cols {cols} rows {rows} 2>/dev/null; {script}"
    return ["sh", "-c", script, "sh", *tmux]


# Prints the last lines of a tmux session's history (not its screen, which tmux draws itself
# on attach), sized first as the new client will be (so that the attach moves no line between
# history and screen: none is shown twice or lost), then back to following its clients.
# Arguments: session, columns and rows (empty: keep the size), lines, bytes. "=name" matches
# exactly: a plain "lab" would also match "lab-2" when "lab" does not exist.
HISTORY_SCRIPT = """\
s=$1 cols=$2 rows=$3 lines=$4 bytes=$5
command -v tmux >/dev/null || exit 0
tmux has-session -t "=$s" 2>/dev/null || exit 0
if [ -n "$cols" ] && tmux resize-window -t "=$s:" -x "$cols" -y "$rows"; then
    trap 'tmux set-option -w -t "=$s:" -u window-size' EXIT
fi
h=$(tmux display-message -p -t "=$s:" '#{history_size}')
[ "${h:-0}" -gt 0 ] || exit 0
[ "$h" -gt "$lines" ] && h=$lines
tmux capture-pane -p -e -J -S "-$h" -E -1 -t "=$s:" | tail -c "$((bytes + 1))"
"""


def tmux_history(*, container_id: str, session: str, cols: int | None, rows: int | None) -> bytes:
    """The recent history of ``session`` as terminal output, ready for an empty xterm.js:
    its lines, then enough line feeds to scroll them all into the scrollback, so that tmux's
    redraw on attach (which clears the screen, not the scrollback) wipes none and repeats
    none. b"" when there is none (a new shell, no tmux, an error)."""
    size = [str(cols), str(rows)] if cols and rows else ["", ""]
    command = ["sh", "-c", HISTORY_SCRIPT, "sh", session, *size]
    command += [str(HISTORY_LINES), str(HISTORY_BYTES)]
    try:
        result = runtime.sandbox_exec(
            container_id=container_id, command=command, user=SHELL_USER, timeout=HISTORY_TIMEOUT
        )
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
        log.info("No history for terminal %s", session, exc_info=True)
        return b""
    if result.exit_code != 0:
        return b""
    data = result.output.encode()
    if len(data) > HISTORY_BYTES:  # cut by tail -c: the first line is a piece, left out
        data = data.partition(b"\n")[2]
    lines = data.rstrip(b"\n").replace(b"\n", b"\r\n")
    if len(lines) > HISTORY_BYTES:  # the carriage returns made it longer: whole lines out
        cut = lines.find(b"\r\n", len(lines) - HISTORY_BYTES - 2)
        lines = lines[cut + 2 :] if cut != -1 else b""
    if not lines:
        return b""
    # Colours and modes off at the end, so that the redraw starts clean.
    return lines + b"\x1b[0m" + b"\r\n" * (rows or 24)


class TokenBucket:
    """A budget that refills at ``rate`` per second up to ``burst``."""

    def __init__(self, *, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, time.monotonic()

    def wait_for(self, cost: float) -> float:
        """Takes ``cost`` tokens, borrowing if need be; returns the seconds to wait first."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= cost
        return max(0.0, -self.tokens / self.rate)


def _detach_client(container_id: str, mark: str) -> None:
    """Detaches the tmux client marked ``mark`` if it is still attached (best effort)."""
    try:
        runtime.sandbox_exec(
            container_id=container_id,
            command=["sh", "-c", DETACH_SCRIPT, "sh", CLIENT_MARK, mark],
            user=SHELL_USER,
            timeout=10,
        )
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
        log.info("Terminal in %s: no detach after close", container_id, exc_info=True)


@database_sync_to_async
def _load_session(session_id: int) -> LabSession | None:
    return LabSession.objects.select_related("lab").filter(pk=session_id).first()


@database_sync_to_async
def _still_running(session_id: int) -> bool:
    return LabSession.objects.filter(running_q(), pk=session_id).exists()


@database_sync_to_async
def _broken(session_id: int) -> bool:
    """The session lives on, but a container of its sandbox died (labs.services.health)."""
    return LabSession.objects.live().filter(pk=session_id).exclude(problem={}).exists()


# Who besides staff may watch a learner's shell read-only: rules (user, session) -> bool that
# other apps register (academy.workshops: a workshop's instructors, its attendees' sessions),
# and listeners (session, user, watching) told when a watcher comes and goes, so that the
# learner can be shown they are watched. Both run in a worker thread; labs imports no app.
WATCH_RULES: list[Callable[[User, LabSession], bool]] = []
WATCH_LISTENERS: list[Callable[[LabSession, User, bool], None]] = []


def may_watch(user: User, session: LabSession) -> bool:
    return bool(user.is_staff) or any(rule(user, session) for rule in WATCH_RULES)


def _watch_told(session: LabSession, user: User, watching: bool) -> None:
    for listener in WATCH_LISTENERS:
        try:
            listener(session, user, watching)
        except Exception:  # a missed indicator never breaks the terminal
            log.warning("Watch listener failed for session %s", session.pk, exc_info=True)


def _is_running(session: LabSession) -> bool:
    return session_is_running(session)


class TerminalLease(TypedDict):
    """The arguments of labs.services.limits' terminal_lease_* for one open terminal."""

    holder: str
    user_id: int
    address: str


class TerminalConsumer(AsyncWebsocketConsumer):
    terminal: runtime.Terminal | None = None
    read_only = False
    tab = 1
    tmux_session = TMUX_SESSION
    container_id = ""
    closing_tab = False
    ended = False
    lease: TerminalLease | None = None  # this terminal's place among the user's and the address's
    watched_session: LabSession | None = None
    watch_told = False  # the learner was told that this watcher came: tell them it went

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.group = f"lab-session-{self.session_id}"
        self.tasks: list[asyncio.Task[None]] = []
        self.bucket = TokenBucket(rate=INPUT_RATE, burst=INPUT_BURST)
        self.last_input = time.monotonic()
        self.size: tuple[int, int] | None = None
        # Accepted first, so that a refused browser still gets the close code and reason.
        await self.accept()
        container_id = await self._admit()
        if container_id is None:
            return
        tab = self._query_tab()
        if tab is None:
            await self.end(Close.NO_SUCH_TAB, "There is no such terminal tab.")
            return
        self.tab, self.tmux_session = tab, tmux_session_name(tab)
        self.container_id = container_id
        lease: TerminalLease = {
            "holder": uuid.uuid4().hex,
            "user_id": self.user.pk,
            "address": limits.scope_client_address(self.scope),
        }
        if not await asyncio.to_thread(limits.terminal_lease_take, **lease):
            await self.end(Close.TOO_MANY, "Too many terminals are open.")
            return
        self.lease = lease
        self.mark = uuid.uuid4().hex  # names this connection's tmux client in the container
        cols, rows = self._query_size()
        history = b""
        if self._query_flag("history"):
            # Before the attach: tmux then draws the screen below it. A watcher's size is not
            # the window's (ignore-size): its history comes at the window's own size.
            sized = (None, None) if self.read_only else (cols, rows)
            history = await asyncio.to_thread(
                tmux_history,
                container_id=container_id,
                session=self.tmux_session,
                cols=sized[0],
                rows=sized[1],
            )
        try:
            self.terminal = await asyncio.to_thread(
                runtime.terminal_open,
                container_id=container_id,
                command=tmux_command(
                    read_only=self.read_only, session=self.tmux_session, cols=cols, rows=rows
                ),
                user=SHELL_USER,
                workdir=SHELL_HOME,
                environment={CLIENT_MARK: self.mark},
                cols=cols,
                rows=rows,
            )
        except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
            log.exception("Could not open the terminal of lab session %s", self.session_id)
            await self.end(Close.SERVER_ERROR, "The lab's shell could not be started.")
            return
        self.size = (cols, rows) if cols and rows else None
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception:  # without the layer, the poll still notices the end
            log.warning("Terminal %s: no channel layer group", self.session_id, exc_info=True)
        hello = {
            "type": "hello",
            "read_only": self.read_only,
            "tab": self.tab,
            "tabs": settings.LAB_TERMINAL_TABS,
        }
        await self.send(text_data=json.dumps(hello))
        if self.watched_session is not None:
            self.watch_told = True
            await database_sync_to_async(_watch_told)(self.watched_session, self.user, True)
        if history:  # sent before the pump starts: it comes before tmux's first drawing
            await self.send(bytes_data=history)
        self.tasks = [
            asyncio.create_task(self._pump_output()),
            asyncio.create_task(self._watch()),
        ]

    async def _admit(self) -> str | None:
        """The id of the session's shell container; None once the connection has been refused."""
        scope_user = self.scope.get("user")
        if scope_user is None or not scope_user.is_authenticated:
            await self.end(Close.NOT_SIGNED_IN, "Sign in to use the terminal.")
            return None
        # channels' AuthMiddleware: a lazy proxy of the signed-in AUTH_USER_MODEL row.
        user = self.user = cast("User", scope_user)
        session = await _load_session(self.session_id)
        if session is None or (
            session.user_id != user.pk
            and not await database_sync_to_async(may_watch)(user, session)
        ):
            await self.end(Close.FORBIDDEN, "This lab session is not yours.")
            return None
        self.read_only = session.user_id != user.pk  # a watcher (staff, an instructor)
        self.watched_session = session if self.read_only else None
        containers = session.sandbox.get("containers") or {}
        if not _is_running(session) or session.lab.shell_container not in containers:
            await self.end(Close.NOT_RUNNING, "This lab session is not running.")
            return None
        if session_host(session) != this_host():
            # Each lab host's gateway reaches its own engine only (labs/services/hosts.py):
            # a container id from another host's engine must never be tried here.
            await self.end(Close.OTHER_HOST, "This lab session runs on another lab host.")
            return None
        return str(containers[session.lab.shell_container])

    def _query(self) -> dict[str, list[str]]:
        return parse_qs(
            self.scope.get("query_string", b"").decode(errors="replace"), keep_blank_values=True
        )

    def _query_tab(self) -> int | None:
        """The tab asked for: 1 when none is named, None when the value is not a tab."""
        values = self._query().get("tab")
        if values is None:
            return 1
        if len(values) != 1 or not TAB_PATTERN.fullmatch(values[0]):
            return None
        tab = int(values[0])
        return tab if tab <= settings.LAB_TERMINAL_TABS else None

    def _query_flag(self, name: str) -> bool:
        return self._query().get(name) == ["1"]

    def _query_size(self) -> tuple[int | None, int | None]:
        query = self._query()
        try:
            cols, rows = int(query["cols"][0]), int(query["rows"][0])
        except (KeyError, ValueError):
            return None, None
        if not (1 <= cols <= runtime.MAX_TERMINAL_SIZE and 1 <= rows <= runtime.MAX_TERMINAL_SIZE):
            return None, None
        return cols, rows

    # --- Browser to shell ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.terminal is None or self.ended:
            return
        size = len(bytes_data) if bytes_data is not None else len((text_data or "").encode())
        if size > MAX_FRAME:
            await self.end(Close.TOO_BIG, "A message was larger than 64 KiB.")
            return
        if bytes_data is not None:
            if self.read_only:
                return
            await self._throttle(len(bytes_data) + FRAME_COST)
            self.last_input = time.monotonic()
            await self._write(bytes_data)
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return  # not a control message: ignored, never typed into the shell
        if not isinstance(message, dict):
            return
        if message.get("type") == "resize":
            await self._resize(message.get("cols"), message.get("rows"))
        elif message.get("type") == "close-tab":
            await self._close_tab()

    async def _close_tab(self) -> None:
        """Ends this tab's shell for good: the learner closed the tab. Tab 1 stays (its shell
        ends with exit), and a watcher may not end a learner's shell."""
        if self.read_only or self.tab == 1:
            return
        await self._throttle(RESIZE_COST)
        self.closing_tab = True  # the shell's end that follows is this close, not an exit
        try:
            await asyncio.to_thread(
                runtime.sandbox_exec,
                container_id=self.container_id,
                command=["tmux", "kill-session", "-t", f"={self.tmux_session}"],
                user=SHELL_USER,
                timeout=HISTORY_TIMEOUT,
            )
        except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
            log.info("Terminal %s: tab %s not closed", self.session_id, self.tab, exc_info=True)
        await self.end(Close.NORMAL, "The terminal tab was closed.")

    async def _throttle(self, cost: float) -> None:
        delay = self.bucket.wait_for(cost)
        if delay:
            await asyncio.sleep(delay)

    async def _write(self, data: bytes) -> None:
        terminal = self.terminal
        assert terminal is not None
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_TIMEOUT
        try:
            while view:
                view = view[terminal.write_nowait(view) :]
                if view:
                    if time.monotonic() > deadline:
                        await self.end(Close.SERVER_ERROR, "The shell takes no input.")
                        return
                    await self._wait_fd(terminal.fileno(), writable=True, timeout=1.0)
        except runtime.RuntimeFailure:
            await self._shell_gone()

    async def _resize(self, cols: object, rows: object) -> None:
        valid = range(1, runtime.MAX_TERMINAL_SIZE + 1)
        if not (type(cols) is int and type(rows) is int and cols in valid and rows in valid):
            return
        if (cols, rows) == self.size or self.terminal is None:
            return
        await self._throttle(RESIZE_COST)
        self.size = (cols, rows)
        try:
            await asyncio.to_thread(self.terminal.resize, cols=cols, rows=rows)
        except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
            log.info("Terminal %s: resize failed", self.session_id, exc_info=True)

    # --- Shell to browser ----------------------------------------------------------------------

    async def _pump_output(self) -> None:
        terminal = self.terminal
        assert terminal is not None
        while True:
            data = terminal.read_nowait()
            if data is None:
                await self._wait_fd(terminal.fileno(), writable=False)
            elif data:
                try:
                    await self.send(bytes_data=data)
                except Exception:  # the browser has gone: its disconnect cleans up
                    return
            else:
                break
        await self._shell_gone()

    async def _shell_gone(self) -> None:
        """The shell's stream ended: the learner typed exit, or the session's containers went."""
        if self.ended or self.closing_tab:
            return
        if await _still_running(self.session_id):
            await self.end(Close.NORMAL, "The shell has exited.")
        else:
            await self._not_running()

    async def _not_running(self) -> None:
        """Closes a terminal whose session stopped running: ended, or broken until restored."""
        if await _broken(self.session_id):
            await self.end(Close.NOT_RUNNING, "The lab's containers stopped; restore the lab.")
        else:
            await self.end(Close.ENDED, "The lab session has ended.")

    @staticmethod
    async def _wait_fd(fd: int, *, writable: bool, timeout: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        if writable:
            loop.add_writer(fd, wake)
        else:
            loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            pass
        finally:
            (loop.remove_writer if writable else loop.remove_reader)(fd)

    # --- Ends -----------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Closes the terminal when its session ends (polled) or when nobody types for long."""
        idle = float(settings.LAB_TERMINAL_IDLE_SECONDS)
        poll = float(settings.LAB_TERMINAL_POLL_SECONDS)
        next_poll = time.monotonic() + poll
        while not self.ended:
            now = time.monotonic()
            await asyncio.sleep(max(0.0, min(next_poll, self.last_input + idle) - now))
            now = time.monotonic()
            if now >= self.last_input + idle:
                minutes = f"{idle / 60:g} minutes" if idle >= 60 else f"{idle:g} seconds"
                await self.end(Close.IDLE, f"Closed after {minutes} without input.")
                return
            if now >= next_poll:
                if not await _still_running(self.session_id):
                    await self._not_running()
                    return
                if self.lease is not None:
                    await asyncio.to_thread(limits.terminal_lease_renew, **self.lease)
                next_poll = time.monotonic() + poll

    async def session_ended(self, event: dict[str, Any]) -> None:
        """Sent by labs.services to the group ``lab-session-<id>`` when the session ends."""
        await self.end(Close.ENDED, "The lab session has ended.")

    async def end(self, code: int, reason: str) -> None:
        """Closes the websocket with ``code`` and lets go of the shell. Idempotent."""
        if self.ended:
            return
        self.ended = True
        await self.close(code=code, reason=reason)
        await self._release()

    async def disconnect(self, code: int) -> None:
        self.ended = True
        await self._release()

    async def _release(self) -> None:
        current = asyncio.current_task()
        others = [task for task in self.tasks if task is not current]
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        terminal, self.terminal = self.terminal, None
        if terminal is not None:
            with contextlib.suppress(runtime.RuntimeFailure):
                terminal.write_nowait(DETACH_KEY)  # tmux lets go of this client
            terminal.close()
            await asyncio.to_thread(_detach_client, self.container_id, self.mark)
        with contextlib.suppress(Exception):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.watch_told and self.watched_session is not None:
            self.watch_told = False
            await database_sync_to_async(_watch_told)(self.watched_session, self.user, False)
        lease, self.lease = self.lease, None
        if lease is not None:
            await asyncio.to_thread(limits.terminal_lease_give_back, **lease)
