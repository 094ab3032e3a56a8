"""Reads of the workshops side: who teaches, which workshops they see, what a room shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from academy.accounts.typing import signed_in
from academy.courses.models import Course
from academy.workshops.models import CODE_ALPHABET, JOIN_CODE_LENGTH, Attendee, Workshop
from labs.models import Lab, LabSession
from labs.selectors import LabProgress, lab_progress
from labs.selectors import labs_for_course as course_labs  # the name its callers use

if TYPE_CHECKING:
    from academy.accounts.models import User
    from academy.accounts.typing import Visitor


def user_is_instructor(user: Visitor | None) -> bool:
    """Staff, or members of the instructors group, may create workshops."""
    member = signed_in(user)
    if member is None or not member.is_active:
        return False
    if member.is_staff:
        return True
    return member.groups.filter(name=settings.WORKSHOP_INSTRUCTORS_GROUP).exists()


def workshops_for_instructor(*, user: User) -> QuerySet[Workshop]:
    """The workshops ``user`` teaches, newest first, with their attendee counts."""
    return (
        Workshop.objects.taught_by(user)
        .select_related("course")
        .annotate(attendee_count=Count("attendees", distinct=True))
        .order_by("-starts_at", "pk")
    )


def workshop_get_for_instructor(*, pk: int, user: User) -> Workshop:
    """A workshop ``user`` teaches; any other is a 404, whoever asks (staff use the admin)."""
    workshop = Workshop.objects.taught_by(user).select_related("course").filter(pk=pk).first()
    if workshop is None or not user_is_instructor(user):
        raise Http404
    return workshop


def workshop_get_public(*, slug: str) -> Workshop:
    workshop = Workshop.objects.select_related("course").filter(slug=slug).first()
    if workshop is None:
        raise Http404
    return workshop


_NOT_CODE = re.compile(r"[\s\-_.]+")


def join_code_normalize(code: str) -> str:
    """What people type, as stored: case, spaces and dashes do not matter."""
    return _NOT_CODE.sub("", str(code)[:64]).upper()


def join_code_is_well_formed(code: str) -> bool:
    return len(code) == JOIN_CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def workshop_get_open_by_code(*, code: str) -> Workshop | None:
    """The workshop, not ended, whose join code is ``code`` (in any case), or None."""
    code = join_code_normalize(code)
    if not join_code_is_well_formed(code):
        return None
    return Workshop.objects.open().select_related("course").filter(code=code).first()


def join_opens_at(workshop: Workshop) -> datetime:
    return workshop.starts_at - timedelta(minutes=settings.WORKSHOP_JOIN_OPENS_MINUTES)


def workshop_has_ended(workshop: Workshop, *, now: datetime | None = None) -> bool:
    return workshop.state == Workshop.State.ENDED or (now or timezone.now()) >= workshop.ends_at


def attendee_for(*, workshop: Workshop, user: Visitor | None) -> Attendee | None:
    member = signed_in(user)
    if member is None:
        return None
    return Attendee.objects.filter(workshop=workshop, user=member).first()


def attendance_current(*, user: Visitor | None, now: datetime | None = None) -> Attendee | None:
    """The workshop ``user`` attends now (the latest not ended), for a "continue" link."""
    member = signed_in(user)
    if member is None:
        return None
    now = now or timezone.now()
    return (
        Attendee.objects.filter(user=member, workshop__ends_at__gt=now)
        .exclude(workshop__state=Workshop.State.ENDED)
        .select_related("workshop")
        .order_by("-joined_at")
        .first()
    )


def labs_by_course() -> dict[int, list[Lab]]:
    """Every published course's labs, by course id (the create form offers them)."""
    return {course.pk: course_labs(course=course) for course in Course.objects.published()}


@dataclass
class AttendeeHome:
    attendee: Attendee
    workshop: Workshop
    labs: list[LabProgress]

    @property
    def completed(self) -> int:
        return sum(1 for progress in self.labs if progress.completed)


def attendee_home(*, attendee: Attendee) -> AttendeeHome:
    workshop = attendee.workshop
    labs = [lab_progress(lab=lab, user=attendee.user) for lab in workshop.ordered_labs()]
    return AttendeeHome(attendee=attendee, workshop=workshop, labs=labs)


# --- Rooms on now: pre-warming, limits, ending (prewarm.py, ending.py) --------------------------


def workshops_in_session(*, now: datetime | None = None) -> QuerySet[Workshop]:
    """Workshops whose room is on now: not ended, before ``ends_at``, and live or open for
    joining (attendees may press Start before the instructor does)."""
    now = now or timezone.now()
    opens_by = now + timedelta(minutes=settings.WORKSHOP_JOIN_OPENS_MINUTES)
    return (
        Workshop.objects.open()
        .filter(ends_at__gt=now)
        .filter(Q(state=Workshop.State.LIVE) | Q(starts_at__lte=opens_by))
    )


def reserved_lab_host(*, user_id: int, lab_id: int, now: datetime | None = None) -> str:
    """The lab host kept for the learner's room when they start one of its labs (the lab
    engine's LAB_RESERVED_HOST hook), or "": the earliest such workshop in session wins."""
    return (
        workshops_in_session(now=now)
        .filter(attendees__user_id=user_id, workshop_labs__lab_id=lab_id)
        .exclude(lab_host="")
        .order_by("starts_at", "pk")
        .values_list("lab_host", flat=True)
        .first()
    ) or ""


def room_members(*, now: datetime | None = None) -> QuerySet[User]:
    """The users attending a workshop in session: the lab engine's LAB_ROOM_MEMBERS hook, for
    which the per-address limits give way to the per-user ones (a room shares one NAT address).
    Bounded by the workshops' capacities; joining is throttled per address."""
    return get_user_model().objects.filter(
        workshop_attendances__workshop__in=workshops_in_session(now=now)
    )


def workshop_live_sessions(*, workshop: Workshop) -> QuerySet[LabSession]:
    """Live sessions of the workshop's labs held by its attendees (what ending destroys)."""
    return LabSession.objects.live().filter(
        user__workshop_attendances__workshop=workshop,
        lab__in=workshop.workshop_labs.values("lab"),
    )


def workshops_due_to_end(*, now: datetime | None = None) -> QuerySet[Workshop]:
    return Workshop.objects.open().filter(ends_at__lte=now or timezone.now())


def workshops_due_to_start(*, now: datetime | None = None) -> QuerySet[Workshop]:
    now = now or timezone.now()
    return Workshop.objects.filter(
        state=Workshop.State.SCHEDULED, starts_at__lte=now, ends_at__gt=now
    )
