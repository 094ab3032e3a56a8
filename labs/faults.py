"""Faults the platform runs on a learner's behalf: the relay between each session's faults
sidecar and Docker.

A lab with ``faults: true`` gets the sidecar (labs/images/faults/faultd.py) beside its own
containers. The lab asks the sidecar over HTTP (``fault kill api`` in the toolbox, or Chaos
Toolkit's HTTP provider); the sidecar prints the request as one JSON line on its stdout. This
relay, one per lab host (``manage.py lab_fault_relay`` with the host's LAB_TASK_QUEUE), keeps
a docker attach stream to every live sidecar on its host, checks each request against *that*
session's own containers, runs it through ``runtime.container_action`` (which checks the
container's labels once more) and writes the answer line back to the sidecar's stdin. The lab
never gets Docker API access.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from django.db import close_old_connections

from labs import runtime, services
from labs.content import FAULTS_CONTAINER
from labs.models import LabSession
from labs.services.hosts import on_host, this_host

log = logging.getLogger(__name__)
ACTIONS = ("kill", "pause", "unpause", "restart", "stress", "unstress")
RESOURCES = ("cpu", "memory")
MAX_DURATION = 300  # seconds, as faultd.py allows
RETRY_SECONDS = 5.0  # a stream that failed is attached again after this long at the earliest
REMEMBERED_ANSWERS = 256  # per stream: the sidecar repeats a request until it is answered


@dataclass(frozen=True)
class SessionSandbox:
    """What the relay needs of a live session: its id and its containers by name."""

    session_id: int
    containers: dict[str, str]
    shell: str = ""  # the learner's shell container: never a target

    @property
    def sidecar_id(self) -> str:
        return self.containers[FAULTS_CONTAINER]

    def is_target(self, name: object) -> TypeGuard[str]:
        return (
            isinstance(name, str)
            and name in self.containers
            and name not in (FAULTS_CONTAINER, self.shell)
        )


def fault_sessions() -> dict[int, SessionSandbox]:
    """Live sessions on this relay's lab host whose sandbox has a faults sidecar, by id: the
    relay attaches to sidecars on its own host's engine only."""
    rows = (
        LabSession.objects.running()
        .filter(on_host(this_host()))
        .filter(lab__faults_enabled=True)
        .values_list("pk", "sandbox", "lab__shell_container")
    )
    found = {}
    for pk, sandbox, shell in rows:
        containers = (sandbox or {}).get("containers") or {}
        if FAULTS_CONTAINER in containers:
            found[pk] = SessionSandbox(session_id=pk, containers=dict(containers), shell=shell)
    return found


def fault_request_run(*, sandbox: SessionSandbox, line: str) -> dict[str, Any]:
    """Runs one request line of a sidecar on that session's containers; returns the answer."""
    try:
        request = json.loads(line)
        if not isinstance(request, Mapping):
            raise ValueError
    except ValueError:
        return {"id": None, "ok": False, "error": "not a JSON request"}
    request_id = str(request.get("id") or "")[:64]
    answer = {"id": request_id, "ok": False}
    action, target = request.get("action"), request.get("target")
    duration = request.get("duration", 30)
    resource = request.get("resource", "cpu")
    if action not in ACTIONS:
        return {**answer, "error": f"unknown action {action!r}"}
    # The sidecar checked this too; the relay does not trust it: a lab may have broken it.
    if not sandbox.is_target(target):
        return {**answer, "error": f"{target!r} is not a container of this lab"}
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 1 <= duration <= MAX_DURATION
    ):
        return {**answer, "error": f"duration must be from 1 to {MAX_DURATION} seconds"}
    if resource not in RESOURCES:
        return {**answer, "error": f"resource must be one of {', '.join(RESOURCES)}"}
    try:
        runtime.container_action(
            container_id=sandbox.containers[target],
            action=action,
            duration=float(duration),
            resource=resource,
            expect_labels={
                "academy.session": str(sandbox.session_id),
                "academy.instance": services.lab_instance(),
            },
        )
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable, ValueError) as error:
        log.warning("session %s: %s %s failed: %s", sandbox.session_id, action, target, error)
        return {**answer, "error": _learner_error(action, target, error)}
    log.info(
        "session %s: %s %s%s",
        sandbox.session_id,
        action,
        target,
        f" ({resource}) for {duration:g} s" if action == "stress" else "",
    )
    return {**answer, "ok": True}


def _learner_error(action: str, target: str, error: Exception) -> str:
    text = str(error)
    # Docker's own words, shortened to what a learner can act on.
    if "is not running" in text:
        return f"{target} is not running; `fault restart {target}` starts it again"
    if "is not paused" in text:
        return f"{target} is not paused"
    if "is already paused" in text or "is paused" in text:
        return f"{target} is paused; `fault unpause {target}` first"
    return f"{action} {target} failed: {text[:300]}"


class SessionRelay(threading.Thread):
    """One sidecar's stream: reads requests, runs them one at a time, writes answers."""

    def __init__(self, sandbox: SessionSandbox) -> None:
        super().__init__(name=f"fault-relay-{sandbox.session_id}", daemon=True)
        self.sandbox = sandbox
        self._stop_event = threading.Event()
        self.attached = threading.Event()
        self._answers: dict[str, dict[str, Any]] = {}  # request id -> answer, oldest first

    def stop(self) -> None:
        self._stop_event.set()

    def _answer(self, line: str) -> dict[str, Any]:
        """The answer to a request line; a repeated request gets its first answer again."""
        try:
            request_id = str(json.loads(line).get("id") or "")
        except (ValueError, AttributeError):
            request_id = ""
        if request_id and request_id in self._answers:
            return self._answers[request_id]
        answer = fault_request_run(sandbox=self.sandbox, line=line)
        if request_id:
            self._answers[request_id] = answer
            while len(self._answers) > REMEMBERED_ANSWERS:
                del self._answers[next(iter(self._answers))]
        return answer

    def run(self) -> None:
        try:
            with runtime.container_attach(container_id=self.sandbox.sidecar_id) as stream:
                self.attached.set()
                log.info("session %s: relaying faults", self.sandbox.session_id)
                while not self._stop_event.is_set():
                    for line in stream.read_lines(timeout=0.5):
                        if line.strip():
                            stream.write_line(json.dumps(self._answer(line)))
        except (runtime.RuntimeFailure, runtime.RuntimeUnavailable) as error:
            if not self._stop_event.is_set():
                log.info("session %s: stream closed: %s", self.sandbox.session_id, error)
        except Exception:
            log.exception("session %s: relay failed", self.sandbox.session_id)


class FaultRelay:
    """Keeps one SessionRelay per live session with a sidecar, and none for ended ones."""

    def __init__(self, *, poll_interval: float = 2.0) -> None:
        self.poll_interval = poll_interval
        self.relays: dict[int, SessionRelay] = {}
        self._failed_at: dict[int, float] = {}

    def sync(self) -> None:
        wanted = fault_sessions()
        for pk, relay in list(self.relays.items()):
            gone = pk not in wanted or wanted[pk] != relay.sandbox
            if gone or not relay.is_alive():
                relay.stop()
                del self.relays[pk]
                if not gone:  # the stream ended while the session lives: retry, not at once
                    self._failed_at[pk] = time.monotonic()
        now = time.monotonic()
        for pk, sandbox in wanted.items():
            if pk in self.relays or now - self._failed_at.get(pk, -RETRY_SECONDS) < RETRY_SECONDS:
                continue
            relay = SessionRelay(sandbox)
            relay.start()
            self.relays[pk] = relay
        self._failed_at = {pk: at for pk, at in self._failed_at.items() if pk in wanted}

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        log.info("fault relay started; polling every %g s", self.poll_interval)
        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    self.sync()
                except Exception:  # a database or engine hiccup: try again at the next poll
                    log.exception("fault relay: sync failed")
                stop.wait(self.poll_interval)
        finally:
            self.close()

    def close(self) -> None:
        for relay in self.relays.values():
            relay.stop()
        for relay in self.relays.values():
            relay.join(timeout=5)
        self.relays.clear()
