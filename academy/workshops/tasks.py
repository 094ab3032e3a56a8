"""Thin Celery tasks of the workshops (beat entries in settings.CELERY_BEAT_SCHEDULE)."""

from typing import Any

from celery import shared_task

from academy.workshops import ending


@shared_task(acks_late=True)
def tick() -> dict[str, Any]:
    """Starts and ends workshops on time and sizes their warm pools (WORKSHOP_TICK_SECONDS)."""
    return ending.workshops_tick()


@shared_task(acks_late=True)
def forget_guests() -> int:
    """Deletes guests WORKSHOP_GUEST_RETENTION_DAYS after their workshop ended (daily)."""
    return ending.guests_forget()
