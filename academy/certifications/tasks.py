"""Thin Celery tasks of the exams: take ids, load rows, call a service. Each may run twice."""

from typing import Any

from celery import shared_task

from academy.certifications import exams
from academy.certifications.models import Attempt


@shared_task(acks_late=True)
def grade(attempt_id: int) -> bool:
    """Grades a submitted attempt's practical tasks (on the checks queue: it runs checks)."""
    attempt = Attempt.objects.filter(pk=attempt_id, state=Attempt.State.GRADING).first()
    if attempt is None:
        return False
    exams.attempt_grade(attempt=attempt)
    return True


@shared_task(acks_late=True)
def expire() -> dict[str, Any]:
    return exams.attempts_expire()
