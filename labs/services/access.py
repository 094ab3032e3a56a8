"""Whether a session is running, and who may act on it: the one rule, used everywhere.

Views, the terminal consumer, the CLI, grading and results all ask here, so that "running"
means the same thing on every path: a state in which the sandbox exists and serves the
learner, a lifetime that has not run out, and no problem seen in its sandbox (a container
that died: see labs.services.health). When it is not running, ``session_refusal`` says why in
the learner's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone, translation

from labs.models import LabSession

if TYPE_CHECKING:
    from academy.accounts.models import User

State = LabSession.State
# States in which the learner's terminal, checks and results work.
RUNNING_STATES = (State.READY, State.CHECKING, State.COMPLETED)


class LabSessionError(Exception):
    """A request the session's state does not allow; the message is for the learner."""


def running_q(now: datetime | None = None) -> Q:
    """The rule as a query filter, for code that asks the database directly."""
    now = now or timezone.now()
    return (
        Q(state__in=RUNNING_STATES)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & Q(problem={})
    )


def session_is_running(session: LabSession, *, now: datetime | None = None) -> bool:
    """True while the session's sandbox serves the learner: terminal, checks, results."""
    if session.state not in RUNNING_STATES or session.problem:
        return False
    return session.expires_at is None or session.expires_at > (now or timezone.now())


def problem_text(problem: dict[str, Any]) -> str:
    """A sandbox problem (LabSession.problem) in the active language, saying what to do."""
    _ = translation.gettext
    name = str(problem.get("container", ""))
    if problem.get("restoring"):
        return _("Restoring the lab… The terminal opens again in a few seconds.")
    if problem.get("restore_failed"):
        return _(
            "The lab could not be restored. Try again in a moment, or reset the lab to start "
            "afresh."
        )
    reason = problem.get("reason")
    values = {"name": name, "code": problem.get("exit_code")}
    if reason == "oom":
        return (
            _(
                "The container %(name)s stopped (it ran out of memory). Restore the lab to carry "
                "on; your progress is kept."
            )
            % values
        )
    if reason == "missing":
        return (
            _("The container %(name)s is gone. Restore the lab to carry on; your progress is kept.")
            % values
        )
    if values["code"] is not None:
        return (
            _(
                "The container %(name)s stopped (exit code %(code)s). Restore the lab to carry on; "
                "your progress is kept."
            )
            % values
        )
    return (
        _("The container %(name)s stopped. Restore the lab to carry on; your progress is kept.")
        % values
    )


def session_refusal(session: LabSession) -> str:
    """Why the session does not serve the learner now, for a refused check or terminal."""
    if session.problem and session.state in RUNNING_STATES:
        return problem_text(session.problem)
    return translation.gettext("This lab session is not running.")


def session_may_act(session: LabSession, user: User | AnonymousUser | None) -> bool:
    """Only the session's owner acts on it (check, reset, stop, type in the terminal); staff
    may watch through selectors, never act."""
    return bool(user and user.is_authenticated and session.user_id == user.pk)
