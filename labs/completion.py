"""What a learner did in a lab, once every step has passed: the completion page's figures.

Read-only, and always for one learner: nothing here takes a session id from a request, so a
summary can only ever be of the signed-in learner's own work. An exam's practical task has no
completion (it is graded with its exam).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from labs.journal import Coverage
from labs.models import CheckResult, Lab, LabSession, LabStep

if TYPE_CHECKING:
    from academy.accounts.models import User
    from academy.accounts.typing import Visitor


@dataclass(frozen=True)
class StepDone:
    step: LabStep
    first_passed_at: datetime | None  # None: not passed yet
    checks: int  # how many times the learner checked this step, passes and failures


@dataclass(frozen=True)
class LabCompletion:
    """A learner's run through a lab. ``completed`` says whether every step has passed; the
    results and timing fields are only filled in when it has."""

    lab: Lab
    steps: list[StepDone]
    started_at: datetime | None  # the first session's start
    finished_at: datetime | None  # the first pass of the step passed last
    sessions: int
    checks: int
    failed_checks: int
    # The session in which the last step first passed, and its Results.
    session: LabSession | None = None
    journals: int = 0
    latest_status: str = ""  # Chaos Toolkit status of the newest journal, "" without one
    latest_title: str = ""
    coverage: Coverage | None = None

    @property
    def completed(self) -> bool:
        return bool(self.steps) and all(done.first_passed_at for done in self.steps)

    @property
    def passed(self) -> int:
        return sum(1 for done in self.steps if done.first_passed_at)

    @property
    def remaining(self) -> list[StepDone]:
        return [done for done in self.steps if not done.first_passed_at]

    @property
    def duration(self) -> timedelta | None:
        if not (self.completed and self.started_at and self.finished_at):
            return None
        return max(self.finished_at - self.started_at, timedelta(0))

    @property
    def duration_text(self) -> str:
        return duration_text(self.duration)

    @property
    def results_url(self) -> str | None:
        return self.session.get_absolute_url() + "#results" if self.session else None


def lab_completion(*, lab: Lab, user: Visitor | None) -> LabCompletion | None:
    """The signed-in ``user``'s run through ``lab``; None for an exam's task or a visitor."""
    # labs.selectors imports this module for the session status: import it when used.
    from labs.selectors import session_results

    if lab.exam_only or user is None or not user.is_authenticated:
        return None
    mine = CheckResult.objects.filter(session__user=user, session__lab=lab)
    per_step = {
        row["step_id"]: row
        # No ordering: the model's (by time) would split the groups.
        for row in mine.order_by()
        .values("step_id")
        .annotate(first_pass=Min("created_at", filter=Q(passed=True)), checks=Count("pk"))
    }
    steps = []
    for step in lab.steps.order_by("number"):
        row = per_step.get(step.pk)
        steps.append(
            StepDone(
                step=step,
                first_passed_at=row["first_pass"] if row else None,
                checks=row["checks"] if row else 0,
            )
        )
    sessions = LabSession.objects.filter(user=user, lab=lab)
    first = sessions.order_by("requested_at", "pk").first()
    summary = LabCompletion(
        lab=lab,
        steps=steps,
        started_at=first.requested_at if first else None,
        finished_at=None,
        sessions=sessions.count(),
        checks=mine.count(),
        failed_checks=mine.filter(passed=False).count(),
    )
    if not summary.completed:
        return summary
    last = max(
        (done for done in steps if done.first_passed_at is not None),
        key=attrgetter("first_passed_at"),
    )
    finishing = (
        mine.filter(step=last.step, passed=True)
        .select_related("session__lab")
        .order_by("created_at", "pk")
        .first()
    )
    assert finishing is not None  # its step has passed
    session = finishing.session
    results = session_results(session=session)
    newest = results["journals"][0] if results["journals"] else None
    return LabCompletion(
        lab=lab,
        steps=steps,
        started_at=summary.started_at,
        finished_at=last.first_passed_at,
        sessions=summary.sessions,
        checks=summary.checks,
        failed_checks=summary.failed_checks,
        session=session,
        journals=len(results["journals"]),
        latest_status=newest.display_status if newest else "",
        latest_title=newest.title if newest else "",
        coverage=results["coverage"],
    )


def passed_step_count(*, lab: Lab, user: User) -> int:
    """How many steps of ``lab`` have passed for ``user``, in any of their sessions."""
    return (
        CheckResult.objects.filter(session__user=user, session__lab=lab, passed=True)
        .values("step_id")
        .distinct()
        .count()
    )


def lab_is_completed_by(*, lab: Lab, user: User | None) -> bool:
    """Whether every step of ``lab`` has passed for ``user`` (in any of their sessions)."""
    if lab.exam_only or user is None:
        return False
    steps = lab.steps.count()
    return steps > 0 and passed_step_count(lab=lab, user=user) >= steps


def lab_completion_url(*, lab: Lab, user: User | None) -> str | None:
    """The completion page of ``lab``, in the active language, once ``user`` has finished it."""
    if not lab_is_completed_by(lab=lab, user=user):
        return None
    return reverse("labs:complete", kwargs={"lab_slug": lab.slug})


def duration_text(value: timedelta | None) -> str:
    """A duration the way people say it, in the active language: "12 min", "1 h 5 min"."""
    if value is None:
        return ""
    minutes = int(value.total_seconds()) // 60
    if minutes < 1:
        return _("under a minute")
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days and not hours:
        return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}
    if days:
        # Translators: a duration of whole days and hours, e.g. "2 days 3 h".
        return ngettext("%(days)d day %(hours)d h", "%(days)d days %(hours)d h", days) % {
            "days": days,
            "hours": hours,
        }
    if hours and minutes:
        # Translators: a duration, e.g. "1 h 5 min".
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if hours:
        # Translators: a duration of whole hours, e.g. "2 h".
        return _("%(hours)d h") % {"hours": hours}
    # Translators: a duration in minutes, e.g. "12 min".
    return ngettext("%(minutes)d min", "%(minutes)d min", minutes) % {"minutes": minutes}
