"""Reads of the certifications side for views: the catalogue, eligibility, an attempt's pages.

Nothing here ever returns the key of a question to a view: the attempt page gets the options
in the candidate's order and what they chose; the result page gets scores per domain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from academy.accounts.typing import signed_in
from academy.certifications.models import Attempt, Certificate, Certification, Option
from academy.courses.models import Course, LessonProgress
from academy.i18n import any_language_slug

if TYPE_CHECKING:
    from academy.accounts.models import User
    from academy.accounts.typing import Visitor


def certification_get_by_slug(*, slug: str) -> Certification:
    """A published certification by its slug in any language."""
    certification = Certification.objects.published().filter(any_language_slug(slug)).first()
    if certification is None:
        raise Http404("No such certification")
    return certification


@dataclass
class Eligibility:
    certification: Certification
    may_start: bool = False
    # Why not, first reason first, in the active language.
    reasons: list[str] = field(default_factory=list)
    # Prerequisite courses: (course, completed?)
    courses: list[tuple[Course, bool]] = field(default_factory=list)
    in_progress: Attempt | None = None
    certificate: Certificate | None = None
    next_attempt_at: datetime | None = None
    attempts_used: int = 0


def _date(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _course_completed(course: Course, user: User) -> bool:
    lessons = course.lessons.published()
    total = lessons.count()
    done = LessonProgress.objects.filter(
        user=user, lesson__in=lessons, completed_at__isnull=False
    ).count()
    return total > 0 and done >= total


def certification_eligibility(
    *, certification: Certification, user: Visitor | None, now: datetime | None = None
) -> Eligibility:
    """Whether ``user`` may start an attempt now, and if not, every reason why."""
    now = now or timezone.now()
    result = Eligibility(certification=certification)
    keys = (certification.prerequisites or {}).get("courses", [])
    courses = {c.key: c for c in Course.objects.published().filter(key__in=keys)}
    learner = signed_in(user)
    for key in keys:
        if key in courses:
            course = courses[key]
            done = learner is not None and _course_completed(course, learner)
            result.courses.append((course, done))
    if learner is None:
        result.reasons.append(_("Sign in to take this exam."))
        return result
    result.in_progress = (
        Attempt.objects.in_progress().filter(user=learner, certification=certification).first()
    )
    result.certificate = (
        Certificate.objects.valid(now).filter(user=learner, certification=certification).first()
    )
    if result.certificate is not None:
        result.reasons.append(
            _("You hold this certification until %(date)s.")
            % {"date": _date(result.certificate.valid_until)}
        )
    for course, completed in result.courses:
        if not completed:
            result.reasons.append(
                _("Complete the course “%(course)s” first.") % {"course": course.title}
            )
    finished = Attempt.objects.filter(user=learner, certification=certification).exclude(
        state=Attempt.State.IN_PROGRESS
    )
    last = finished.order_by("-submitted_at").first()
    if last is not None and last.submitted_at is not None:
        cooled = last.submitted_at + timedelta(hours=certification.cooldown_hours)
        if cooled > now:
            result.next_attempt_at = cooled
            result.reasons.append(
                _("You can take the exam again from %(date)s.") % {"date": _date(cooled)}
            )
    window = now - timedelta(days=certification.attempts_days)
    recent = list(
        Attempt.objects.filter(
            user=learner, certification=certification, started_at__gt=window
        ).values_list("started_at", flat=True)
    )
    result.attempts_used = len(recent)
    if len(recent) >= certification.attempts_count and result.in_progress is None:
        freed = min(recent) + timedelta(days=certification.attempts_days)
        result.next_attempt_at = max(result.next_attempt_at or freed, freed)
        result.reasons.append(
            _(
                "You have used the %(count)d attempts allowed in %(days)d days; the next one "
                "is possible from %(date)s."
            )
            % {
                "count": certification.attempts_count,
                "days": certification.attempts_days,
                "date": _date(freed),
            }
        )
    result.may_start = result.in_progress is not None or not result.reasons
    return result


def certifications_published() -> list[Certification]:
    """The certifications to show where nobody's eligibility matters (the home page)."""
    return list(Certification.objects.published())


def certifications_catalogue(*, user: Visitor | None) -> list[Eligibility]:
    return [
        certification_eligibility(certification=c, user=user)
        for c in Certification.objects.published().prefetch_related("domains")
    ]


def attempt_get_for_user(*, public_id: uuid.UUID | str, user: User) -> Attempt:
    """The candidate's own attempt; anybody else's is a 404, not a 403."""
    attempt = (
        Attempt.objects.select_related("certification")
        .filter(public_id=public_id, user=user)
        .first()
    )
    if attempt is None:
        raise Http404("No such attempt")
    return attempt


@dataclass
class ShownOption:
    id: int
    text: str
    selected: bool


@dataclass
class ShownQuestion:
    position: int
    kind: str
    scenario: str
    prompt: str
    options: list[ShownOption]

    @property
    def answered(self) -> bool:
        return any(option.selected for option in self.options)


def attempt_questions(*, attempt: Attempt) -> list[ShownQuestion]:
    """The questions as the candidate sees them: in the attempt's language and order, options
    shuffled as drawn, with what they chose. No key, no explanation."""
    questions = list(attempt.questions.select_related("item").order_by("position"))
    option_ids = [pk for q in questions for pk in q.option_order]
    options = Option.objects.in_bulk(option_ids)
    shown = []
    with override(attempt.language):
        for question in questions:
            item = question.item
            shown.append(
                ShownQuestion(
                    position=question.position,
                    kind=item.kind,
                    scenario=item.scenario,
                    prompt=item.prompt,
                    options=[
                        ShownOption(pk, options[pk].text, pk in question.selected)
                        for pk in question.option_order
                        if pk in options
                    ],
                )
            )
    return shown


@dataclass
class DomainScore:
    title: str
    points: int
    possible: int

    @property
    def percent(self) -> int:
        return round(100 * self.points / self.possible) if self.possible else 0


def attempt_domain_scores(*, attempt: Attempt, language: str) -> list[DomainScore]:
    return [
        DomainScore(
            title=entry.get(f"title_{language}") or entry.get("title_en", entry["domain"]),
            points=entry["points"],
            possible=entry["possible"],
        )
        for entry in attempt.domain_scores
    ]


def certifications_for_course(*, course: Course) -> list[Certification]:
    """The certifications a course prepares for (it is among their prerequisites)."""
    return [
        c
        for c in Certification.objects.published()
        if course.key in (c.prerequisites or {}).get("courses", [])
    ]


def certificates_of_user(*, user: Visitor | None) -> list[Certificate]:
    if user is None or not user.is_authenticated:
        return []
    return list(Certificate.objects.filter(user=user).select_related("certification"))
