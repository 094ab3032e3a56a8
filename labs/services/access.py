"""Whether a session is running, and who may act on it: the one rule, used everywhere.

Views, the terminal consumer, the CLI, grading and results all ask here, so that "running"
means the same thing on every path: a state in which the sandbox exists and serves the
learner, and a lifetime that has not run out.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from labs.models import LabSession

State = LabSession.State
# States in which the learner's terminal, checks and results work.
RUNNING_STATES = (State.READY, State.CHECKING, State.COMPLETED)


class LabSessionError(Exception):
    """A request the session's state does not allow; the message is for the learner."""


def running_q(now: datetime | None = None) -> Q:
    """The rule as a query filter, for code that asks the database directly."""
    now = now or timezone.now()
    return Q(state__in=RUNNING_STATES) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def session_is_running(session: LabSession, *, now: datetime | None = None) -> bool:
    """True while the session's sandbox serves the learner: terminal, checks, results."""
    if session.state not in RUNNING_STATES:
        return False
    return session.expires_at is None or session.expires_at > (now or timezone.now())


def session_may_act(session: LabSession, user) -> bool:
    """Only the session's owner acts on it (check, reset, stop, type in the terminal); staff
    may watch through selectors, never act."""
    return bool(user and user.is_authenticated and session.user_id == user.pk)
