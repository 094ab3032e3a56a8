"""Housekeeping: the reaper, which expires overdue sessions and removes what belongs to no
live session, and the trimming of what ended sessions keep."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from labs import runtime
from labs.models import CheckResult, LabSession, SessionJournal
from labs.services.hosts import host_announce, on_host, this_host
from labs.services.provisioning import lab_session_stop, lab_sessions_schedule, pool_refill
from labs.services.state import lab_instance, transition

State = LabSession.State


def lab_sessions_reap() -> dict[str, int]:
    """This lab host's reaper (beat fans it out to every host): says the host is still here,
    expires its overdue sessions, destroys what on its engine belongs to no live session of
    its own, starts queued sessions and refills its warm pools."""
    counts = {"expired": 0, "stalled": 0, "destroyed": 0, "orphans": 0}
    host = this_host()
    if settings.LAB_HOST_ANNOUNCE:
        host_announce()
    now = timezone.now()
    # Queued sessions have no host yet: whichever host's reaper comes first expires them.
    mine = LabSession.objects.filter(on_host(host) | Q(state=State.REQUESTED))
    for session in mine.overdue(now):
        counts["expired"] += transition(session, State.EXPIRED)
    # A worker that died mid-provision leaves its session "provisioning" for ever.
    stalled = mine.filter(
        state=State.PROVISIONING,
        state_changed_at__lt=now - timedelta(seconds=settings.LAB_PROVISION_TIMEOUT_SECONDS),
    )
    for session in stalled:
        counts["stalled"] += transition(
            session, State.FAILED, error="Provisioning did not finish in time."
        )
    for session in mine.filter(state__in=[State.EXPIRED, State.FAILED]):
        lab_session_stop(session=session)
        counts["destroyed"] += 1
    # Containers must never outlive their session: whatever is labelled for a session that is
    # not live here (a worker killed mid-provision, a row deleted by hand) is destroyed.
    live = {
        str(pk)
        for pk in LabSession.objects.live().filter(on_host(host)).values_list("pk", flat=True)
    }
    orphans = {
        resource.labels.get("academy.sandbox")
        for resource in runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        if resource.labels.get("academy.session") not in live
    }
    for sandbox_id in sorted(filter(None, orphans)):
        counts["orphans"] += runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
    lab_sessions_schedule()
    pool_refill()
    return counts


def lab_results_trim(*, now: datetime | None = None) -> dict[str, int]:
    """Trims what sessions that ended more than LAB_RESULTS_RETENTION_DAYS ago keep: their
    journals, their coverage, the output of their checks and the address they were started
    from. Verdicts stay (passed or not, the messages the learner saw, when): progress and
    certificates rest on them. Runs daily on the housekeeping queue; safe to run again."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LAB_RESULTS_RETENTION_DAYS)
    ended = LabSession.objects.exclude(state__in=LabSession.LIVE_STATES).filter(ended_at__lt=cutoff)
    journals, _ = SessionJournal.objects.filter(session__in=ended).delete()
    outputs = CheckResult.objects.filter(session__in=ended).exclude(output="").update(output="")
    sessions = ended.exclude(coverage=[], journals_pruned=0, client_address="").update(
        coverage=[], journals_pruned=0, client_address=""
    )
    return {"journals": journals, "check_outputs": outputs, "sessions": sessions}
