"""What every hijacked Docker stream shares: its socket, and closing it once."""

from __future__ import annotations

import contextlib
import socket


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
