"""What every hijacked Docker stream shares: how it is taken over from the engine's HTTP
response, its socket, and closing it once."""

from __future__ import annotations

import contextlib
import socket
import ssl

# A non-blocking socket (TLS included) that has nothing for us yet.
AGAIN = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def exec_start_hijacked(api, exec_id: str, *, tty: bool):
    """Starts an exec and returns the engine's response, upgraded to a raw stream: the
    hijacked connection docker-py itself uses for ``socket=True``."""
    response = api._post_json(
        api._url("/exec/{0}/start", exec_id),
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        data={"Tty": tty, "Detach": False},
        stream=True,
    )
    api._raise_for_status(response)
    return response


def take_socket(response) -> tuple[socket.socket, bytes]:
    """The raw socket under a hijacked response, non-blocking, and the bytes the buffered
    reader the HTTP headers were read through already holds (they come first)."""
    reader = response.raw._fp.fp
    sock = reader.raw._sock
    sock.setblocking(False)
    try:
        pending = reader.peek()  # never blocks now
    except AGAIN:
        pending = b""
    if pending:
        reader.read(len(pending))
    return sock, bytes(pending)


class HijackedStream:
    """A raw socket taken over from an HTTP response of the engine (attach, exec start)."""

    def __init__(self, *, response, sock: socket.socket) -> None:
        self._response = response  # keeps the connection open (TLS closes with it)
        self._sock = sock
        self.closed = False

    def close(self) -> None:
        """Hangs up; idempotent. For a TTY exec the process gets SIGHUP."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
