"""Ending cleanly: the beat's round (start what is due, end what is over, size the warm pool),
what an ending destroys, and forgetting guests who never claimed their account.

Retention: a guest is a display name and what they did in the labs, nothing else; once the
workshop is over it serves nobody but the export, so it is deleted
WORKSHOP_GUEST_RETENTION_DAYS after the last workshop the guest attended ended, with their
attendances, lab sessions, check results, journals and game-day outcomes (all cascade from the
user). Claiming the account (an e-mail and a password) keeps it for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from academy.workshops import selectors, services
from academy.workshops.models import Attendee, Workshop
from labs.models import LabSession
from labs.services.hosts import fan_out

if TYPE_CHECKING:
    from academy.accounts.models import User


@dataclass(frozen=True)
class EndSummary:
    """What ending the workshop now would destroy, for the confirmation page."""

    sessions: int  # live lab sessions of the attendees, for the workshop's labs
    attendees: int  # attendees who hold one of them
    warm: int  # warm sandboxes kept for the workshop's labs (the extra pool goes)


def workshop_end_summary(*, workshop: Workshop) -> EndSummary:
    live = selectors.workshop_live_sessions(workshop=workshop)
    return EndSummary(
        sessions=live.values("pk").distinct().count(),
        attendees=live.values("user").distinct().count(),
        warm=LabSession.objects.live()
        .pooled()
        .filter(lab__in=workshop.workshop_labs.values("lab"))
        .count(),
    )


def workshops_tick(*, now: datetime | None = None) -> dict[str, int]:
    """The beat's round: starts the workshops whose start passed, ends those whose end passed,
    then asks the lab host to reach (or release) the warm pools. Safe to run twice."""
    now = now or timezone.now()
    counts = {"started": 0, "ended": 0, "sessions_ended": 0}
    for workshop in selectors.workshops_due_to_end(now=now):
        counts["sessions_ended"] += services.workshop_end(workshop=workshop, now=now)
        counts["ended"] += 1
    for workshop in selectors.workshops_due_to_start(now=now):
        try:
            services.workshop_start(workshop=workshop, now=now)
        except services.WorkshopError:  # ended meanwhile
            continue
        counts["started"] += 1
    # Each lab host refills its own warm pools; the refill reads the pre-warm plan.
    fan_out("pool_refill")
    return counts


def guests_to_forget(*, now: datetime | None = None) -> QuerySet[User]:
    """Guest users (never claimed, in any workshop) whose every workshop ended more than
    WORKSHOP_GUEST_RETENTION_DAYS ago."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WORKSHOP_GUEST_RETENTION_DAYS)
    claimed = Attendee.objects.filter(claimed=True).values("user")
    # A workshop that has not ended (or whose end passed without the beat) keeps its guests.
    attending = Attendee.objects.filter(
        ~Q(workshop__state=Workshop.State.ENDED) | Q(workshop__ended_at__isnull=True)
    ).values("user")
    return (
        get_user_model()
        .objects.filter(workshop_attendances__isnull=False, is_staff=False, is_superuser=False)
        .exclude(pk__in=claimed)
        .exclude(pk__in=attending)
        .annotate(last_ended=Max("workshop_attendances__workshop__ended_at"))
        .filter(last_ended__lt=cutoff)
    )


def guests_forget(*, now: datetime | None = None) -> int:
    """Deletes the guests ``guests_to_forget`` finds, with everything that cascades from them;
    returns how many users. A guest with a usable password is not a guest: kept."""
    deleted = 0
    for user in guests_to_forget(now=now).iterator():
        if user.has_usable_password():
            continue
        with transaction.atomic():
            # Their containers are long gone (ended with the workshop); a session still live
            # would be destroyed by the reaper as belonging to nobody.
            user.delete()
        deleted += 1
    return deleted
