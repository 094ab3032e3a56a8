"""A container's own stdin and stdout as a line stream (``docker attach``).

The platform talks to a sidecar this way (see labs.faults): the sidecar prints requests on its
stdout and reads answers on its stdin, so it needs no Docker API access and no route to the
host. The container must have been created with ``ContainerSpec(stdin_open=True)``.

    with container_attach(container_id=...) as stream:
        for line in stream.read_lines(timeout=1.0):   # [] when nothing came in time
            stream.write_line(answer)
"""

from __future__ import annotations

import select
import socket
import struct

import docker.errors
from requests import Response

from labs.runtime.engine import RuntimeFailure, client, engine_errors
from labs.runtime.stream import HijackedStream, engine_http, take_socket

MAX_LINE = 64 * 1024  # a longer line is a broken or hostile sidecar: the stream is dropped


class AttachedStream(HijackedStream):
    """stdin and stdout of a running container. One reader thread and one writer at most."""

    def __init__(
        self, *, container_id: str, response: Response, sock: socket.socket, pending: bytes
    ) -> None:
        self.container_id = container_id
        super().__init__(response=response, sock=sock)
        self._frames = bytearray(pending)  # raw multiplexed bytes not yet decoded
        self._text = bytearray()  # decoded stdout not yet split into lines

    def read_lines(self, timeout: float) -> list[str]:
        """Complete stdout lines that arrived within ``timeout``; RuntimeFailure at the end."""
        lines = self._decode()
        if lines:
            return lines
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return []
        try:
            chunk = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return []
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            raise RuntimeFailure(f"The stream of {self.container_id} has ended.")
        self._frames += chunk
        return self._decode()

    def _decode(self) -> list[str]:
        """Moves whole frames to the text buffer, and whole lines out of it."""
        while len(self._frames) >= 8:
            stream_type, size = struct.unpack(">BxxxL", self._frames[:8])
            if len(self._frames) < 8 + size:
                break
            if stream_type == 1:
                self._text += self._frames[8 : 8 + size]
            del self._frames[: 8 + size]
        *lines, rest = bytes(self._text).split(b"\n")
        self._text = bytearray(rest)
        if len(self._text) > MAX_LINE or len(self._frames) > 8 + MAX_LINE:
            self.close()
            raise RuntimeFailure(f"{self.container_id} printed a line longer than {MAX_LINE}.")
        return [line.decode(errors="replace") for line in lines]

    def write_line(self, line: str) -> None:
        if self.closed:
            raise RuntimeFailure("The stream is closed.")
        try:
            self._sock.sendall(line.rstrip("\n").encode() + b"\n")
        except OSError as exc:
            self.close()
            raise RuntimeFailure(f"The stream of {self.container_id} is gone: {exc}") from exc


def container_attach(*, container_id: str) -> AttachedStream:
    """Attaches to the container's stdin and stdout (not stderr, and no past output)."""
    api = engine_http(client().api)
    with engine_errors():
        try:
            response = api._post(  # the hijacked stream docker-py uses for attach_socket
                api._url("/containers/{0}/attach", container_id),
                headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                params={"stdin": 1, "stdout": 1, "stderr": 0, "stream": 1, "logs": 0},
                stream=True,
            )
        except docker.errors.NotFound as exc:
            raise RuntimeFailure(f"Container {container_id} does not exist.") from exc
        api._raise_for_status(response)
    sock, pending = take_socket(response)
    sock.setblocking(True)
    sock.settimeout(10.0)  # for writes; reads wait in select
    return AttachedStream(container_id=container_id, response=response, sock=sock, pending=pending)
