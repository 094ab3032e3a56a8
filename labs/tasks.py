"""Thin Celery tasks: take ids, load rows, call a service. Each may run twice harmlessly."""

from typing import Any

from celery import shared_task

from labs import services
from labs.models import LabSession, LabStep
from labs.services import hosts
from labs.services.limits import check_in_flight_done


@shared_task(acks_late=True)
def provision(session_id: int) -> None:
    session = LabSession.objects.filter(pk=session_id).first()
    if session is not None:
        services.lab_session_provision(session=session)


@shared_task(acks_late=True)
def check(session_id: int, step_id: int, language: str = "en") -> int:
    try:
        session = LabSession.objects.get(pk=session_id)
        step = LabStep.objects.get(pk=step_id, lab_id=session.lab_id)
        return services.lab_session_check(session=session, step=step, language=language).pk
    finally:  # stored or failed, the learner's next click runs a new check
        check_in_flight_done(session_id=session_id)


@shared_task(acks_late=True)
def stop(session_id: int) -> None:
    session = LabSession.objects.filter(pk=session_id).first()
    if session is not None:
        services.lab_session_stop(session=session)


@shared_task(acks_late=True)
def reap() -> dict[str, Any]:
    return services.lab_sessions_reap()


@shared_task(acks_late=True)
def pool_refill() -> int:
    return services.pool_refill()


@shared_task(acks_late=True)
def fan_out(task_name: str, expires: float | None = None) -> list[str]:
    """Beat's per-host work (reap, watch, pool_refill): sent on to every lab host's queue."""
    if task_name not in ("reap", "watch", "pool_refill"):
        raise ValueError(f"not a per-host task: {task_name!r}")
    if task_name == "reap":  # a host that is away cannot expire its own sessions
        hosts.hosts_silent_expire()
    return hosts.fan_out(task_name, expires=expires)


@shared_task(acks_late=True)
def extend(session_id: int) -> None:
    services.lab_session_extend(session=LabSession.objects.get(pk=session_id))


@shared_task(acks_late=True)
def refresh_results(session_id: int) -> bool:
    session = LabSession.objects.filter(pk=session_id).first()
    return session is not None and services.lab_session_results_refresh(session=session)


@shared_task(acks_late=True)
def trim_results() -> dict[str, Any]:
    return services.lab_results_trim()


@shared_task(acks_late=True)
def watch() -> dict[str, Any]:
    return services.lab_sessions_watch()


@shared_task(acks_late=True)
def restore(session_id: int) -> bool:
    session = LabSession.objects.filter(pk=session_id).first()
    return session is not None and services.lab_session_restore(session=session)
