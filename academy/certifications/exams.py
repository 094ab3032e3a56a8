"""Writes of the exam flow: start an attempt, save answers, submit, grade, expire.

Everything that decides a score lives on the server: the draw, the option order, the key and
the deadline are fixed when the attempt starts; the browser only ever sends option ids for a
position, and an attempt accepts them only while it is in progress and before its deadline.
Practical tasks are lab sessions graded by their checks on the lab host when the attempt is
submitted (the ``grade`` task on the checks queue), after which the attempt is final.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from academy.certifications.content import domain_shares
from academy.certifications.models import (
    Attempt,
    AttemptQuestion,
    AttemptTask,
    Certification,
    Item,
    ItemKind,
)
from academy.certifications.selectors import certification_eligibility
from labs.models import LabSession

if TYPE_CHECKING:
    from academy.accounts.models import User

logger = logging.getLogger(__name__)

# A multiple-answer item has at most a handful of options; anything longer is not an answer.
MAX_SELECTED = 10
# An attempt left in "grading" this long (its task lost with a worker) is graded again by beat.
GRADING_RETRY_AFTER = timedelta(minutes=10)

_random = random.SystemRandom()


class ExamError(Exception):
    """An exam action the rules refuse; ``message`` is for the candidate, in their language."""

    def __init__(self, message: str | StrPromise) -> None:
        super().__init__(str(message))
        self.message = message


# --- Starting --------------------------------------------------------------------------------


def _draw(certification: Certification) -> list[Item]:
    """Items for one attempt: each domain's share of the blueprint, drawn at random from its
    published items, then shuffled together so the domains do not come in blocks."""
    domains = list(certification.domains.published().order_by("order"))
    shares = domain_shares(certification.questions, [d.weight for d in domains])
    items = list(certification.items.published().prefetch_related("options"))
    drawn: list[Item] = []
    for domain, share in zip(domains, shares, strict=True):
        pool = [item for item in items if item.domain_id == domain.pk]
        if len(pool) < share:
            raise ExamError(_("This exam cannot be taken right now. Please try again later."))
        drawn.extend(_random.sample(pool, share))
    _random.shuffle(drawn)
    return drawn


def attempt_start(
    *, user: User, certification: Certification, language: str, now: datetime | None = None
) -> Attempt:
    """A new attempt for ``user``, or their attempt in progress if they have one.

    Eligibility is checked here, not only shown: prerequisites, the cool-down after the last
    attempt, the attempts allowed per period. The unique constraint on attempts in progress
    settles two starts racing each other: the loser gets the winner's attempt.
    """
    now = now or timezone.now()
    in_progress = Attempt.objects.in_progress().filter(user=user, certification=certification)
    existing = in_progress.first()
    if existing is not None:
        return existing
    eligibility = certification_eligibility(certification=certification, user=user, now=now)
    if not eligibility.may_start:
        raise ExamError(eligibility.reasons[0])
    drawn = _draw(certification)
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                certification=certification,
                user=user,
                language=language,
                started_at=now,
                deadline=now + timedelta(minutes=certification.minutes),
                pass_mark=certification.pass_mark,
            )
            AttemptQuestion.objects.bulk_create(
                _question(attempt, position, item) for position, item in enumerate(drawn, start=1)
            )
            tasks = certification.tasks.published().select_related("lab").order_by("order")
            AttemptTask.objects.bulk_create(
                AttemptTask(
                    attempt=attempt,
                    lab=task.lab,
                    domain_id=task.domain_id,
                    position=position,
                    points_possible=task.lab.steps.count(),
                )
                for position, task in enumerate(tasks, start=1)
            )
    except IntegrityError:
        existing = in_progress.first()
        if existing is None:
            raise
        return existing
    return attempt


def _question(attempt: Attempt, position: int, item: Item) -> AttemptQuestion:
    options = list(item.options.all())
    _random.shuffle(options)
    return AttemptQuestion(
        attempt=attempt,
        item=item,
        position=position,
        option_order=[option.pk for option in options],
        correct_options=sorted(option.pk for option in options if option.is_correct),
    )


# --- Answering -------------------------------------------------------------------------------


def _refusal(attempt: Attempt, now: datetime) -> StrPromise | None:
    if attempt.state != Attempt.State.IN_PROGRESS:
        return _("This attempt has been submitted; its answers can no longer change.")
    if now >= attempt.deadline:
        return _("Time is up: answers given after the deadline are not accepted.")
    return None


def attempt_answer(
    *, attempt: Attempt, position: int, option_ids: list[int], now: datetime | None = None
) -> AttemptQuestion:
    """Saves the candidate's answer to one question, replacing the previous one.

    Only ids of that question's options count; a single-answer item takes at most one. An
    empty list clears the answer.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        refusal = _refusal(locked, now)
        if refusal:
            raise ExamError(refusal)
        question = (
            locked.questions.select_related("item").filter(position=position).first()
            if isinstance(position, int)
            else None
        )
        if question is None:
            raise ExamError(_("There is no such question in this attempt."))
        chosen = _valid_selection(question, option_ids)
        question.selected = chosen
        question.answered_at = now if chosen else None
        question.save(update_fields=["selected", "answered_at"])
    return question


def _valid_selection(question: AttemptQuestion, option_ids: object) -> list[int]:
    if not isinstance(option_ids, list | tuple) or len(option_ids) > MAX_SELECTED:
        raise ExamError(_("That answer is not one of this question's options."))
    offered = set(question.option_order)
    chosen = set()
    for value in option_ids:
        if isinstance(value, bool) or not isinstance(value, int) or value not in offered:
            raise ExamError(_("That answer is not one of this question's options."))
        chosen.add(value)
    if question.item.kind != ItemKind.MULTIPLE and len(chosen) > 1:
        raise ExamError(_("This question takes one answer."))
    # Stored in the order shown, so a reload shows exactly what was chosen.
    return [pk for pk in question.option_order if pk in chosen]


# --- Submitting and grading ------------------------------------------------------------------


def attempt_submit(
    *,
    attempt: Attempt,
    by: str = Attempt.SubmittedBy.CANDIDATE,
    now: datetime | None = None,
) -> Attempt:
    """Ends the attempt: the answers saved so far are final and graded.

    Harmless twice: a submitted attempt is returned as it is. A candidate's submit that arrives
    after the deadline is recorded as submitted by the deadline: the answers it might carry were
    refused by ``attempt_answer``, so only what was saved in time counts.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.state != Attempt.State.IN_PROGRESS:
            return locked
        if now >= locked.deadline:
            by = Attempt.SubmittedBy.DEADLINE
        for question in locked.questions.all():
            question.correct = set(question.selected) == set(question.correct_options)
            question.save(update_fields=["correct"])
        locked.state = Attempt.State.GRADING
        locked.submitted_at = min(now, locked.deadline)
        locked.submitted_by = by
        locked.save(update_fields=["state", "submitted_at", "submitted_by"])
        if locked.tasks.filter(session__isnull=False).exists():
            _enqueue_grading(locked)
        else:
            _finalize(locked, now)
    return locked


def _enqueue_grading(attempt: Attempt) -> None:
    from celery import current_app

    from labs.services.hosts import session_host
    from labs.services.state import task_queue

    # On the checks queue of the lab host holding the tasks' sessions (they share one host,
    # labs.services.hosts.host_choose); an attempt with no session is graded anywhere.
    session = next(
        (task.session for task in attempt.tasks.select_related("session") if task.session),
        None,
    )
    queue = task_queue("checks", session_host(session) if session else None)
    attempt_id = attempt.pk
    transaction.on_commit(
        lambda: current_app.send_task(
            "academy.certifications.tasks.grade", args=(attempt_id,), queue=queue
        )
    )


def attempt_grade(*, attempt: Attempt, now: datetime | None = None) -> Attempt:
    """Grades the practical tasks of a submitted attempt on its lab host, ends their lab
    sessions and makes the attempt final. Idempotent: a graded task is not graded again."""
    from labs.services import lab_session_stop
    from labs.services.grading import lab_session_grade_all

    for task in attempt.tasks.select_related("session").filter(graded_at__isnull=True):
        verdicts: list[dict[str, Any]] = []
        session = task.session
        if session is not None:
            try:
                verdicts = lab_session_grade_all(session=session, language=attempt.language)
            except Exception:  # the sandbox is gone: its steps earn nothing
                logger.exception("Grading the practical task %s failed", task.pk)
        task.verdicts = verdicts
        task.points = sum(1 for verdict in verdicts if verdict.get("passed"))
        task.graded_at = timezone.now()
        task.save(update_fields=["verdicts", "points", "graded_at"])
        if session is not None:
            try:
                lab_session_stop(session=session)
            except Exception:
                logger.exception("Stopping the exam session %s failed", session.pk)
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.state == Attempt.State.GRADING:
            _finalize(locked, now or timezone.now())
    return locked


def _finalize(attempt: Attempt, now: datetime) -> None:
    """Scores per domain and in all, the verdict, and on a pass the certificate."""
    domains = {
        d.pk: d for d in attempt.certification.domains.order_by("order").all()
    }  # retired ones too: an item drawn before a retirement still counts in its domain
    points: dict[int, list[int]] = {pk: [0, 0] for pk in domains}
    for question in attempt.questions.select_related("item"):
        entry = points.setdefault(question.item.domain_id, [0, 0])
        entry[0] += 1 if question.correct else 0
        entry[1] += 1
    for task in attempt.tasks.all():
        entry = points.setdefault(task.domain_id, [0, 0])
        entry[0] += task.points or 0
        entry[1] += task.points_possible
    attempt.domain_scores = [
        {
            "domain": domains[pk].key,
            # django-modeltranslation's fields, made at run time.
            "title_en": domains[pk].title_en,  # type: ignore[attr-defined]
            "title_es": domains[pk].title_es or domains[pk].title_en,  # type: ignore[attr-defined]
            "points": earned,
            "possible": possible,
        }
        for pk, (earned, possible) in points.items()
        if possible
    ]
    attempt.points = sum(earned for earned, _ in points.values())
    attempt.points_possible = sum(possible for _, possible in points.values())
    attempt.score = (
        round(100 * attempt.points / attempt.points_possible) if attempt.points_possible else 0
    )
    attempt.passed = attempt.score >= attempt.pass_mark
    attempt.state = Attempt.State.GRADED
    attempt.graded_at = now
    attempt.save(
        update_fields=[
            "domain_scores",
            "points",
            "points_possible",
            "score",
            "passed",
            "state",
            "graded_at",
        ]
    )
    if attempt.passed:
        _issue_certificate(attempt, now)


def _issue_certificate(attempt: Attempt, now: datetime) -> bool:
    """The pass's certificate. A failure here (no issuer key yet, say) never undoes the grade:
    the attempt stays passed, and beat's sweep issues the certificate once it can."""
    from academy.certifications.certificates import CertificateError, certificate_issue

    try:
        with transaction.atomic():
            certificate_issue(
                user=attempt.user,
                certification=attempt.certification,
                language=attempt.language,
                attempt=attempt,
                now=now,
            )
    except CertificateError:
        logger.exception("The certificate of attempt %s could not be issued yet", attempt.pk)
        return False
    return True


def attempts_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Beat's sweep: submits every attempt whose deadline has passed, whether or not its
    candidate ever comes back, grades again any attempt whose grading was lost, and issues the
    certificate of any pass that could not get one when it was graded."""
    now = now or timezone.now()
    expired = 0
    for attempt in Attempt.objects.in_progress().filter(deadline__lte=now):
        attempt_submit(attempt=attempt, by=Attempt.SubmittedBy.DEADLINE, now=now)
        expired += 1
    stuck = 0
    for attempt in Attempt.objects.filter(
        state=Attempt.State.GRADING, submitted_at__lte=now - GRADING_RETRY_AFTER
    ):
        with transaction.atomic():
            _enqueue_grading(attempt)
        stuck += 1
    issued = 0
    for attempt in Attempt.objects.filter(
        state=Attempt.State.GRADED, passed=True, certificate__isnull=True
    ).select_related("user", "certification"):
        issued += _issue_certificate(attempt, now)
    return {"expired": expired, "regraded": stuck, "certificates": issued}


# --- Practical tasks -------------------------------------------------------------------------


def attempt_task_start(
    *, attempt: Attempt, task: AttemptTask, now: datetime | None = None
) -> LabSession:
    """The lab session of one practical task, started on demand inside the attempt's time and
    ending at its deadline."""
    from labs.services.provisioning import lab_session_start_for_exam

    now = now or timezone.now()
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        refusal = _refusal(locked, now)
        if refusal:
            raise ExamError(refusal)
        task = AttemptTask.objects.select_for_update().get(pk=task.pk, attempt=locked)
        if task.session is not None and task.session.state in LabSession.LIVE_STATES:
            return task.session
        # The sandbox outlives the deadline by a little, so that the submission at the deadline
        # still finds it to grade; the candidate's time ends at the deadline all the same.
        session = lab_session_start_for_exam(
            user=locked.user,
            lab=task.lab,
            expires_at=locked.deadline + timedelta(seconds=settings.LAB_EXAM_GRADING_GRACE_SECONDS),
            language=locked.language,
        )
        task.session = session
        task.save(update_fields=["session"])
    return session
