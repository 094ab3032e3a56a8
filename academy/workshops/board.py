"""The live board of a workshop: what the instructor sees of the room, and the room's actions.

Selectors (``board_snapshot``, ``room_state``) build plain JSON-ready dicts that the board page
renders and the websockets (academy/workshops/consumers.py) push. Services (``help_raise``,
``announcement_send``, ``room_extend``, ``timer_pause`` / ``timer_resume``) change the room; each
is audited as a WorkshopEvent (who, when) and tells the Channels groups below, after commit.

Groups:
    workshop-<pk>-board        the instructors' boards: {"type": "board.changed"}
    workshop-<pk>-room         every attendee's pages: announcements and the timer
    workshop-attendee-<user>   one attendee's pages: "your instructor is watching", and
                               "your game day changed" ({"type": "room.gameday"}, no data: each
                               socket reads its own user's outcome, room_game_day)

The board also refreshes itself every BOARD_REFRESH_SECONDS, so a missed notice only delays.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_stubs_ext import StrPromise

from academy.accounts.typing import signed_in
from academy.workshops.models import (
    ANNOUNCEMENT_MAX_LENGTH,
    Attendee,
    GameDay,
    GameDayOutcome,
    HelpRequest,
    RoomTimer,
    Workshop,
    WorkshopEvent,
)
from labs.models import CheckResult, LabSession, LabStep

if TYPE_CHECKING:
    from academy.accounts.models import User
    from academy.accounts.typing import Visitor

log = logging.getLogger(__name__)
BOARD_REFRESH_SECONDS = 5
ANNOUNCEMENTS_SHOWN = 3
# Rate limits: (count, seconds) per user.
HELP_RATE = (6, 60)
INSTRUCTOR_ACTION_RATE = (20, 60)
WATCH_TTL = 6 * 3600
# How long the room bar keeps showing an attendee their own game-day result once it is over.
GAMEDAY_RESULT_SHOWN = timedelta(minutes=30)


class RoomError(Exception):
    """A refused room action; the message is in the active language."""


def board_group(workshop_id: int) -> str:
    return f"workshop-{workshop_id}-board"


def room_group(workshop_id: int) -> str:
    return f"workshop-{workshop_id}-room"


def attendee_group(user_id: int) -> str:
    return f"workshop-attendee-{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:  # called from async code's thread: send without blocking it
            loop.create_task(layer.group_send(group, message))
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # the board's own refresh catches up
        log.warning("Could not tell %s", group, exc_info=True)


def notify_after_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group, message))


def board_changed(workshop_id: int) -> None:
    notify_after_commit(board_group(workshop_id), {"type": "board.changed"})


def rate_allowed(key: str, rate: tuple[int, int]) -> bool:
    """A fixed-window counter in the cache: False once ``rate[0]`` uses in ``rate[1]`` s."""
    count, seconds = rate
    window = int(timezone.now().timestamp()) // seconds
    cache_key = f"workshops-rate:{key}:{window}"
    cache.add(cache_key, 0, timeout=seconds + 1)
    try:
        return cache.incr(cache_key) <= count
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=seconds + 1)
        return True


# --- Selectors ----------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def room_timer(workshop: Workshop) -> RoomTimer:
    return RoomTimer.objects.get_or_create(workshop=workshop)[0]


def timer_state(workshop: Workshop, *, now: datetime | None = None) -> dict[str, Any]:
    """The agenda countdown: to ``ends_at`` plus what pauses added; frozen while paused."""
    now = now or timezone.now()
    timer = room_timer(workshop)
    ends = workshop.ends_at + timedelta(seconds=timer.shift_seconds)
    reference = timer.paused_at or now
    return {
        "paused": timer.paused_at is not None,
        "ends_at": _iso(ends),
        "remaining_seconds": max(0, int((ends - reference).total_seconds())),
    }


def announcements_recent(workshop: Workshop) -> list[dict[str, Any]]:
    rows = workshop.events.filter(kind=WorkshopEvent.Kind.ANNOUNCE)[:ANNOUNCEMENTS_SHOWN]
    return [{"id": row.pk, "text": row.text, "at": _iso(row.created_at)} for row in rows]


def watched(user_id: int) -> bool:
    return bool(cache.get(f"workshops-watchers:{user_id}"))


GAMEDAY_NOTICES: dict[str, StrPromise] = {
    # Translators: the room bar's notice while a game day (jornada de caos) injects a fault into
    # the attendee's own lab; %(target)s is a container name of the lab (api, reconciler, ...).
    GameDay.Fault.KILL: gettext_lazy(
        "The %(target)s container of your lab is killed for %(seconds)d s. "
        "Watch whether your system holds its steady state."
    ),
    GameDay.Fault.LATENCY: gettext_lazy(
        "Every connection through the %(target)s container of your lab is slowed down for "
        "%(seconds)d s. "
        "Watch whether your system holds its steady state."
    ),
    GameDay.Fault.STRESS_CPU: gettext_lazy(
        "The %(target)s container of your lab is under CPU stress for %(seconds)d s. "
        "Watch whether your system holds its steady state."
    ),
    GameDay.Fault.STRESS_MEMORY: gettext_lazy(
        "The %(target)s container of your lab is under memory stress for %(seconds)d s. "
        "Watch whether your system holds its steady state."
    ),
    GameDay.Fault.BREAK_RECONCILER: gettext_lazy(
        "The %(target)s container of your lab is paused for %(seconds)d s, so nothing reconciles "
        "your system. Watch whether your system holds its steady state."
    ),
}
GAMEDAY_RESULTS: dict[str | None, StrPromise] = {
    GameDayOutcome.Result.HELD: gettext_lazy("Your system held its steady state."),
    GameDayOutcome.Result.DEVIATED: gettext_lazy("Your system deviated from its steady state."),
    GameDayOutcome.Result.FAILED: gettext_lazy(
        "The fault could not be injected into your lab, so there is no result."
    ),
}


def room_game_day(
    *, workshop: Workshop, user: User, now: datetime | None = None
) -> dict[str, Any] | None:
    """The attendee's own part of the workshop's latest game day, while it runs on their lab
    and for GAMEDAY_RESULT_SHOWN after: what fault, on which container, for how long, and
    their own result. Built from THEIR outcome only; None when the game day is not theirs."""
    now = now or timezone.now()
    outcome = (
        GameDayOutcome.objects.filter(
            game_day__workshop=workshop, attendee__workshop=workshop, attendee__user=user
        )
        .select_related("game_day__lab")
        .order_by("-game_day__created_at", "-game_day__pk")
        .first()
    )
    if outcome is None:
        return None
    game_day = outcome.game_day
    running = game_day.state == GameDay.State.RUNNING
    if not running and (game_day.finished_at or now) + GAMEDAY_RESULT_SHOWN < now:
        return None
    # "Running" is the attendee's own window: measuring before it, the fault, the recovery.
    from academy.workshops.gameday import outcome_measuring

    result = outcome.result
    mine_running = outcome_measuring(outcome, game_day)
    state = {
        "id": game_day.pk,
        "running": mine_running,
        "fault": game_day.fault,
        "target": game_day.target,
        "seconds": game_day.duration_seconds,
        "lab": game_day.lab.title,
        "result": None if result == GameDayOutcome.Result.PENDING else result,
        "title": str(_("Game day in progress")) if mine_running else str(_("Game day over")),
        "text": str(GAMEDAY_NOTICES[game_day.fault])
        % {"target": game_day.target, "seconds": game_day.duration_seconds},
        "status": "",
        # Their own timeline (views.gameday_mine), once their result is final.
        "result_url": ""
        if mine_running
        else reverse(
            "workshops:gameday_mine", kwargs={"slug": workshop.slug, "game_day_id": game_day.pk}
        ),
        "result_link": "" if mine_running else str(_("See your timeline of the game day")),
    }
    if not mine_running:
        state["text"] = _("Fault: %(fault)s on %(target)s for %(seconds)d s.") % {
            "fault": game_day.get_fault_display(),
            "target": game_day.target,
            "seconds": game_day.duration_seconds,
        }
    if mine_running and result == GameDayOutcome.Result.DEVIATED:
        state["status"] = str(
            _("So far your system has deviated from its steady state: a measurement failed.")
        )
    elif not mine_running:
        state["status"] = str(GAMEDAY_RESULTS.get(result, ""))
    return state


def room_state(*, workshop: Workshop, user: User) -> dict[str, Any]:
    """What an attendee's pages show of the room: announcements, timer, being watched, and
    their own game day."""
    return {
        "type": "room",
        "announcements": announcements_recent(workshop),
        "timer": timer_state(workshop),
        "watched": watched(user.pk),
        "help": HelpRequest.objects.filter(
            attendee__workshop=workshop, attendee__user=user, cleared_at__isnull=True
        ).exists(),
        "gameday": room_game_day(workshop=workshop, user=user),
    }


def game_day_changed(*, user_ids: list[int] | None = None, workshop_id: int | None = None) -> None:
    """Tells attendees' pages (after commit) to read their own game day again: no data rides
    on the message, so nobody's outcome reaches anyone else's socket."""
    for user_id in user_ids or []:
        notify_after_commit(attendee_group(user_id), {"type": "room.gameday"})
    if workshop_id is not None:
        notify_after_commit(room_group(workshop_id), {"type": "room.gameday"})


def _lab_sessions(workshop: Workshop, user_ids: list[int]) -> dict[int, LabSession]:
    """Each attendee's current session among the workshop's labs: a live one if any, else the
    latest."""
    current: dict[int, LabSession] = {}
    rows = (
        LabSession.objects.filter(user_id__in=user_ids, lab__workshops=workshop)
        .select_related("lab")
        .order_by("requested_at", "pk")
    )
    for session in rows:
        if session.user_id is None:  # not an attendee's (the filter keeps none such)
            continue
        held = current.get(session.user_id)
        if held is None or session.is_live or not held.is_live:
            current[session.user_id] = session
    return current


def board_snapshot(*, workshop: Workshop, now: datetime | None = None) -> dict[str, Any]:
    """The board's rows, one per attendee, in joining order, JSON-ready."""
    now = now or timezone.now()
    attendees = list(workshop.attendees.select_related("user").order_by("joined_at", "pk"))
    user_ids = [attendee.user_id for attendee in attendees]
    sessions = _lab_sessions(workshop, user_ids)
    lab_ids = {session.lab_id for session in sessions.values()}
    passed: dict[tuple[int, int], datetime] = {}  # (user, step) -> first pass
    latest: dict[int, CheckResult] = {}  # user -> latest check in a workshop lab
    checks = (
        CheckResult.objects.filter(session__user_id__in=user_ids, session__lab__workshops=workshop)
        .select_related("step", "session")
        .order_by("created_at", "pk")
    )
    for check in checks:
        if check.session.user_id is None:  # not an attendee's (the filter keeps none such)
            continue
        latest[check.session.user_id] = check
        if check.passed:
            passed.setdefault((check.session.user_id, check.step_id), check.created_at)
    steps_by_lab: dict[int, list[LabStep]] = {}
    for session in sessions.values():
        if session.lab_id not in steps_by_lab:
            steps_by_lab[session.lab_id] = list(session.lab.steps.order_by("number"))
    helps = {
        row.attendee_id: row.raised_at
        for row in HelpRequest.objects.filter(attendee__workshop=workshop, cleared_at__isnull=True)
    }
    game_day = workshop.game_days.first()
    outcomes: dict[int, GameDayOutcome] = {}
    if game_day is not None:
        outcomes = {row.attendee_id: row for row in game_day.outcomes.all()}
    rows = []
    for attendee in attendees:
        current = sessions.get(attendee.user_id)
        row: dict[str, Any] = {
            "id": attendee.pk,
            "name": attendee.display_name,
            "help_since": _iso(helps.get(attendee.pk)),
            "lab": None,
            "session": None,
            "state": None,
            "state_label": None,
            "live": False,
            "step": None,
            "steps": 0,
            "passed": 0,
            "step_since": None,
            "last_check": None,
            **_game_day_cell(game_day, outcomes.get(attendee.pk)),
        }
        if current is not None and current.lab_id in lab_ids:
            steps = steps_by_lab[current.lab_id]
            done = [step for step in steps if (attendee.user_id, step.pk) in passed]
            upcoming = next(
                (step for step in steps if (attendee.user_id, step.pk) not in passed), None
            )
            started = current.ready_at or current.requested_at
            since = max([started, *(passed[(attendee.user_id, s.pk)] for s in done)])
            row.update(
                lab=current.lab.title,
                session=current.pk,
                state=current.state,
                state_label=str(current.get_state_display()),
                live=current.is_live,
                step=upcoming.number if upcoming else None,
                step_title=upcoming.title if upcoming else None,
                steps=len(steps),
                passed=len(done),
                step_since=_iso(since) if upcoming and current.is_live else None,
            )
        last = latest.get(attendee.user_id)
        if last is not None:
            row["last_check"] = {
                "step": last.step.number,
                "passed": last.passed,
                "at": _iso(last.created_at),
            }
        rows.append(row)
    return {
        "type": "board",
        "now": _iso(now),
        "rows": rows,
        "timer": timer_state(workshop, now=now),
        "help_count": len(helps),
        "help_label": help_count_label(len(helps)),
        "game_day": None
        if game_day is None
        else board_game_day(game_day, list(outcomes.values()), now=now),
    }


def help_count_label(count: int) -> str:
    return ngettext("%(count)s asks for help", "%(count)s ask for help", count) % {"count": count}


def _game_day_cell(game_day: GameDay | None, outcome: GameDayOutcome | None) -> dict[str, Any]:
    """A row's game-day cell: the outcome's result, and whether it is still being measured
    (then the label says so, with the deviation so far: it is no result yet)."""
    from academy.workshops.gameday import outcome_measuring

    if game_day is None or outcome is None:
        return {"game_day": None, "game_day_measuring": False, "game_day_label": None}
    measuring = outcome_measuring(outcome, game_day)
    if not measuring:
        label = str(GameDayOutcome.Result(outcome.result).label)
    elif outcome.result == GameDayOutcome.Result.DEVIATED:
        # Translators: the board's game-day cell while the fault still runs on this attendee's
        # lab and one measurement has already failed: not a result yet.
        label = _("Measuring: deviated so far")
    else:
        # Translators: the board's game-day cell while the platform still measures this
        # attendee's lab (before, during or after the fault).
        label = _("Measuring")
    return {"game_day": outcome.result, "game_day_measuring": measuring, "game_day_label": label}


def board_game_day(
    game_day: GameDay, outcomes: list[GameDayOutcome], *, now: datetime
) -> dict[str, Any]:
    """The board's game-day line: running or finished, the time left in the fault window, and
    the counts; ``summary`` and ``status`` are whole sentences in the active language."""
    from academy.workshops.gameday import game_day_counts, game_day_window_ends

    counts = game_day_counts(game_day, outcomes)
    running = game_day.state == GameDay.State.RUNNING
    countdown = ""
    ends = game_day_window_ends(game_day, outcomes)
    remaining = max(0, int((ends - now).total_seconds())) if running else 0
    values = {
        "fault": str(game_day.get_fault_display()),
        "target": game_day.target,
        "held": counts[GameDayOutcome.Result.HELD],
        "measuring": counts["measuring"],
        "total": len(outcomes),
    }
    if running:
        summary = (
            ngettext(
                "Game day running: %(fault)s (%(target)s) in %(total)s lab.",
                "Game day running: %(fault)s (%(target)s) in %(total)s labs.",
                len(outcomes),
            )
            % values
        )
        if remaining:
            # Translators: %(time)s is a countdown such as 0:42, kept up to date on the page.
            countdown = _("The fault window ends in %(time)s.")
            status = countdown % {"time": _clock(remaining)}
        else:
            status = (
                ngettext(
                    "The fault window is over; %(measuring)s lab is still being measured.",
                    "The fault window is over; %(measuring)s labs are still being measured.",
                    counts["measuring"],
                )
                % values
            )
    else:
        summary = (
            ngettext(
                "Game day over: %(fault)s (%(target)s): %(held)s of %(total)s lab held.",
                "Game day over: %(fault)s (%(target)s): %(held)s of %(total)s labs held.",
                len(outcomes),
            )
            % values
        )
        status = ""
    return {
        "id": game_day.pk,
        "state": game_day.state,
        "running": running,
        "window_ends_at": _iso(ends),
        "remaining_seconds": remaining,
        **values,
        "deviated": counts[GameDayOutcome.Result.DEVIATED],
        "failed": counts[GameDayOutcome.Result.FAILED],
        "summary": summary,
        "status": status,
        "countdown": countdown,  # the status while the window runs; the page ticks %(time)s
    }


def _clock(seconds: int) -> str:
    """m:ss, as the board's script writes it."""
    return f"{seconds // 60}:{seconds % 60:02d}"


def workshops_of_session(session: LabSession) -> list[int]:
    """The open workshops whose board shows this session (its user attends, its lab is one of
    the workshop's labs)."""
    if session.user_id is None:  # a warm-pool sandbox
        return []
    return list(
        Workshop.objects.open()
        .filter(attendees__user_id=session.user_id, labs=session.lab_id)
        .values_list("pk", flat=True)
        .distinct()
    )


def may_watch(user: Visitor | None, session: LabSession) -> bool:
    """A workshop's instructor may watch, read-only, an attendee's session of THAT workshop's
    labs (labs.terminal's watch rule)."""
    watcher = signed_in(user)
    if watcher is None or session.user_id is None or session.user_id == watcher.pk:
        return False
    return (
        Workshop.objects.open()
        .filter(instructors=watcher, attendees__user_id=session.user_id, labs=session.lab_id)
        .exists()
    )


def watch_changed(session: LabSession, user: User, watching: bool) -> None:
    """labs.terminal's watch listener: counts the watchers of an attendee and tells their
    pages. Runs in a thread of the terminal consumer."""
    if not may_watch(user, session) or session.user_id is None:
        return  # staff watching a learner of no workshop of theirs: not a room matter
    key = f"workshops-watchers:{session.user_id}"
    if watching:
        cache.add(key, 0, timeout=WATCH_TTL)
        count = cache.incr(key)
    else:
        try:
            count = max(0, cache.decr(key))
        except ValueError:
            count = 0
        if count <= 0:
            cache.delete(key)
    _send(attendee_group(session.user_id), {"type": "room.watched", "watched": count > 0})


# --- Signals: a check finished, a session changed -----------------------------------------------


def on_session_saved(sender: object, instance: LabSession, **kwargs: object) -> None:
    if kwargs.get("raw") or instance.user_id is None:  # fixtures; warm-pool sandboxes
        return
    for workshop_id in workshops_of_session(instance):
        board_changed(workshop_id)


def on_check_saved(sender: object, instance: CheckResult, created: bool, **kwargs: object) -> None:
    if created:
        on_session_saved(sender, instance.session)


# --- Services: the room's actions ---------------------------------------------------------------


def _event(
    workshop: Workshop, kind: str, actor: User | None, text: str = "", **detail: object
) -> WorkshopEvent:
    return WorkshopEvent.objects.create(
        workshop=workshop, kind=kind, actor=actor, text=text, detail=detail
    )


def _instructor_rate(user: User) -> None:
    if not rate_allowed(f"instructor:{user.pk}", INSTRUCTOR_ACTION_RATE):
        raise RoomError(_("Too many actions in a minute. Wait a moment and try again."))


@transaction.atomic
def help_toggle(*, attendee: Attendee) -> bool:
    """Raises the attendee's hand, or lowers it when raised; returns whether it is now raised."""
    if not rate_allowed(f"help:{attendee.user_id}", HELP_RATE):
        raise RoomError(_("You asked too often. Wait a minute and try again."))
    open_request = HelpRequest.objects.select_for_update().filter(
        attendee=attendee, cleared_at__isnull=True
    )
    raised = not open_request.exists()
    if raised:
        try:
            with transaction.atomic():
                HelpRequest.objects.create(attendee=attendee)
        except IntegrityError:  # raised twice at once: it is raised
            pass
        _event(attendee.workshop, WorkshopEvent.Kind.HELP_RAISED, attendee.user)
    else:
        open_request.update(cleared_at=timezone.now(), cleared_by=attendee.user)
        _event(attendee.workshop, WorkshopEvent.Kind.HELP_CLEARED, attendee.user)
    board_changed(attendee.workshop_id)
    notify_after_commit(attendee_group(attendee.user_id), {"type": "room.help", "help": raised})
    return raised


@transaction.atomic
def help_clear(*, workshop: Workshop, attendee: Attendee, by: User) -> None:
    """An instructor answered the raised hand."""
    cleared = HelpRequest.objects.filter(
        attendee=attendee, attendee__workshop=workshop, cleared_at__isnull=True
    ).update(cleared_at=timezone.now(), cleared_by=by)
    if cleared:
        _event(workshop, WorkshopEvent.Kind.HELP_CLEARED, by, attendee=attendee.pk)
        board_changed(workshop.pk)
        notify_after_commit(attendee_group(attendee.user_id), {"type": "room.help", "help": False})


def announcement_clean(text: str) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise RoomError(_("Write the announcement first."))
    if len(cleaned) > ANNOUNCEMENT_MAX_LENGTH:
        raise RoomError(
            _("An announcement has at most %(count)d characters.")
            % {"count": ANNOUNCEMENT_MAX_LENGTH}
        )
    return cleaned


@transaction.atomic
def announcement_send(*, workshop: Workshop, by: User, text: str) -> WorkshopEvent:
    """Pushes ``text`` (plain text, escaped wherever shown) to every attendee's pages."""
    cleaned = announcement_clean(text)
    _instructor_rate(by)
    event = _event(workshop, WorkshopEvent.Kind.ANNOUNCE, by, cleaned)
    notify_after_commit(
        room_group(workshop.pk),
        {
            "type": "room.announce",
            "announcement": {"id": event.pk, "text": cleaned, "at": _iso(event.created_at)},
        },
    )
    return event


def room_extend(*, workshop: Workshop, by: User) -> int:
    """Extends every attendee's running session of the workshop's labs once (the labs' own
    extend service and its rules); returns how many were extended."""
    from labs.services import LabSessionError, lab_session_extend

    _instructor_rate(by)
    sessions = LabSession.objects.running().filter(
        user__workshop_attendances__workshop=workshop, lab__workshops=workshop
    )
    extended = 0
    for session in sessions.distinct():
        try:
            lab_session_extend(session=session)
        except LabSessionError:  # already extended, an exam, just ended
            continue
        extended += 1
    _event(workshop, WorkshopEvent.Kind.EXTEND, by, extended=extended)
    board_changed(workshop.pk)
    return extended


def _timer_notify(workshop: Workshop) -> None:
    state = timer_state(workshop)
    notify_after_commit(room_group(workshop.pk), {"type": "room.timer", "timer": state})
    board_changed(workshop.pk)


@transaction.atomic
def timer_pause(*, workshop: Workshop, by: User) -> bool:
    _instructor_rate(by)
    timer = room_timer(workshop)
    changed = RoomTimer.objects.filter(pk=timer.pk, paused_at__isnull=True).update(
        paused_at=timezone.now()
    )
    if changed:
        _event(workshop, WorkshopEvent.Kind.PAUSE, by)
        _timer_notify(workshop)
    return bool(changed)


@transaction.atomic
def timer_resume(*, workshop: Workshop, by: User) -> bool:
    _instructor_rate(by)
    timer = RoomTimer.objects.select_for_update().get(pk=room_timer(workshop).pk)
    if timer.paused_at is None:
        return False
    paused = max(0, int((timezone.now() - timer.paused_at).total_seconds()))
    timer.shift_seconds += paused
    timer.paused_at = None
    timer.save(update_fields=["shift_seconds", "paused_at"])
    _event(workshop, WorkshopEvent.Kind.RESUME, by, paused_seconds=paused)
    _timer_notify(workshop)
    return True


def live_attendance(*, user: Visitor | None) -> Attendee | None:
    """The user's attendance of an open workshop (the lab page's room bar), if any."""
    member = signed_in(user)
    if member is None:
        return None
    now = timezone.now()
    return (
        Attendee.objects.filter(user=member, workshop__ends_at__gt=now)
        .exclude(workshop__state=Workshop.State.ENDED)
        .select_related("workshop")
        .order_by("-joined_at")
        .first()
    )


def game_day_running(workshop: Workshop) -> GameDay | None:
    return workshop.game_days.filter(state=GameDay.State.RUNNING).first()


def attendee_session(*, workshop: Workshop, attendee: Attendee) -> LabSession | None:
    """The attendee's current session of the workshop's labs (the board's row), if any."""
    return _lab_sessions(workshop, [attendee.user_id]).get(attendee.user_id)
