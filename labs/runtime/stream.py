"""What every hijacked Docker stream shares: how it is taken over from the engine's HTTP
response, its socket, and closing it once."""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any, Protocol, Self, cast

from docker import APIClient
from requests import Response

# A non-blocking socket (TLS included) that has nothing for us yet.
AGAIN = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class EngineHTTP(Protocol):
    """The private HTTP helpers of docker-py's APIClient the hijacked streams are made with
    (types-docker leaves them out, being private)."""

    def _url(self, pathfmt: str, *args: str) -> str: ...
    def _post(self, url: str, **kwargs: Any) -> Response: ...
    def _post_json(self, url: str, data: object, **kwargs: Any) -> Response: ...
    def _raise_for_status(self, response: Response) -> None: ...


def engine_http(api: APIClient) -> EngineHTTP:
    return cast(EngineHTTP, api)


def exec_start_hijacked(client: APIClient, exec_id: str, *, tty: bool) -> Response:
    """Starts an exec and returns the engine's response, upgraded to a raw stream: the
    hijacked connection docker-py itself uses for ``socket=True``."""
    api = engine_http(client)
    response = api._post_json(
        api._url("/exec/{0}/start", exec_id),
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        data={"Tty": tty, "Detach": False},
        stream=True,
    )
    api._raise_for_status(response)
    return response


def buffered_reader(response: Response) -> tuple[Any, socket.socket]:
    """The buffered reader under a streamed response of the engine, and its socket."""
    raw: Any = response.raw  # urllib3's HTTPResponse: its private parts have no types
    reader = raw._fp.fp
    return reader, reader.raw._sock


def take_socket(response: Response) -> tuple[socket.socket, bytes]:
    """The raw socket under a hijacked response, non-blocking, and the bytes the buffered
    reader the HTTP headers were read through already holds (they come first)."""
    reader, sock = buffered_reader(response)
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

    def __init__(self, *, response: Response, sock: socket.socket) -> None:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
