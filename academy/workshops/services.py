"""Writes of the workshops side: creating and editing workshops, joining, resuming, claiming.

Every function is keyword-only and raises WorkshopError, with a message in the active language,
when the request cannot be done; nothing is written then.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.crypto import salted_hmac
from django.utils.text import slugify
from django.utils.translation import gettext as _

from academy.courses.models import Course
from academy.workshops import selectors
from academy.workshops.models import (
    CODE_ALPHABET,
    DISPLAY_NAME_MAX_LENGTH,
    JOIN_CODE_LENGTH,
    MAX_CAPACITY,
    RESUME_CODE_LENGTH,
    Attendee,
    Workshop,
    WorkshopLab,
)
from labs.models import Lab
from labs.selectors import labs_for_course
from labs.services import hosts as lab_hosts

if TYPE_CHECKING:
    from academy.accounts.models import User

RESUME_SALT = "academy.workshops.resume-code"


class WorkshopError(Exception):
    """A request that cannot be done; ``message`` is for the person who asked."""

    def __init__(self, message: str, *, code: str = "invalid", suggestion: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.suggestion = suggestion


def _random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def join_code_new() -> str:
    """A join code no open workshop uses."""
    for _attempt in range(50):
        code = _random_code(JOIN_CODE_LENGTH)
        if not Workshop.objects.open().filter(code=code).exists():
            return code
    raise RuntimeError("no free join code after 50 tries")


def _slug_new(title: str) -> str:
    base = slugify(title)[:60].strip("-") or "workshop"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if not Workshop.objects.filter(slug=slug).exists():
            return slug


def _check_fields(
    *, starts_at: datetime, ends_at: datetime, course: Course, labs: Sequence[Lab], capacity: int
) -> None:
    if ends_at <= starts_at:
        raise WorkshopError(_("The workshop must end after it starts."), code="ends_at")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise WorkshopError(
            _("Capacity must be between 1 and %(max)d.") % {"max": MAX_CAPACITY}, code="capacity"
        )
    allowed = {lab.pk for lab in labs_for_course(course=course)}
    if not labs or any(lab.pk not in allowed for lab in labs):
        raise WorkshopError(_("Choose one or more labs of the workshop's course."), code="labs")


def _set_labs(workshop: Workshop, labs: Sequence[Lab]) -> None:
    workshop.workshop_labs.all().delete()
    WorkshopLab.objects.bulk_create(
        WorkshopLab(workshop=workshop, lab=lab, position=position)
        for position, lab in enumerate(labs, start=1)
    )


@transaction.atomic
def workshop_create(
    *,
    created_by: User,
    title: str,
    language: str,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    course: Course,
    labs: Sequence[Lab],
    capacity: int,
    co_instructors: Sequence[User] = (),
) -> Workshop:
    """A scheduled workshop, taught by ``created_by`` and the co-instructors."""
    if not selectors.user_is_instructor(created_by):
        raise WorkshopError(_("Only instructors can create workshops."), code="permission")
    _check_fields(starts_at=starts_at, ends_at=ends_at, course=course, labs=labs, capacity=capacity)
    workshop = Workshop.objects.create(
        code=join_code_new(),
        slug=_slug_new(title),
        title=title,
        language=language,
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=time_zone,
        course=course,
        capacity=capacity,
        created_by=created_by,
    )
    workshop.instructors.set({created_by, *co_instructors})
    _set_labs(workshop, labs)
    return workshop


@transaction.atomic
def workshop_update(
    *,
    workshop: Workshop,
    by: User,
    title: str,
    language: str,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    course: Course,
    labs: Sequence[Lab],
    capacity: int,
    co_instructors: Sequence[User] = (),
) -> Workshop:
    """Changes a workshop ``by`` teaches; ``by`` stays one of its instructors."""
    workshop = Workshop.objects.select_for_update().get(pk=workshop.pk)
    if not (selectors.user_is_instructor(by) and workshop.instructors.filter(pk=by.pk).exists()):
        raise WorkshopError(_("Only this workshop's instructors can change it."), code="permission")
    if workshop.state == Workshop.State.ENDED:
        raise WorkshopError(_("This workshop has ended; it can no longer be changed."))
    _check_fields(starts_at=starts_at, ends_at=ends_at, course=course, labs=labs, capacity=capacity)
    joined = workshop.attendees.count()
    if capacity < joined:
        raise WorkshopError(
            _("%(count)d attendees have already joined: the capacity cannot be lower.")
            % {"count": joined},
            code="capacity",
        )
    workshop.title = title
    workshop.language = language
    workshop.starts_at = starts_at
    workshop.ends_at = ends_at
    workshop.time_zone = time_zone
    workshop.course = course
    workshop.capacity = capacity
    workshop.save()
    workshop.instructors.set({by, *co_instructors})
    if [lab.pk for lab in workshop.ordered_labs()] != [lab.pk for lab in labs]:
        _set_labs(workshop, labs)
    return workshop


# --- Display names ------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
# Control, format (bidirectional overrides, zero-width), surrogate, private-use and unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def display_name_clean(raw: str) -> str:
    """A display name as shown to the room, or WorkshopError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise WorkshopError(_("Enter a display name."), code="display_name")
    # Bounded before any other work: a 10 KB name costs nothing more than a long one.
    if len(raw) > DISPLAY_NAME_MAX_LENGTH * 4:
        raise WorkshopError(
            _("Keep your display name to at most %(max)d characters.")
            % {"max": DISPLAY_NAME_MAX_LENGTH},
            code="display_name",
        )
    name = unicodedata.normalize("NFC", raw)
    if any(
        unicodedata.category(char) in _REFUSED_CATEGORIES for char in name if char not in "\t\n\r "
    ):
        raise WorkshopError(
            _("Use letters, digits, spaces and punctuation only in your display name."),
            code="display_name",
        )
    name = _SPACES.sub(" ", name).strip()
    if not name:
        raise WorkshopError(_("Enter a display name."), code="display_name")
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        raise WorkshopError(
            _("Keep your display name to at most %(max)d characters.")
            % {"max": DISPLAY_NAME_MAX_LENGTH},
            code="display_name",
        )
    return name


def _name_key(name: str) -> str:
    return name.casefold()


def display_name_suggestion(*, workshop: Workshop, name: str) -> str:
    """The first of "Ana 2", "Ana 3"… that nobody in the workshop uses."""
    taken = set(workshop.attendees.values_list("display_name_key", flat=True))
    for number in range(2, MAX_CAPACITY + 3):
        suffix = f" {number}"
        candidate = name[: DISPLAY_NAME_MAX_LENGTH - len(suffix)].rstrip() + suffix
        if _name_key(candidate) not in taken:
            return candidate
    return ""


# --- Joining ------------------------------------------------------------------------------------


def resume_code_digest(*, workshop: Workshop, code: str) -> str:
    """What is stored of a resume code: an HMAC under the site's secret key, per workshop, so
    that the database alone gives no code away and a lookup needs no scan."""
    normalized = selectors.join_code_normalize(code)
    return salted_hmac(RESUME_SALT, f"{workshop.pk}:{normalized}", algorithm="sha256").hexdigest()


def join_refusal(*, workshop: Workshop, now: datetime | None = None) -> str | None:
    """Why nobody can join ``workshop`` now (in the active language), or None."""
    now = now or timezone.now()
    if selectors.workshop_has_ended(workshop, now=now):
        return _("This workshop has ended. Thank you for coming!")
    opens = selectors.join_opens_at(workshop)
    if now < opens:
        local = timezone.localtime(opens, timezone=_zone(workshop))
        return _("Joining opens at %(time)s, %(minutes)d minutes before the workshop starts.") % {
            "time": formats.date_format(local, "DATETIME_FORMAT"),
            "minutes": settings.WORKSHOP_JOIN_OPENS_MINUTES,
        }
    if workshop.attendees.count() >= workshop.capacity:
        return _("This workshop is full: all %(capacity)d places are taken.") % {
            "capacity": workshop.capacity
        }
    return None


def _zone(workshop: Workshop) -> tzinfo:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(workshop.time_zone)
    except (ValueError, KeyError):
        return timezone.get_fixed_timezone(0)


def _guest_user_new(*, workshop: Workshop, display_name: str) -> User:
    User = get_user_model()
    user = User(
        username=f"guest-{secrets.token_hex(8)}",
        first_name=display_name[:150],
        preferred_language=workshop.language,
    )
    user.set_unusable_password()
    user.save()
    return user


def attendee_join(
    *, workshop: Workshop, display_name: str, user: User | None = None, now: datetime | None = None
) -> tuple[Attendee, str]:
    """Joins ``workshop`` as ``display_name``: a new guest account, or ``user``'s own account
    when a signed-in member joins. Returns the attendee and their resume code (shown once)."""
    name = display_name_clean(display_name)
    with transaction.atomic():
        # Taken first: two joins racing for the last place are counted one after the other.
        workshop = Workshop.objects.select_for_update().get(pk=workshop.pk)
        refusal = join_refusal(workshop=workshop, now=now)
        if refusal:
            raise WorkshopError(refusal, code="closed")
        if user is not None and workshop.attendees.filter(user=user).exists():
            raise WorkshopError(_("You have already joined this workshop."), code="joined")
        if workshop.attendees.filter(display_name_key=_name_key(name)).exists():
            suggestion = display_name_suggestion(workshop=workshop, name=name)
            raise WorkshopError(
                _(
                    "Someone in this workshop is already called “%(name)s”. "
                    "How about “%(suggestion)s”?"
                )
                % {"name": name, "suggestion": suggestion},
                code="name_taken",
                suggestion=suggestion,
            )
        claimed = user is not None and user.has_usable_password()
        if user is None:
            user = _guest_user_new(workshop=workshop, display_name=name)
        for _attempt in range(5):
            code = _random_code(RESUME_CODE_LENGTH)
            try:
                with transaction.atomic():
                    attendee = Attendee.objects.create(
                        workshop=workshop,
                        user=user,
                        display_name=name,
                        display_name_key=_name_key(name),
                        resume_code_hash=resume_code_digest(workshop=workshop, code=code),
                        claimed=claimed,
                        last_seen_at=timezone.now(),
                    )
            except IntegrityError:
                # Two people typed the same name at once, or (once in 10^11) a code collided.
                if workshop.attendees.filter(display_name_key=_name_key(name)).exists():
                    raise WorkshopError(
                        _("Someone in this workshop is already called “%(name)s”.")
                        % {"name": name},
                        code="name_taken",
                        suggestion=display_name_suggestion(workshop=workshop, name=name),
                    ) from None
                continue
            return attendee, code
    raise RuntimeError("no free resume code after 5 tries")


def attendee_resume(*, workshop: Workshop, resume_code: str) -> Attendee | None:
    """The attendee of ``workshop`` whose resume code this is, or None."""
    code = selectors.join_code_normalize(resume_code)
    if len(code) != RESUME_CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    if selectors.workshop_has_ended(workshop):
        return None
    digest = resume_code_digest(workshop=workshop, code=code)
    attendee = (
        Attendee.objects.select_related("user", "workshop")
        .filter(workshop=workshop, resume_code_hash=digest, user__is_active=True)
        .first()
    )
    if attendee is not None:
        attendee.last_seen_at = timezone.now()
        attendee.save(update_fields=["last_seen_at"])
    return attendee


def attendee_resume_code_renew(*, attendee: Attendee) -> str:
    """A new resume code for a signed-in attendee who lost theirs; the old one stops working."""
    for _attempt in range(5):
        code = _random_code(RESUME_CODE_LENGTH)
        try:
            with transaction.atomic():
                Attendee.objects.filter(pk=attendee.pk).update(
                    resume_code_hash=resume_code_digest(workshop=attendee.workshop, code=code)
                )
        except IntegrityError:
            continue
        return code
    raise RuntimeError("no free resume code after 5 tries")


@transaction.atomic
def attendee_claim(*, attendee: Attendee, username: str, email: str, password: str) -> Attendee:
    """Makes a guest's account a normal one (its labs and progress stay with it). The caller
    validates the fields with the sign-up form's rules."""
    if attendee.claimed:
        raise WorkshopError(_("This account has already been claimed."), code="claimed")
    user = attendee.user
    user.username = username
    user.email = email
    user.set_password(password)
    user.save()
    now = timezone.now()
    Attendee.objects.filter(user=user, claimed=False).update(claimed=True, claimed_at=now)
    attendee.refresh_from_db()
    return attendee


# --- Starting and ending (prewarm.py sizes the warm pool, ending.py does the rest) ---------------


def _is_teacher(workshop: Workshop, by: User) -> bool:
    return selectors.user_is_instructor(by) and workshop.instructors.filter(pk=by.pk).exists()


def workshop_start(
    *, workshop: Workshop, by: User | None = None, now: datetime | None = None
) -> Workshop:
    """The room is live: by an instructor's Start, or by the beat once ``starts_at`` passed
    (``by`` None). Starting a live workshop again changes nothing; an ended one cannot start."""
    now = now or timezone.now()
    with transaction.atomic():
        workshop = Workshop.objects.select_for_update().get(pk=workshop.pk)
        if by is not None and not _is_teacher(workshop, by):
            raise WorkshopError(
                _("Only this workshop's instructors can start it."), code="permission"
            )
        if workshop.state == Workshop.State.ENDED or now >= workshop.ends_at:
            raise WorkshopError(_("This workshop has ended; it cannot start again."), code="ended")
        if workshop.state == Workshop.State.SCHEDULED:
            workshop.state = Workshop.State.LIVE
            workshop.went_live_at = now
            workshop.save(update_fields=["state", "went_live_at", "updated_at"])
            # The warm pool follows at once, not at the next beat, on every lab host.
            lab_hosts.fan_out("pool_refill")
    return workshop


def workshop_end(*, workshop: Workshop, by: User | None = None, now: datetime | None = None) -> int:
    """Ends the workshop: every live session of its attendees for its labs ends (the lab host's
    worker removes the containers, as for a learner's Stop), the join code is free again, and
    the extra warm pool is released (the refill finds no workshop asking for it). By an
    instructor's End, or by the beat once ``ends_at`` passed (``by`` None). Returns how many
    sessions it ended; a second call ends what is still live (nothing, usually)."""
    from labs.services import lab_session_end

    now = now or timezone.now()
    with transaction.atomic():
        workshop = Workshop.objects.select_for_update().get(pk=workshop.pk)
        if by is not None and not _is_teacher(workshop, by):
            raise WorkshopError(
                _("Only this workshop's instructors can end it."), code="permission"
            )
        if workshop.state != Workshop.State.ENDED:
            workshop.state = Workshop.State.ENDED
            workshop.ended_at = now
            workshop.save(update_fields=["state", "ended_at", "updated_at"])
        sessions = list(selectors.workshop_live_sessions(workshop=workshop).distinct())
        for session in sessions:
            lab_session_end(session=session)
        lab_hosts.fan_out("pool_refill")
    return len(sessions)
