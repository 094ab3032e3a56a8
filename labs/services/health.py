"""Sandbox health: notice when a running session's containers die behind the platform's back
(out of memory, a crash, an engine restart, a hand on `docker rm`), say so, and restore them.

The watch polls rather than following Docker's event stream: one list call by label every
LAB_WATCH_INTERVAL_SECONDS (a beat task) costs little, needs no long-lived connection that must
itself be watched, and a poll is also the reconcile that an event stream would need anyway
after a worker or the engine was away (events missed while nobody listened are lost). Only
containers that are not alive are inspected, and rows are written only when something changed.

A problem is kept on the session (LabSession.problem) while its state stays what it was, so
that its checks, journals and time are kept; labs.services.access counts a session with a
problem as not running, so the terminal, checks and results refuse with the problem's text.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from labs import runtime
from labs.content import FAULTS_CONTAINER
from labs.models import LabSession
from labs.services.access import RUNNING_STATES, LabSessionError
from labs.services.hosts import on_host, session_host, this_host
from labs.services.provisioning import (
    container_specs,
    lab_session_stop,
    pool_refill,
    sandbox_prepare,
)
from labs.services.state import (
    enqueue,
    lab_instance,
    resource_labels,
    session_labels,
    transition,
)

log = logging.getLogger(__name__)
State = LabSession.State
# Sessions whose sandbox is built and should be serving: the ones the watch looks at.
WATCHED_STATES = RUNNING_STATES
# Exit code of a SIGKILL, which is what `fault kill <name>` sends (runtime.container_action).
KILLED = 137

# Docker's times: RFC 3339 with nanoseconds, which datetime.fromisoformat does not take.
_DOCKER_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")

_engine_down_since: datetime | None = None


def sandbox_diagnose(
    *, session: LabSession, states: dict[str, runtime.ContainerState]
) -> dict[str, Any] | None:
    """The first problem of the session's sandbox in the engine's ``states`` (by container id),
    or None when every container is alive.

    In a lab with faults, a target that a SIGKILL stopped is the learner's own experiment
    (`fault kill api`, undone with `fault restart api`), not a problem, and a target that
    stopped less than a watch interval ago may be in the middle of a `fault restart`; the
    learner's shell and the faults sidecar are never targets, so their end always is one.
    """
    now = timezone.now()
    lab = session.lab
    containers = (session.sandbox or {}).get("containers") or {}
    for name, container_id in containers.items():
        state = states.get(container_id)
        if state is None:
            return {"container": name, "reason": "missing", "exit_code": None}
        if state.alive:
            continue
        if state.oom_killed:
            return {"container": name, "reason": "oom", "exit_code": state.exit_code}
        fault_target = lab.faults_enabled and name not in (lab.shell_container, FAULTS_CONTAINER)
        if fault_target and state.status == "exited" and state.exit_code == KILLED:
            continue
        if fault_target and _stopped_within(state, now, settings.LAB_WATCH_INTERVAL_SECONDS):
            continue
        return {"container": name, "reason": "exited", "exit_code": state.exit_code}
    return None


def _stopped_within(state: runtime.ContainerState, now: datetime, seconds: float) -> bool:
    """Whether the container stopped less than ``seconds`` ago (Docker's FinishedAt)."""
    found = _DOCKER_TIME.match(state.finished_at or "")
    if not found:
        return False
    whole, fraction, zone = found.groups()
    finished = _parse_time(f"{whole}{(fraction or '')[:7]}{'+00:00' if zone == 'Z' else zone}")
    return finished is not None and now - finished < timedelta(seconds=seconds)


def _watched_sessions() -> QuerySet[LabSession]:
    """The running sessions on this worker's lab host: its engine is the one it compares."""
    return (
        LabSession.objects.filter(state__in=WATCHED_STATES, ready_at__isnull=False)
        .filter(on_host(this_host()))
        .exclude(sandbox={})
        .select_related("lab")
    )


def lab_sessions_watch() -> dict[str, int]:
    """Compares running sessions with the engine; records problems, clears healed ones.

    Cheap when nothing changed: one query, one list call to the engine, no writes. Runs from
    beat every LAB_WATCH_INTERVAL_SECONDS and when a worker starts (academy/celery.py). When the
    engine does not answer nothing is recorded: the next watch after it is back reconciles.
    Each lab host watches its own sessions against its own engine (beat fans the watch out).
    """
    global _engine_down_since
    counts = {"broken": 0, "healed": 0, "replaced": 0, "restore_stalled": 0}
    # Rows first, the engine second: a sandbox restored in between is then seen with its new
    # containers, never judged by a list taken before they existed.
    sessions = list(_watched_sessions())
    try:
        states = runtime.container_states(labels={"academy.instance": lab_instance()})
    except runtime.RuntimeUnavailable as error:
        if _engine_down_since is None:
            _engine_down_since = timezone.now()
            log.warning("Lab watch: the Docker engine does not answer: %s", error)
        counts["engine_down"] = 1
        return counts
    if _engine_down_since is not None:
        log.warning("Lab watch: the Docker engine answers again; reconciling sessions")
        _engine_down_since = None
    now = timezone.now()
    stalled_before = now - timedelta(seconds=settings.LAB_PROVISION_TIMEOUT_SECONDS)
    replaced = False
    for session in sessions:
        problem = session.problem or {}
        if problem.get("restoring"):
            since = _parse_time(problem.get("restoring_since"))
            if since is not None and since < stalled_before:
                # The worker that restored it died: offer the button again.
                failed = {**problem, "restoring": False, "restore_failed": True}
                counts["restore_stalled"] += _record(session, expected=problem, problem=failed)
            continue
        found = sandbox_diagnose(session=session, states=states)
        if found is None:
            if problem:  # alive again (say, `fault restart api` after a crash)
                counts["healed"] += _record(session, expected=problem, problem={})
            continue
        if problem and problem.get("container") == found["container"]:
            continue  # already known
        if session.user_id is None:
            # A warm-pool sandbox nobody uses yet: not worth restoring, just replace it.
            log.warning("Warm-pool session %s broke (%s); replacing it", session.pk, found)
            lab_session_stop(session=session)
            counts["replaced"] += 1
            replaced = True
            continue
        found["seen_at"] = now.isoformat()
        if _record(session, expected=problem, problem=found):
            log.warning("Session %s: sandbox problem %s", session.pk, found)
            counts["broken"] += 1
    if replaced:
        pool_refill()
    return counts


def _parse_time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _record(
    session: LabSession, *, expected: dict[str, Any], problem: dict[str, Any], **fields: object
) -> int:
    """Writes ``problem`` if the row still has ``expected`` and the same sandbox; 1 if it did."""
    with transaction.atomic():
        row = LabSession.objects.select_for_update().filter(pk=session.pk).first()
        if row is None or row.state not in WATCHED_STATES:
            return 0
        if (row.problem or {}) != expected or row.sandbox != session.sandbox:
            return 0
        row.problem = problem
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(update_fields=["problem", *fields])
    session.problem = problem
    for name, value in fields.items():
        setattr(session, name, value)
    return 1


# --- Restore ------------------------------------------------------------------------------------


def lab_session_restore_request(*, session: LabSession) -> None:
    """The learner's Restore: marks the session as restoring; the lab host's worker does it
    once this transaction commits."""
    with transaction.atomic():
        row = LabSession.objects.select_for_update().get(pk=session.pk)
        problem = row.problem or {}
        if row.state not in WATCHED_STATES or not problem:
            raise LabSessionError(translation.gettext("This lab has nothing to restore."))
        if not problem.get("restoring"):
            row.problem = {
                **problem,
                "restoring": True,
                "restore_failed": False,
                "restoring_since": timezone.now().isoformat(),
            }
            row.save(update_fields=["problem"])
            enqueue("restore", row.pk, kind="provisioning", host=session_host(row))
    session.refresh_from_db()


def lab_session_restore(*, session: LabSession) -> bool:
    """Brings a broken session's sandbox back; True when it serves the learner again.

    Containers that still exist are started again as they were created; when one is gone (or
    starting fails) the whole sandbox is built anew for the same session. Either way the lab's
    scripts and setup run again, as for a new sandbox. The session keeps its state, check
    results, journals and time. What lived only in a restarted container (its /tmp, or the
    learner's home when that was the shell) is lost.
    """
    session.refresh_from_db()
    problem = session.problem or {}
    if session.state not in WATCHED_STATES or not problem:
        return session_is_healthy(session)
    if not problem.get("restoring"):  # called directly (the CLI): mark it, as the view does
        restoring = {**problem, "restoring": True, "restore_failed": False}
        restoring["restoring_since"] = timezone.now().isoformat()
        if not _record(session, expected=problem, problem=restoring):
            return False
        problem = restoring
    lab = session.lab
    try:
        try:
            sandbox = _restart_stopped(session)
        except runtime.RuntimeFailure as error:
            log.warning("Session %s: restarting failed (%s); building anew", session.pk, error)
            sandbox = _rebuild(session)
        sandbox_prepare(lab=lab, sandbox=sandbox)
        states = runtime.container_states(labels=session_labels(session))
        still = sandbox_diagnose(session=session, states=states)
        if still is not None:
            raise runtime.RuntimeFailure(f"still broken after the restore: {still}")
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable) as error:
        log.warning("Session %s could not be restored: %s", session.pk, error, exc_info=True)
        failed = {**problem, "restoring": False, "restore_failed": True}
        _record(session, expected=problem, problem=failed, error=str(error)[:2000])
        return False
    # The problem goes, and a check its container's death left "checking" ends, in one
    # transaction: nobody sees the session healthy but still checking.
    with transaction.atomic():
        row = LabSession.objects.select_for_update().get(pk=session.pk)
        if row.state in WATCHED_STATES:
            row.problem = {}
            row.save(update_fields=["problem"])
            _end_stale_check(row)
    session.refresh_from_db()
    log.info("Session %s restored", session.pk)
    return not session.problem


def _end_stale_check(session: LabSession) -> None:
    """A check that was running when its container died stopped with an error and left the
    session "checking": back to ready (or completed), as the check would have left it."""
    grace = timedelta(seconds=settings.LAB_CHECK_TIMEOUT_SECONDS + 30)
    if session.state != State.CHECKING or session.state_changed_at > timezone.now() - grace:
        return
    passed = set(session.checks.filter(passed=True).values_list("step_id", flat=True))
    done = passed >= set(session.lab.steps.values_list("pk", flat=True))
    transition(session, State.COMPLETED if done else State.READY, allowed_from=[State.CHECKING])


def _restart_stopped(session: LabSession) -> runtime.Sandbox:
    """Starts again each container of the sandbox that is not alive; raises RuntimeFailure when
    one is gone."""
    sandbox = runtime.Sandbox.from_dict(session.sandbox)
    states = runtime.container_states(labels=session_labels(session))
    for name, container_id in sandbox.containers.items():
        state = states.get(container_id)
        if state is None:
            raise runtime.RuntimeFailure(f"container {name} is gone")
        if state.alive:
            continue
        runtime.container_start(container_id=container_id)
    return sandbox


def _rebuild(session: LabSession) -> runtime.Sandbox:
    """A new sandbox for the same session (the row, its checks and journals stay)."""
    runtime.sandbox_destroy(labels=session_labels(session))
    sandbox = runtime.sandbox_create(
        labels=resource_labels(session), containers=container_specs(session.lab)
    )
    with transaction.atomic():
        row = LabSession.objects.select_for_update().get(pk=session.pk)
        if row.state not in WATCHED_STATES:  # stopped meanwhile: leave nothing behind
            runtime.sandbox_destroy(labels=session_labels(session))
            raise runtime.RuntimeFailure("the session ended during the restore")
        row.sandbox = sandbox.as_dict()
        row.save(update_fields=["sandbox"])
    session.sandbox = sandbox.as_dict()
    return sandbox


def session_is_healthy(session: LabSession) -> bool:
    """Asks the engine now whether every container of the session is alive (for the CLI)."""
    if not session.sandbox:
        return False
    states = runtime.container_states(labels=session_labels(session))
    return sandbox_diagnose(session=session, states=states) is None


def lab_session_diagnose(*, session: LabSession) -> dict[str, Any] | None:
    """Asks the engine now about one session (when a command in it just failed, say) and
    records what it finds, as the watch would; returns the session's problem, if any."""
    session.refresh_from_db()
    if session.state not in WATCHED_STATES or not session.sandbox:
        return session.problem or None
    states = runtime.container_states(labels=session_labels(session))
    found = sandbox_diagnose(session=session, states=states)
    problem = session.problem or {}
    if found is not None and not problem.get("restoring") and not problem:
        found["seen_at"] = timezone.now().isoformat()
        _record(session, expected=problem, problem=found)
    return session.problem or found
