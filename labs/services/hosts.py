"""Lab hosts: where a session's sandbox lives, and which hosts take new ones.

A lab host is a Docker engine with its own Celery workers (queues "<name>.<kind>"), terminal
gateway and fault relay. A process knows its own host by LAB_TASK_QUEUE; the host's worker
announces it (a LabHost row: capacity, terminal gateway, last seen) when it starts and on every
reap. Sessions record their host when they are placed:

- on the workshop's reserved host when the learner's room has one (LAB_RESERVED_HOST);
- an exam's practical task beside the candidate's other tasks, so one worker grades them all;
- otherwise on the live, active host with the most free capacity.

A draining host takes nothing new; its sessions run out. Until any host has announced itself
(one machine, a test), the process's own LAB_TASK_QUEUE is the one host, with the capacity
this process was configured with.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from labs.models import LabHost, LabSession
from labs.services.state import enqueue, transition

log = logging.getLogger(__name__)


class LabHostError(Exception):
    """An operator's request about a host that cannot be done (unknown host, still busy)."""


@dataclass(frozen=True)
class HostRoom:
    """A host that may take sessions, and how many more it holds now."""

    name: str
    capacity: int
    running: int

    @property
    def free(self) -> int:
        return self.capacity - self.running


def this_host() -> str:
    """The lab host this process belongs to (its worker, gateway or relay): LAB_TASK_QUEUE."""
    return settings.LAB_TASK_QUEUE


def session_host(session: LabSession) -> str:
    """The host holding the session's sandbox; rows from before hosts belong to this one."""
    return session.host or this_host()


def on_host(name: str) -> Q:
    """Sessions on the named host, counting the unplaced rows from before hosts as this
    process's own host's."""
    return on_hosts([name])


def on_hosts(names: list[str]) -> Q:
    """Sessions on any of the named hosts, as ``on_host`` counts them."""
    return Q(host__in=[*names, ""] if this_host() in names else names)


def host_announce(*, now: datetime | None = None) -> LabHost:
    """Registers this process's host, or says it is still here: its capacity, its terminal
    gateway and its machine. A drained host stays draining."""
    now = now or timezone.now()
    details = {"cpus": len(os.sched_getaffinity(0)), "memory_mib": _memory_mib()}
    host, created = LabHost.objects.get_or_create(
        name=this_host(),
        defaults={
            "capacity": settings.LAB_MAX_RUNNING_SESSIONS,
            "terminal_url": settings.LAB_HOST_TERMINAL_URL,
            "details": details,
            "seen_at": now,
        },
    )
    if not created:
        LabHost.objects.filter(pk=host.pk).update(
            capacity=settings.LAB_MAX_RUNNING_SESSIONS,
            terminal_url=settings.LAB_HOST_TERMINAL_URL,
            details=details,
            seen_at=now,
        )
        host.refresh_from_db()
    return host


def _memory_mib() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def _live_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.LAB_HOST_TIMEOUT_SECONDS)


def hosts_known() -> list[str]:
    """Every host periodic work goes to: the announced ones, and this process's own."""
    names = set(LabHost.objects.values_list("name", flat=True))
    if not names:
        names.add(this_host())
    return sorted(names)


def _running_by_host() -> dict[str, int]:
    rows = (
        LabSession.objects.running()
        .values("host")
        .annotate(count=Count("pk"))
        .values_list("host", "count")
    )
    counts: dict[str, int] = {}
    for host, count in rows:
        name = host or this_host()
        counts[name] = counts.get(name, 0) + count
    return counts


def hosts_open(*, now: datetime | None = None) -> list[HostRoom]:
    """The hosts that take new sessions now, the one with the most room first: active hosts
    heard from within LAB_HOST_TIMEOUT_SECONDS; this process's own host when none has ever
    announced itself."""
    running = _running_by_host()
    if not LabHost.objects.exists():
        if not settings.LAB_OWN_HOST_FALLBACK:
            return []
        name = this_host()
        return [HostRoom(name, settings.LAB_MAX_RUNNING_SESSIONS, running.get(name, 0))]
    rows = LabHost.objects.filter(state=LabHost.State.ACTIVE, seen_at__gte=_live_cutoff(now))
    rooms = [HostRoom(row.name, row.capacity, running.get(row.name, 0)) for row in rows]
    return sorted(rooms, key=lambda room: (-room.free, room.name))


def reserved_host(*, user_id: int | None, lab_id: int) -> str:
    """The host kept for this learner's room (LAB_RESERVED_HOST), or ""."""
    path = getattr(settings, "LAB_RESERVED_HOST", "")
    if not path or not user_id:
        return ""
    try:
        return str(import_string(path)(user_id=user_id, lab_id=lab_id) or "")
    except Exception:  # a failing hook costs the reservation, never the start
        log.exception("The reserved host hook %s failed", path)
        return ""


def host_choose(session: LabSession, rooms: list[HostRoom]) -> HostRoom | None:
    """Where a queued session goes among the open hosts, or None: it waits."""
    wanted = reserved_host(user_id=session.user_id, lab_id=session.lab_id)
    if not wanted and session.lab.exam_only and session.user_id:
        # An attempt's tasks share one host: its grading runs on one host's worker.
        wanted = (
            LabSession.objects.live()
            .filter(user_id=session.user_id, lab__exam_only=True)
            .exclude(Q(pk=session.pk) | Q(host=""))
            .values_list("host", flat=True)
            .first()
        ) or ""
    for room in rooms:
        if room.free > 0 and (not wanted or room.name == wanted):
            return room
    return None


def terminal_origin(session: LabSession) -> str:
    """The origin of the terminal gateway serving this session ("" for the site's own)."""
    host = session_host(session)
    url = LabHost.objects.filter(name=host).values_list("terminal_url", flat=True).first()
    return (url or "").rstrip("/")


# --- The operator's side: list, drain, resume, remove ------------------------------------------


def hosts_report(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each announced host with its state, capacity, running and pooled sessions."""
    now = now or timezone.now()
    running = _running_by_host()
    pooled: dict[str, int] = {}
    for host in LabSession.objects.live().pooled().values_list("host", flat=True):
        name = host or this_host()
        pooled[name] = pooled.get(name, 0) + 1
    return [
        {
            "name": row.name,
            "state": row.state,
            "capacity": row.capacity,
            "running": running.get(row.name, 0),
            "pooled": pooled.get(row.name, 0),
            "live": row.seen_at >= _live_cutoff(now),
            "seen_at": row.seen_at,
            "terminal_url": row.terminal_url,
        }
        for row in LabHost.objects.all()
    ]


def _host(name: str) -> LabHost:
    host = LabHost.objects.filter(name=name).first()
    if host is None:
        raise LabHostError(f"There is no lab host named {name!r}.")
    return host


def host_drain(*, name: str) -> int:
    """No new sessions or warm sandboxes on the host; the sessions it holds run out. Its idle
    warm sandboxes are ended now (its worker removes them). Returns how many were ended."""
    from labs.services.provisioning import lab_session_end

    with transaction.atomic():
        host = _host(name)
        LabHost.objects.filter(pk=host.pk).update(state=LabHost.State.DRAINING)
    ended = 0
    for session in LabSession.objects.live().pooled().filter(on_host(name)):
        lab_session_end(session=session)
        ended += 1
    return ended


def host_resume(*, name: str) -> None:
    _host(name)
    LabHost.objects.filter(name=name).update(state=LabHost.State.ACTIVE)


def host_remove(*, name: str) -> None:
    """Forgets a drained host once it holds no live session. Stop its processes first: a
    worker that is still running announces the host again."""
    with transaction.atomic():
        host = LabHost.objects.select_for_update().filter(name=name).first()
        if host is None:
            raise LabHostError(f"There is no lab host named {name!r}.")
        if host.state != LabHost.State.DRAINING:
            raise LabHostError(f"Drain {name!r} before removing it.")
        held = LabSession.objects.running().filter(on_host(name)).count()
        if held:
            raise LabHostError(f"{name!r} still holds {held} session(s): let them end first.")
        host.delete()


def hosts_silent_expire(*, now: datetime | None = None) -> int:
    """Expires the overdue sessions of hosts not heard from within LAB_HOST_TIMEOUT_SECONDS:
    their own reaper is not running, and a learner must not stay held by a session that is
    over (live sessions count against the per-user limits). Only rows change; when the host
    comes back, its reaper removes the containers. Returns how many it expired."""
    now = now or timezone.now()
    silent = LabHost.objects.filter(seen_at__lt=_live_cutoff(now)).values_list("name", flat=True)
    expired = 0
    for session in LabSession.objects.overdue(now).filter(host__in=list(silent)):
        expired += transition(session, LabSession.State.EXPIRED)
    return expired


def fan_out(task_name: str, *, expires: float | None = None) -> list[str]:
    """Sends a housekeeping task (reap, watch, pool_refill) to every known host's own queue,
    so that each host does it against its own engine. Returns the hosts it went to."""
    names = hosts_known()
    for name in names:
        enqueue(task_name, kind="housekeeping", host=name, expires=expires)
    return names
