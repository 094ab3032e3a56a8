from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkshopsConfig(AppConfig):
    name = "academy.workshops"
    label = "workshops"
    verbose_name = _("Workshops")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from academy.workshops import board, gameday  # noqa: F401  (gameday: its Celery tasks)
        from labs import terminal
        from labs.models import CheckResult, LabSession

        # The live board follows checks and session states without the labs knowing of it.
        post_save.connect(board.on_session_saved, sender=LabSession, dispatch_uid="board-session")
        post_save.connect(board.on_check_saved, sender=CheckResult, dispatch_uid="board-check")
        # A workshop's instructors may watch its attendees' terminals; the attendee is told.
        if board.may_watch not in terminal.WATCH_RULES:
            terminal.WATCH_RULES.append(board.may_watch)
        if board.watch_changed not in terminal.WATCH_LISTENERS:
            terminal.WATCH_LISTENERS.append(board.watch_changed)
