"""Running commands in sandbox containers, copying files in, and platform-run faults."""

from __future__ import annotations

import contextlib
import io
import math
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

import docker.errors
from requests import Response

from labs.runtime.engine import RuntimeFailure, client, engine_errors
from labs.runtime.stream import buffered_reader, exec_start_hijacked

MAX_OUTPUT = 64 * 1024  # bytes of output kept: the first and the last half
# The client waits this much longer than the in-container timeout before it gives up itself.
CLIENT_GRACE = 5.0


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when the client gave up before the engine reported one
    output: str  # stdout and stderr, interleaved as produced, truncated to MAX_OUTPUT
    timed_out: bool


class _Output:
    """Keeps the head and the tail of a stream, and counts what is dropped between them."""

    def __init__(self, limit: int) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.half:
            excess = len(self.tail) - self.half
            self.dropped += excess
            del self.tail[:excess]

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes of output left out ...]\n" if self.dropped else ""
        return self.head.decode(errors="replace") + middle + self.tail.decode(errors="replace")


def sandbox_exec(
    *,
    container_id: str,
    command: Sequence[str],
    user: str,
    timeout: float,
    environment: Mapping[str, str] | None = None,
    workdir: str | None = None,
    stdin: bytes | None = None,
    clean_environment: bool = False,
) -> ExecResult:
    """Run ``command`` in the container as ``user`` and wait for it, at most ``timeout`` seconds.

    The command runs under ``timeout -s KILL``, which kills its whole process group when time
    is up (a fork bomb included); the client also stops waiting shortly after.

    Docker adds ``environment`` to the container's own (its image's and its lab's variables)
    and cannot take any away: with ``clean_environment``, the command sees ``environment`` and
    nothing else (``env -i``), as grading needs.
    """
    if not command:
        raise ValueError("command must not be empty.")
    if timeout <= 0:
        raise ValueError("timeout must be positive.")
    if clean_environment:
        for name, value in (environment or {}).items():
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise ValueError(f"Environment variable {name!r} cannot be passed.")
        assignments = [f"{name}={value}" for name, value in (environment or {}).items()]
        command = ["/usr/bin/env", "-i", *assignments, *command]
    seconds = math.ceil(timeout * 1000) / 1000
    wrapped = ["timeout", "-s", "KILL", f"{seconds}s", *command]
    api = client().api
    started = time.monotonic()
    with engine_errors():
        exec_id = api.exec_create(
            container_id,
            wrapped,
            user=user,
            environment=dict(environment or {}),
            workdir=workdir,
            stdin=stdin is not None,
            stdout=True,
            stderr=True,
            tty=False,
        )["Id"]
        response = exec_start_hijacked(api, exec_id, tty=False)
        output, finished = _read_stream(
            response, stdin=stdin, deadline=started + seconds + CLIENT_GRACE
        )
        exit_code = _exit_code(exec_id) if finished else None
    elapsed = time.monotonic() - started
    # `timeout -s KILL` ends with 137 (it kills its own process group, itself included).
    timed_out = not finished or (exit_code in (124, 137) and elapsed >= seconds)
    return ExecResult(exit_code=exit_code, output=output.text(), timed_out=timed_out)


def _read_stream(
    response: Response, *, stdin: bytes | None, deadline: float
) -> tuple[_Output, bool]:
    """Read the multiplexed stdout/stderr frames until EOF (True) or the deadline (False).

    Reads go through the response's buffered reader, which may already hold the first bytes
    after the HTTP headers; the socket under it carries the deadline as its timeout.
    """
    reader, sock = buffered_reader(response)
    output = _Output(MAX_OUTPUT)
    pending = bytearray()
    try:
        if stdin is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            # Written while the output is read: a command may print before it reads, or end
            # without reading all its input (the engine then stops taking it).
            threading.Thread(target=_send_stdin, args=(sock, stdin), daemon=True).start()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return output, False
            sock.settimeout(remaining)
            try:
                chunk = reader.read1(65536)
            except (TimeoutError, OSError):
                return output, False
            if not chunk:
                return output, True
            pending += chunk
            while len(pending) >= 8:
                stream_type, size = struct.unpack(">BxxxL", pending[:8])
                if len(pending) < 8 + size:
                    break
                if stream_type in (1, 2):
                    output.add(bytes(pending[8 : 8 + size]))
                del pending[: 8 + size]
    finally:
        response.close()


def _send_stdin(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # the engine closes the process's stdin on this


def _exit_code(exec_id: str) -> int | None:
    api = client().api
    for _ in range(50):  # the engine may report the end of the stream before the exit code
        state = api.exec_inspect(exec_id)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        time.sleep(0.02)
    return None


def sandbox_put_files(
    *,
    container_id: str,
    path: str,
    files: Mapping[str, bytes],
    mode: int = 0o700,
    owner: tuple[int, int] = (0, 0),
) -> None:
    """Copy ``files`` (relative name -> content) into the folder ``path`` of the container.

    Folders created on the way get ``owner`` and mode 0700, so that a root-only folder such as
    /opt/lab stays root-only. ``path`` must be on a volume (``ContainerSpec.private_dirs``):
    the root filesystem is read-only.
    """
    buffer = io.BytesIO()
    folders: set[str] = set()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in sorted(files.items()):
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise ValueError(f"File name {name!r} must be relative, without '..'.")
            for parent in reversed(relative.parents[:-1]):
                if str(parent) not in folders:
                    folders.add(str(parent))
                    tar.addfile(_tar_entry(str(parent), tarfile.DIRTYPE, 0o700, owner, now))
            entry = _tar_entry(str(relative), tarfile.REGTYPE, mode, owner, now)
            entry.size = len(content)
            tar.addfile(entry, io.BytesIO(content))
    with engine_errors():
        try:
            ok = client().api.put_archive(container_id, path, buffer.getvalue())
        except docker.errors.NotFound as exc:
            raise RuntimeFailure(f"{path} does not exist in container {container_id}.") from exc
    if not ok:
        raise RuntimeFailure(f"Copying files into {container_id}:{path} failed.")


def _tar_entry(
    name: str, kind: bytes, mode: int, owner: tuple[int, int], mtime: float
) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.mode, entry.mtime = kind, mode, mtime
    entry.uid, entry.gid = owner
    return entry


Action = Literal["kill", "pause", "unpause", "restart", "stress", "unstress"]
Resource = Literal["cpu", "memory"]
# Memory stress takes this share of the container's memory limit and holds it, so that the
# kernel has to make room; it never comes near the limit itself (no OOM kill of the stress).
MEMORY_STRESS_SHARE = 0.6


def container_action(
    *,
    container_id: str,
    action: Action,
    duration: float = 30.0,
    resource: Resource = "cpu",
    expect_labels: Mapping[str, str] | None = None,
) -> None:
    """A fault the platform runs on a learner's behalf; labs never get Docker API access.

    ``stress`` runs stress-ng inside the container for ``duration`` seconds, in the background:
    one CPU hog (``cpu``), or one worker that allocates and holds 60 % of the container's memory
    limit without burning CPU (``memory``). ``unstress`` ends every stress in the container.
    With ``expect_labels``, the container must carry them (say, the learner's session), or
    nothing is done.
    """
    api = client().api
    with engine_errors():
        info = api.inspect_container(container_id)
        if expect_labels:
            labels = info["Config"].get("Labels") or {}
            if any(labels.get(key) != value for key, value in expect_labels.items()):
                raise RuntimeFailure(f"Container {container_id} is not one of this sandbox's.")
        if action == "kill":
            api.kill(container_id, signal="SIGKILL")
        elif action == "pause":
            api.pause(container_id)
        elif action == "unpause":
            api.unpause(container_id)
        elif action == "restart":
            api.restart(container_id, timeout=5)
        elif action == "stress":
            if duration <= 0 or duration > 3600:
                raise ValueError("duration must be within (0, 3600] seconds.")
            command = _stress_command(info, resource, duration)
            exec_id = api.exec_create(container_id, command, stdout=False, stderr=False)["Id"]
            api.exec_start(exec_id, detach=True)
        elif action == "unstress":
            ended = sandbox_exec(
                container_id=container_id,
                command=["pkill", "-KILL", "-f", "^stress-ng"],
                user=info["Config"].get("User") or "",  # who ran the stress: the image's user
                timeout=10,
            )
            if ended.exit_code not in (0, 1):  # 1: there was nothing to end
                raise RuntimeFailure(f"Ending the stress failed (pkill exited {ended.exit_code}).")
        else:
            raise ValueError(f"Unknown action {action!r}.")


def _stress_command(info: Mapping[str, Any], resource: Resource, duration: float) -> list[str]:
    if resource == "cpu":
        load = ["--cpu", "1"]
    elif resource == "memory":
        limit = info["HostConfig"].get("Memory") or 256 * 1024 * 1024
        size_mb = max(8, int(limit * MEMORY_STRESS_SHARE) // (1024 * 1024))
        # --vm-hang 0: allocate, touch every page once, then hold it without burning CPU.
        load = ["--vm", "1", "--vm-bytes", f"{size_mb}M", "--vm-hang", "0", "--vm-keep"]
    else:
        raise ValueError(f"Unknown resource {resource!r}.")
    return [
        "timeout",
        "-s",
        "KILL",
        f"{duration + 5:g}s",
        "stress-ng",
        "--temp-path",
        "/tmp",  # stress-ng refuses to start without a writable temp path
        *load,
        "--timeout",
        f"{duration:g}s",
        "--quiet",
    ]
