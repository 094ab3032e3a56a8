import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

app = Celery("academy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def reconcile_lab_sessions(sender=None, **kwargs) -> None:
    """A lab host's worker that (re)starts announces its host (labs/services/hosts.py), so
    that sessions are placed on it, and compares its running lab sessions with the engine at
    once: while no worker ran, containers may have died or been removed (health.py)."""
    import logging

    from django.conf import settings

    from labs.services.state import task_queue

    log = logging.getLogger(__name__)
    served = {queue.name for queue in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    # The worker serving the host's housekeeping queue speaks for the host (it also reaps it).
    if settings.LAB_HOST_ANNOUNCE and (not served or task_queue("housekeeping") in served):
        from labs.services.hosts import host_announce

        try:
            host_announce()
        except Exception:  # the database is away: the next reap announces it
            log.warning("Could not announce lab host %s", settings.LAB_TASK_QUEUE, exc_info=True)
    try:
        app.send_task("labs.tasks.watch", queue=task_queue("housekeeping"))
    except Exception:  # the broker is away: beat's next watch does the same
        log.warning("Could not ask for a lab watch", exc_info=True)
