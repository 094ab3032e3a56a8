"""The session state machine's transitions, the labels of a session's resources, and work
sent to the lab host's worker once the current transaction commits."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labs.models import LabSession

log = logging.getLogger(__name__)
State = LabSession.State


def transition(
    session: LabSession,
    to: LabSession.State,
    *,
    allowed_from: Collection[str] | None = None,
    **fields: object,
) -> bool:
    """Moves the session to ``to`` if its current state allows it; returns whether it moved.

    The row is re-read under a lock, so two workers cannot both move the same session.
    """
    with transaction.atomic():
        current = LabSession.objects.select_for_update().get(pk=session.pk)
        allowed = to in LabSession.TRANSITIONS[State(current.state)]
        if not allowed or (allowed_from and current.state not in allowed_from):
            session.refresh_from_db()
            return False
        current.state = to
        current.state_changed_at = timezone.now()
        for name, value in fields.items():
            setattr(current, name, value)
        if to in (State.EXPIRED, State.FAILED, State.DESTROYED) and current.ended_at is None:
            current.ended_at = timezone.now()
            transaction.on_commit(lambda: _notify_ended(current.pk))
        current.save()
    session.refresh_from_db()
    return True


def lab_instance() -> str:
    """Which academy owns a sandbox: many may share one Docker engine (a test run beside
    ``make run``, two deployments), and each reaps only its own. Derived from the database, so
    the web process and its workers agree without configuration; LAB_INSTANCE overrides it."""
    if settings.LAB_INSTANCE:
        return settings.LAB_INSTANCE
    db = settings.DATABASES["default"]
    identity = f"{db['ENGINE']}|{db.get('HOST', '')}|{db.get('PORT', '')}|{db['NAME']}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _notify_ended(session_id: int) -> None:
    """Tells open terminals of the session to close (they also poll, should this not arrive)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(f"lab-session-{session_id}", {"type": "session.ended"})
    except Exception:  # a missed notice only delays the close to the next poll
        log.warning("Could not notify terminals of session %s", session_id, exc_info=True)


def resource_labels(session: LabSession) -> dict[str, str]:
    """Every label a session's containers and network carry: who, which lab, until when.

    Docker cannot change a container's labels, so a warm-pool sandbox says so
    (``academy.pool``) and keeps the pool's expiry; the session row names the learner it was
    handed to (``manage.py lab list``).
    """
    labels = {
        "academy.instance": lab_instance(),
        "academy.session": str(session.pk),
        "academy.lab": session.lab.key,
        "academy.user": session.user.get_username() if session.user is not None else "",
        "academy.expires": session.expires_at.isoformat() if session.expires_at else "",
    }
    if not session.user_id:
        labels["academy.pool"] = "warm"
    return labels


def session_labels(session: LabSession) -> dict[str, str]:
    """The labels that pick out this session's resources, and no other academy's."""
    return {"academy.instance": lab_instance(), "academy.session": str(session.pk)}


# Each kind of work has its own queue on the lab host, served by its own worker process, so
# that a flood of checks never delays anyone's start or stop, nor the reaper.
TASK_KINDS = ("provisioning", "checks", "housekeeping")
# The kind of each task in labs.tasks; a task not listed here is housekeeping.
KIND_OF_TASK = {
    "provision": "provisioning",
    "stop": "provisioning",
    "extend": "provisioning",
    "restore": "provisioning",
    "check": "checks",
    "refresh_results": "checks",
    "reap": "housekeeping",
    "pool_refill": "housekeeping",
    "watch": "housekeeping",
}


def task_queue(kind: str, host: str | None = None) -> str:
    """A lab host's queue for a kind of work: provisioning, checks or housekeeping. The host
    is this process's own (LAB_TASK_QUEUE) unless named."""
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown kind of lab work: {kind!r}")
    return f"{host or settings.LAB_TASK_QUEUE}.{kind}"


def task_queues() -> list[str]:
    """Every queue a lab host's workers serve: one per kind, and the bare LAB_TASK_QUEUE, where
    tasks sent before the split (or by hand) still land."""
    return [settings.LAB_TASK_QUEUE, *(task_queue(kind) for kind in TASK_KINDS)]


def route_task(
    name: str,
    args: object,
    kwargs: object,
    options: object,
    task: object = None,
    **kw: object,
) -> dict[str, str] | None:
    """CELERY_TASK_ROUTES: a labs task sent without a queue (beat, a shell) goes to its kind's
    queue. Read at send time, so it follows LAB_TASK_QUEUE as the sender sees it."""
    if not name.startswith("labs.tasks."):
        return None
    return {"queue": task_queue(KIND_OF_TASK.get(name.removeprefix("labs.tasks."), "housekeeping"))}


def enqueue(
    task_name: str,
    *args: object,
    kind: str | None = None,
    host: str | None = None,
    expires: float | None = None,
) -> None:
    """Sends ``labs.tasks.<task_name>`` to a lab host's queue for ``kind`` (by default the
    task's own kind) once the current transaction commits: the named host's, else this
    process's own. Work on a session goes to the session's host (labs.services.hosts
    .session_host). Looked up by name: services never import the tasks module."""
    from celery import current_app

    queue = task_queue(kind or KIND_OF_TASK.get(task_name, "housekeeping"), host)
    transaction.on_commit(
        lambda: current_app.send_task(
            f"labs.tasks.{task_name}", args=args, queue=queue, expires=expires
        )
    )
