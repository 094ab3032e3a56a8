import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

app = Celery("academy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def reconcile_lab_sessions(sender=None, **kwargs) -> None:
    """A worker that (re)starts compares running lab sessions with the engine at once: while no
    worker ran, containers may have died or been removed (labs/services/health.py)."""
    from labs.services.state import task_queue

    try:
        app.send_task("labs.tasks.watch", queue=task_queue("housekeeping"))
    except Exception:  # the broker is away: beat's next watch does the same
        import logging

        logging.getLogger(__name__).warning("Could not ask for a lab watch", exc_info=True)
