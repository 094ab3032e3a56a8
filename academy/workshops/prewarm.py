"""Ready when the room is: warm sandboxes for a workshop's first labs before it starts.

For each workshop starting within WORKSHOP_PREWARM_MINUTES, or in session, the room's first
WORKSHOP_PREWARM_LABS labs each want one ready sandbox per place not yet used: its capacity less
the attendees who have already started that lab. The lab host holds at most
LAB_MAX_RUNNING_SESSIONS running sessions; what learners run now is taken first, and the rest is
shared among the rooms, the first lab of the earliest workshop first. The sum per lab is the
lab engine's extra warm pool (LAB_WARM_POOL_DEMAND names ``warm_pool_demand``), which
``labs.services.pool_refill`` reaches and, once nobody asks, releases.

Everything here reads rows: the web process draws the instructor's page from it without Docker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from academy.workshops import selectors
from academy.workshops.models import Workshop, WorkshopLab
from labs.models import Lab, LabSession
from labs.services.hosts import HostRoom, hosts_open, on_hosts

State = LabSession.State


@dataclass(frozen=True)
class LabWarmth:
    """One lab of one workshop: how many warm sandboxes the room wants and gets."""

    workshop_id: int
    lab: Lab
    position: int
    lab_host: str  # the workshop's reserved lab host, or "": wherever there is room
    wanted: int  # places not yet used: capacity less the attendees who started the lab
    target: int  # what the host can hold of it
    started: int  # attendees who started the lab since joining opened

    @property
    def shortfall(self) -> int:
        return self.wanted - self.target


@dataclass(frozen=True)
class HostLoad:
    running: int  # sessions holding containers, warm ones included
    maximum: int  # LAB_MAX_RUNNING_SESSIONS
    learners: int  # running sessions with a learner
    queued: int  # sessions waiting for a place

    @property
    def free(self) -> int:
        return max(0, self.maximum - self.running)


def prewarm_targets(*, wanted: Sequence[int], host_free: int) -> list[int]:
    """How many of each want (in priority order) the host can hold: each gets what is left of
    ``host_free`` after the ones before it. The sizing rule, without the database."""
    left = max(0, host_free)
    targets = []
    for count in wanted:
        target = min(max(0, count), left)
        targets.append(target)
        left -= target
    return targets


def workshops_to_prewarm(*, now: datetime | None = None) -> QuerySet[Workshop]:
    """Workshops starting within WORKSHOP_PREWARM_MINUTES, or live, not over; earliest first."""
    now = now or timezone.now()
    soon = now + timedelta(minutes=settings.WORKSHOP_PREWARM_MINUTES)
    return (
        Workshop.objects.open()
        .filter(ends_at__gt=now)
        .filter(Q(state=Workshop.State.LIVE) | Q(starts_at__lte=soon))
        .order_by("starts_at", "pk")
    )


def host_load() -> HostLoad:
    """The lab hosts open for new sessions, taken together."""
    rooms = hosts_open()
    learners = LabSession.objects.running().filter(user__isnull=False)
    return HostLoad(
        running=sum(room.running for room in rooms),
        maximum=sum(room.capacity for room in rooms),
        learners=learners.filter(on_hosts([room.name for room in rooms])).count(),
        queued=LabSession.objects.queued().count(),
    )


def _started(*, workshop: Workshop, lab_id: int) -> int:
    """Attendees who have a session of the lab since joining opened, whatever its state: one
    who finished the lab, or stopped it, needs no warm sandbox any more."""
    return (
        LabSession.objects.filter(
            lab_id=lab_id,
            user__workshop_attendances__workshop=workshop,
            requested_at__gte=selectors.join_opens_at(workshop),
        )
        .values("user")
        .distinct()
        .count()
    )


def prewarm_plan(*, now: datetime | None = None, load: HostLoad | None = None) -> list[LabWarmth]:
    """Every (workshop, lab) that wants warm sandboxes now, with what the host can hold."""
    load = load or host_load()
    workshops = list(workshops_to_prewarm(now=now))
    depth = max(1, settings.WORKSHOP_PREWARM_LABS)
    items = (
        WorkshopLab.objects.filter(workshop__in=workshops, position__lte=depth)
        .select_related("lab")
        .order_by("position")
    )
    by_workshop = {workshop.pk: workshop for workshop in workshops}
    order = {workshop.pk: index for index, workshop in enumerate(workshops)}
    # First labs before second ones; within a position, the earliest workshop first.
    rows = sorted(items, key=lambda item: (item.position, order[item.workshop_id]))
    wanted = []
    for item in rows:
        workshop = by_workshop[item.workshop_id]
        started = _started(workshop=workshop, lab_id=item.lab_id)
        wanted.append((item, started, max(0, workshop.capacity - started)))
    # The host's places not taken by learners: warm sandboxes already there count as free.
    targets = prewarm_targets(
        wanted=[count for _item, _started, count in wanted],
        host_free=load.maximum - load.learners,
    )
    return [
        LabWarmth(
            workshop_id=item.workshop_id,
            lab=item.lab,
            position=item.position,
            lab_host=by_workshop[item.workshop_id].lab_host,
            wanted=count,
            target=target,
            started=started,
        )
        for (item, started, count), target in zip(wanted, targets, strict=True)
    ]


def warm_pool_demand(*, host: str | None = None) -> dict[int, int]:
    """The extra warm sandboxes per lab id the workshops ask for (LAB_WARM_POOL_DEMAND): of
    all lab hosts, or of the named one: a workshop's reserved host holds all of its own, and
    the other workshops' are shared among the open hosts by capacity."""
    rooms = hosts_open() if host else []
    demand: dict[int, int] = defaultdict(int)
    for warmth in prewarm_plan():
        if host is None:
            demand[warmth.lab.pk] += warmth.target
        elif warmth.lab_host:
            demand[warmth.lab.pk] += warmth.target if warmth.lab_host == host else 0
        else:
            demand[warmth.lab.pk] += host_share(warmth.target, host=host, rooms=rooms)
    return {lab_id: count for lab_id, count in demand.items() if count}


def host_share(total: int, *, host: str, rooms: Sequence[HostRoom]) -> int:
    """The named host's part of ``total`` warm sandboxes shared by capacity among the open
    hosts; the parts add up to ``total``, the remainder going to the hosts by name."""
    rooms = sorted(rooms, key=lambda room: room.name)
    capacity = sum(room.capacity for room in rooms)
    if not capacity or host not in {room.name for room in rooms}:
        return 0
    parts = {room.name: total * room.capacity // capacity for room in rooms}
    for room in rooms[: total - sum(parts.values())]:
        parts[room.name] += 1
    return parts[host]


@dataclass(frozen=True)
class WorkshopCapacity:
    """What the instructor's page shows: the room, its warm sandboxes and the host's load."""

    workshop: Workshop
    joined: int
    prewarming: bool  # within WORKSHOP_PREWARM_MINUTES of the start, or in session
    labs: list[dict[str, Any]]  # {"lab", "warm_ready", "warm_starting", "running", "warmth"}
    load: HostLoad

    @property
    def warnings(self) -> list[LabWarmth]:
        return [row["warmth"] for row in self.labs if row["warmth"] and row["warmth"].shortfall]


def workshop_capacity(*, workshop: Workshop, now: datetime | None = None) -> WorkshopCapacity:
    load = host_load()
    plan = {
        warmth.lab.pk: warmth
        for warmth in prewarm_plan(now=now, load=load)
        if warmth.workshop_id == workshop.pk
    }
    room = LabSession.objects.running().filter(user__workshop_attendances__workshop=workshop)
    labs = []
    for lab in workshop.ordered_labs():
        pooled = LabSession.objects.pooled().filter(lab=lab)
        labs.append(
            {
                "lab": lab,
                "warm_ready": pooled.filter(state=State.READY).count(),
                "warm_starting": pooled.filter(state=State.PROVISIONING).count(),
                "running": room.filter(lab=lab).count(),
                "warmth": plan.get(lab.pk),
            }
        )
    return WorkshopCapacity(
        workshop=workshop,
        joined=workshop.attendees.count(),
        prewarming=workshops_to_prewarm(now=now).filter(pk=workshop.pk).exists(),
        labs=labs,
        load=load,
    )
