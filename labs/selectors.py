"""Reads of the lab side: catalogue, progress, what a session page shows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext as _

from academy.i18n import any_language_slug
from labs import services
from labs.completion import lab_completion_url
from labs.journal import (
    Coverage,
    JournalEntry,
    PartCoverage,
    chaos_coverage,
    journal_timeline,
)
from labs.models import CheckResult, Lab, LabSession, LabStep
from labs.topology import session_containers

if TYPE_CHECKING:
    from academy.accounts.models import User
    from academy.accounts.typing import Visitor
    from academy.courses.models import Course


def lab_get_by_slug(*, slug: str) -> Lab:
    # An exam's practical task has no page of its own: it opens from its attempt.
    lab = Lab.objects.published().filter(any_language_slug(slug), exam_only=False).first()
    if lab is None:
        raise Http404
    return lab


def session_get_for_user(*, session_id: int, user: User) -> LabSession:
    """A session its owner may see; staff may see anyone's. Others get a 404, not a 403."""
    # With its user: the status poll names them for the completion link (one query less).
    session = LabSession.objects.select_related("lab", "user").filter(pk=session_id).first()
    if session is None or not (session.user_id == user.pk or user.is_staff):
        raise Http404
    return session


@dataclass
class LabProgress:
    lab: Lab
    steps: int
    passed: int
    completed: bool
    live_session: LabSession | None

    @property
    def percent(self) -> int:
        return round(100 * self.passed / self.steps) if self.steps else 0


def lab_progress(*, lab: Lab, user: Visitor | None, step_count: int | None = None) -> LabProgress:
    """``user``'s progress in ``lab``; ``step_count``: its number of steps, when the caller has
    read them already (one query less)."""
    counts = None if step_count is None else {lab.pk: step_count}
    return lab_catalogue(user=user, labs=[lab], step_counts=counts)[0]


def lab_row_key(lab: Lab) -> str:
    """A digest of every field of the lab's row: the key of a cached part that shows the lab
    alone (its diagram). A change of any field, by a content sync or in the admin, gives a new
    key, so such a part is never stale."""
    values = repr([getattr(lab, field.attname) for field in Lab._meta.concrete_fields])
    return hashlib.blake2b(values.encode(), digest_size=12).hexdigest()


def lab_steps_listed(*, lab: Lab) -> list[LabStep]:
    """The lab's steps in order, with their titles only (not their scripts and instructions)."""
    return list(lab.steps.order_by("number").only("lab_id", "number", "title"))


def lab_catalogue(
    *,
    user: Visitor | None,
    labs: list[Lab] | None = None,
    step_counts: dict[int, int] | None = None,
) -> list[LabProgress]:
    """The published labs (or ``labs``), each with ``user``'s progress, in a fixed number of
    queries whatever the number of labs: the labs with their step counts, then for a learner
    their passed steps and their live sessions. ``step_counts``: the number of steps of each of
    ``labs`` by id, when the caller has them already."""
    steps: dict[int, int]
    if labs is None:
        counted = list(
            Lab.objects.published().filter(exam_only=False).annotate(step_count=Count("steps"))
        )
        labs = list(counted)
        # django-stubs loses annotate()'s fields behind the typed manager (models.LabManager).
        steps = {lab.pk: lab.step_count for lab in counted}  # type: ignore[attr-defined]
    elif step_counts is not None:
        steps = step_counts
    else:
        steps = dict(
            LabStep.objects.filter(lab__in=labs)
            .order_by()
            .values("lab_id")
            .annotate(total=Count("pk"))
            .values_list("lab_id", "total")
        )
    if user is None or not user.is_authenticated or not labs:
        return [LabProgress(lab, steps.get(lab.pk, 0), 0, False, None) for lab in labs]
    passed = dict(
        CheckResult.objects.filter(session__user=user, session__lab__in=labs, passed=True)
        .order_by()  # the model's ordering would split the groups
        .values("session__lab_id")
        .annotate(steps=Count("step_id", distinct=True))
        .values_list("session__lab_id", "steps")
    )
    live: dict[int, LabSession] = {}
    for session in LabSession.objects.live().filter(user=user, lab__in=labs):
        live.setdefault(session.lab_id, session)  # newest first, as .first() would
    return [
        LabProgress(
            lab,
            steps.get(lab.pk, 0),
            passed.get(lab.pk, 0),
            steps.get(lab.pk, 0) > 0 and passed.get(lab.pk, 0) >= steps.get(lab.pk, 0),
            live.get(lab.pk),
        )
        for lab in labs
    ]


def labs_for_course(*, course: Course) -> list[Lab]:
    """The labs that practise a lesson of ``course``, in the labs' own order."""
    prefix = f"{course.key}/"
    labs = Lab.objects.published().order_by("order", "key")
    return [lab for lab in labs if any(str(ref).startswith(prefix) for ref in lab.lesson_refs)]


def labs_for_lesson(*, course_key: str, lesson_key: str) -> list[Lab]:
    ref = f"{course_key}/{lesson_key}"
    labs = Lab.objects.published().filter(exam_only=False)
    return [lab for lab in labs if ref in lab.lesson_refs]


def session_status(
    *, session: LabSession, lab_steps: list[LabStep] | None = None
) -> dict[str, Any]:
    """What the lab page shows live: state, queue position, time left, each step's result.
    ``lab_steps``: the lab's steps in order, when the caller has read them already."""
    from django.utils import timezone

    latest: dict[int, CheckResult] = {}
    passed_ever: set[int] = set()
    # One read of the results, without their output (the poll shows none of it).
    checks = session.checks.order_by("created_at", "pk").only(
        "session_id", "step_id", "passed", "messages", "timed_out", "created_at"
    )
    for result in checks:
        latest[result.step_id] = result
        if result.passed:
            passed_ever.add(result.step_id)
    steps = []
    # An exam's task shows no verdict per step: its checks run when the exam is submitted.
    exam = session.lab.exam_only
    if lab_steps is None and not exam:
        lab_steps = list(session.lab.steps.order_by("number").only("lab_id", "number"))
    for step in [] if exam or lab_steps is None else lab_steps:
        last = latest.get(step.pk)
        steps.append(
            {
                "number": step.number,
                "passed": step.pk in passed_ever,
                "result": None
                if last is None
                else {
                    "id": last.pk,
                    "passed": last.passed,
                    "messages": last.messages,
                    "timed_out": last.timed_out,
                },
            }
        )
    seconds_left = None
    if session.expires_at and session.is_live:
        ends = session.expires_at
        if session.lab.exam_only:  # the sandbox outlives the exam's deadline to be graded
            ends -= timedelta(seconds=settings.LAB_EXAM_GRADING_GRACE_SECONDS)
        seconds_left = max(0, int((ends - timezone.now()).total_seconds()))
    problem = session_problem(session=session)
    state_label = str(session.get_state_display())
    if problem:
        state_label = _("Restoring") if problem["restoring"] else _("Needs a restore")
    return {
        "id": session.pk,
        "state": session.state,
        "state_label": state_label,
        "live": session.is_live,
        "terminal": services.session_is_running(session),
        "queue_position": services.queue_position(session),
        "seconds_left": seconds_left,
        "extended": session.extended,
        "steps": steps,
        "results_version": session_results_version(session=session),
        "problem": problem,
        "exam": exam,
        "containers": session_containers(session=session),
        "completion_url": lab_completion_url(lab=session.lab, user=session.user),
    }


def session_exam_url(*, session: LabSession) -> str | None:
    """The exam page of the attempt an exam task's session belongs to (None for other labs)."""
    from django.urls import NoReverseMatch, reverse

    if not session.lab.exam_only:
        return None
    task = session.attempt_tasks.select_related("attempt").first()
    if task is None:
        return None
    try:
        return reverse("certifications:attempt", kwargs={"public_id": task.attempt.public_id})
    except NoReverseMatch:
        return None


def session_problem(*, session: LabSession) -> dict[str, Any] | None:
    """What went wrong with a running session's sandbox, in the active language; None when
    nothing did (see labs.services.health)."""
    problem = session.problem or {}
    if not problem or session.state not in services.RUNNING_STATES:
        return None
    return {
        "message": services.problem_text(problem),
        "container": problem.get("container", ""),
        "restoring": bool(problem.get("restoring")),
    }


def session_results_version(*, session: LabSession) -> str:
    """Changes whenever the journals are read again: the page then fetches the results."""
    collected = session.journals_collected_at
    return collected.isoformat() if collected else ""


@dataclass(frozen=True)
class JournalListItem:
    """A journal in the Results list: what the list shows, without reading the journal."""

    path: str
    modified: datetime | None
    size: int | None
    title: str
    display_status: str
    start: datetime | None


def session_results(*, session: LabSession, journal_path: str | None = None) -> dict[str, Any]:
    """The Results section: the list of journals, the chosen (or newest) one's timeline and the
    chaos coverage. Only the shown journal is read; the list and the coverage were worked out
    when the journals were collected (labs.services.results)."""
    rows = session.journal_files.order_by("position", "pk")
    listed = [
        JournalListItem(
            path=row.path,
            modified=row.modified,
            size=row.size,
            title=row.title,
            display_status=row.status,
            start=row.started_at,
        )
        for row in rows.only("path", "modified", "size", "title", "status", "started_at")
    ]
    chosen = next((item for item in listed if item.path == journal_path), None)
    chosen = chosen or (listed[0] if listed else None)
    current = None
    if chosen is not None:
        journal = rows.filter(path=chosen.path).values_list("journal", flat=True).first()
        current = JournalEntry(
            path=chosen.path,
            modified=chosen.modified,
            size=chosen.size,
            timeline=journal_timeline(journal or {}),
        )
    lab = session.lab
    if session.coverage:
        coverage = Coverage(
            parts=tuple(
                PartCoverage(
                    name=str(part.get("name", "")),
                    faulted_by=tuple(map(str, part.get("faulted_by", []))),
                    observed_by=tuple(map(str, part.get("observed_by", []))),
                )
                for part in session.coverage
                if isinstance(part, dict)
            )
        )
    else:  # nothing collected yet: every part of the lab, none exercised
        names = [container["name"] for container in lab.topology]
        coverage = chaos_coverage(names, lab.shell_container, [])
    return {
        "journals": listed,
        "current": current,
        "journals_pruned": session.journals_pruned,
        "journals_max_files": services.JOURNAL_MAX_FILES,
        "journals_max_megabytes": services.JOURNAL_MAX_TOTAL_BYTES // (1024 * 1024),
        "coverage": coverage,
        "results_version": session_results_version(session=session),
        "can_refresh": services.session_is_running(session),
    }
