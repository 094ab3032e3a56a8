"""Interactive terminals: a process with a TTY in a container, as a raw byte stream both ways.

    terminal = terminal_open(container_id=..., command=["bash", "-l"], user="learner",
                             workdir="/home/learner", cols=120, rows=40)
    terminal.write(b"echo hello\\r")
    terminal.read_nowait()      # b"..." output, None when nothing is waiting, b"" at the end
    terminal.resize(cols=100, rows=30)
    terminal.close()

The stream is the engine's hijacked HTTP connection. Its socket is non-blocking: an event loop
waits on ``fileno()`` (``loop.add_reader``) and then calls ``read_nowait()`` until it returns
None; a thread may call ``read(timeout)`` instead. With a TTY there is no stdout/stderr framing.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Mapping, Sequence

import docker.errors
from requests import Response

from labs.runtime.engine import RuntimeFailure, client, engine_errors
from labs.runtime.stream import AGAIN, HijackedStream, exec_start_hijacked, take_socket

# Errors that mean "try again later" on a non-blocking socket, TLS included.
MAX_TERMINAL_SIZE = 1000  # columns or rows; anything bigger is a mistake or an attack


class Terminal(HijackedStream):
    """One interactive exec session. Not thread-safe: one reader and one writer at most."""

    def __init__(
        self, *, exec_id: str, response: Response, sock: socket.socket, pending: bytes
    ) -> None:
        self.exec_id = exec_id
        super().__init__(response=response, sock=sock)
        self._pending = pending  # output that arrived with the HTTP headers

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_nowait(self, size: int = 65536) -> bytes | None:
        """Output: bytes, None when nothing is waiting, b"" when the stream has ended.

        Call it until it returns None before waiting on ``fileno()`` again: TLS may hold
        decrypted bytes that the file descriptor does not announce.
        """
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self.closed:
            return b""
        try:
            return self._sock.recv(size)
        except AGAIN:
            return None
        except OSError:  # reset by the engine: the stream is over
            return b""

    def read(self, timeout: float, size: int = 65536) -> bytes | None:
        """Blocking read for threads and tests: None when nothing came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.read_nowait(size)
            remaining = deadline - time.monotonic()
            if data is not None or remaining <= 0:
                return data
            select.select([self._sock], [], [], remaining)

    def write_nowait(self, data: bytes | memoryview) -> int:
        """Sends what the socket takes now; returns how many bytes (0 when it is full)."""
        if self.closed:
            raise RuntimeFailure("The terminal is closed.")
        try:
            return self._sock.send(data)
        except AGAIN:
            return 0
        except OSError as exc:
            raise RuntimeFailure(f"The terminal's connection is gone: {exc}") from exc

    def write(self, data: bytes, timeout: float = 10.0) -> None:
        """Sends all of ``data`` (keystrokes, a paste), waiting at most ``timeout`` seconds."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            view = view[self.write_nowait(view) :]
            remaining = deadline - time.monotonic()
            if view and remaining <= 0:
                raise RuntimeFailure("The terminal does not take input (its buffer is full).")
            if view:
                select.select([], [self._sock], [], remaining)

    def resize(self, *, cols: int, rows: int) -> None:
        """Sets the TTY's size; the process gets SIGWINCH."""
        if not (1 <= cols <= MAX_TERMINAL_SIZE and 1 <= rows <= MAX_TERMINAL_SIZE):
            raise ValueError(f"Terminal size {cols}x{rows} is out of range.")
        api = client().api
        # Right after the start the engine may not have the process yet: retry briefly, as
        # the docker CLI does.
        for attempt in range(10):
            try:
                with engine_errors():
                    api.exec_resize(self.exec_id, height=rows, width=cols)
                return
            except RuntimeFailure:
                if attempt == 9 or self.closed:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def exit_code(self) -> int | None:
        """The process's exit code, or None while it runs."""
        with engine_errors():
            state = client().api.exec_inspect(self.exec_id)
        return None if state.get("Running") else state.get("ExitCode")


def terminal_open(
    *,
    container_id: str,
    command: Sequence[str],
    user: str,
    workdir: str | None = None,
    environment: Mapping[str, str] | None = None,
    cols: int | None = None,
    rows: int | None = None,
) -> Terminal:
    """Starts ``command`` in the container with a TTY, as ``user``, and returns its terminal.

    TERM is xterm-256color (the browser terminal is xterm.js) unless ``environment`` says
    otherwise. Raises RuntimeFailure when the container is gone or not running.
    """
    if not command:
        raise ValueError("command must not be empty.")
    api = client().api
    with engine_errors():
        try:
            exec_id = api.exec_create(
                container_id,
                list(command),
                user=user,
                environment={"TERM": "xterm-256color", **(environment or {})},
                workdir=workdir,
                stdin=True,
                stdout=True,
                stderr=True,
                tty=True,
            )["Id"]
        except docker.errors.NotFound as exc:
            raise RuntimeFailure(f"Container {container_id} does not exist.") from exc
        response = exec_start_hijacked(api, exec_id, tty=True)
    sock, pending = take_socket(response)
    terminal = Terminal(exec_id=exec_id, response=response, sock=sock, pending=pending)
    if cols and rows:
        try:
            terminal.resize(cols=cols, rows=rows)
        except BaseException:
            terminal.close()
            raise
    return terminal
