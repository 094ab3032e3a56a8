"""Game day: one fault injected into every attendee's running session of one lab at once, and
the platform's own measurement of whether each system held its steady state.

The path of a fault is the labs' own (labs/faults.py): the platform asks each session's faults
sidecar over its HTTP API from inside the sidecar (``runtime.sandbox_exec``, the runtime's exec
path), the sidecar prints the request, the lab host's fault relay checks it against THAT
session's containers and runs it (kill then restart, pause then unpause for "break the
reconciler", stress). "Add latency" goes to the lab's own Toxiproxy-compatible proxy, through its
API inside that session's proxy container (the runtime's exec path, as checks run): a latency
toxic of LATENCY_MS on every proxied connection, removed when the window ends. The web process
never calls Docker: it writes the rows and
enqueues one Celery task per session on the checks queue, which a lab host's worker runs.

The steady-state probe is measured by the platform, not the learner: an HTTP GET from the
sidecar (which the learner cannot change) to the lab's entry point (a load balancer when the lab
has one, else its service), before, during and after the fault window. "Held" when every
measurement during the window answered 2xx in time; "deviated" as soon as one did not.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from academy.workshops import board
from academy.workshops.models import (
    GAMEDAY_MAX_SECONDS,
    GAMEDAY_MIN_SECONDS,
    Attendee,
    GameDay,
    GameDayOutcome,
    Workshop,
    WorkshopEvent,
)
from labs import runtime
from labs.content import FAULTS_CONTAINER
from labs.models import Lab, LabSession
from labs.services.hosts import session_host

if TYPE_CHECKING:
    from academy.accounts.models import User

log = logging.getLogger(__name__)
Fault = GameDay.Fault
Result = GameDayOutcome.Result
PROBE_INTERVAL = 2.0  # seconds between measurements during the fault window
PROBE_TIMEOUT = 5.0  # the steady state: a 2xx answer within this many seconds
MEASURES_BEFORE = 2
MEASURES_AFTER = 2
RECOVERY_SECONDS = 3.0  # after the fault ends, before the "after" measurements
SIDECAR_USER = "faultd"
PROXY_USER = "toxiproxy"  # the lab proxy image's user (labs/images/proxy)
PROXY_API = "http://127.0.0.1:8474"  # the proxy's API listens inside its own container only
LATENCY_MS = 1500  # "add latency": on every connection through the lab's proxy, downstream
TOXIC_NAME = "academy-game-day"
STALE_SECONDS = 180

# A request to the sidecar's API, from inside the sidecar: prints the status and the answer.
_CALL = """\
import json, sys, urllib.request, urllib.error
method, url, body, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
request = urllib.request.Request(url, method=method, data=body.encode() or None,
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=float(sys.argv[4])) as answer:
        print(answer.status, answer.read(limit).decode(errors="replace"))
except urllib.error.HTTPError as error:
    print(error.code, error.read(limit).decode(errors="replace"))
except Exception as error:
    print(0, type(error).__name__)
"""


class GameDayError(Exception):
    """A refused game day; the message is in the active language."""


@dataclass(frozen=True)
class FaultChoice:
    fault: str
    label: str
    targets: list[str]


def _containers(lab: Lab) -> list[dict[str, Any]]:
    return [item for item in lab.topology or [] if isinstance(item, dict) and item.get("name")]


def fault_targets(lab: Lab) -> list[str]:
    """The lab's fault targets: its containers but the learner's shell and the sidecar."""
    return [
        item["name"]
        for item in _containers(lab)
        if item["name"] not in (lab.shell_container, FAULTS_CONTAINER)
    ]


def probe_for(lab: Lab) -> dict[str, Any] | None:
    """The steady-state probe: the load balancer when there is one, else the first service that
    is not a dependency (the system's entry point)."""
    containers = _containers(lab)
    for item in containers:
        if item.get("image") == "lb":
            return {"container": item["name"], "port": 8080, "path": "/"}
    for item in containers:
        env = item.get("env") or {}
        role = env.get("ROLE", "service")
        if item.get("image") == "target" and role != "dependency" and item["name"] != "dependency":
            return {"container": item["name"], "port": 8080, "path": "/"}
    return None


def fault_choices(lab: Lab) -> list[FaultChoice]:
    """The faults that apply to ``lab``: only through its faults sidecar, so none without one."""
    if not lab.faults_enabled or probe_for(lab) is None:
        return []
    targets = fault_targets(lab)
    if not targets:
        return []
    choices = [
        FaultChoice(Fault.KILL, str(Fault.KILL.label), targets),
        FaultChoice(Fault.STRESS_CPU, str(Fault.STRESS_CPU.label), targets),
        FaultChoice(Fault.STRESS_MEMORY, str(Fault.STRESS_MEMORY.label), targets),
    ]
    proxies = [
        item["name"]
        for item in _containers(lab)
        if item["name"] in targets and item.get("image") == "proxy"
    ]
    if proxies:
        choices.insert(1, FaultChoice(Fault.LATENCY, str(Fault.LATENCY.label), proxies))
    reconcilers = [
        item["name"]
        for item in _containers(lab)
        if item["name"] in targets and "reconciler" in item["name"]
    ]
    if reconcilers:
        choices.append(
            FaultChoice(Fault.BREAK_RECONCILER, str(Fault.BREAK_RECONCILER.label), reconcilers)
        )
    return choices


def game_day_labs(workshop: Workshop) -> list[tuple[Lab, list[FaultChoice]]]:
    return [(lab, fault_choices(lab)) for lab in workshop.ordered_labs()]


def _attendee_sessions(workshop: Workshop, lab: Lab) -> list[LabSession]:
    """Each attendee's running session of ``lab``, at most ``capacity`` of them."""
    found: dict[int, LabSession] = {}
    rows = (
        LabSession.objects.running()
        .filter(lab=lab, user__workshop_attendances__workshop=workshop)
        .order_by("-requested_at", "-pk")
    )
    for session in rows:
        if session.user_id is not None:  # an attendee's, by the filter
            found.setdefault(session.user_id, session)
    return list(found.values())[: workshop.capacity]


def game_day_start(
    *, workshop: Workshop, by: User, lab: Lab, fault: str, target: str, duration_seconds: int
) -> GameDay:
    """Records the game day and one pending outcome per attendee's running session of ``lab``;
    enqueues one task per session after commit. At most one running per workshop."""
    if not workshop.instructors.filter(pk=by.pk).exists():
        raise GameDayError(_("Only the workshop's instructors can start a game day."))
    if not workshop.workshop_labs.filter(lab=lab).exists():
        raise GameDayError(_("This lab is not one of the workshop's labs."))
    choice = next((item for item in fault_choices(lab) if item.fault == fault), None)
    if choice is None:
        raise GameDayError(_("This fault does not apply to this lab."))
    if target not in choice.targets:
        raise GameDayError(_("Pick one of the lab's fault targets."))
    if not (
        isinstance(duration_seconds, int)
        and GAMEDAY_MIN_SECONDS <= duration_seconds <= GAMEDAY_MAX_SECONDS
    ):
        raise GameDayError(
            _("The fault lasts from %(min)d to %(max)d seconds.")
            % {"min": GAMEDAY_MIN_SECONDS, "max": GAMEDAY_MAX_SECONDS}
        )
    if not board.rate_allowed(f"instructor:{by.pk}", board.INSTRUCTOR_ACTION_RATE):
        raise GameDayError(_("Too many actions in a minute. Wait a moment and try again."))
    _finish_stale(workshop)
    sessions = _attendee_sessions(workshop, lab)
    if not sessions:
        raise GameDayError(_("No attendee has this lab running."))
    try:
        with transaction.atomic():
            Workshop.objects.select_for_update().get(pk=workshop.pk)
            game_day = GameDay.objects.create(
                workshop=workshop,
                lab=lab,
                fault=fault,
                target=target,
                duration_seconds=duration_seconds,
                probe=probe_for(lab),
                started_by=by,
            )
            attendees = {
                row.user_id: row
                for row in workshop.attendees.filter(user_id__in=[s.user_id for s in sessions])
            }
            outcomes = GameDayOutcome.objects.bulk_create(
                GameDayOutcome(game_day=game_day, attendee=attendees[s.user_id], session=s)
                for s in sessions
                if s.user_id in attendees
            )
            WorkshopEvent.objects.create(
                workshop=workshop,
                kind=WorkshopEvent.Kind.GAMEDAY,
                actor=by,
                detail={"game_day": game_day.pk, "fault": fault, "target": target},
            )
            for outcome in outcomes:
                assert outcome.session is not None  # made with one just above
                _enqueue(outcome.pk, host=session_host(outcome.session))
            board.board_changed(workshop.pk)
            board.game_day_changed(user_ids=list(attendees))
    except IntegrityError as error:
        raise GameDayError(_("A game day is already running in this workshop.")) from error
    return game_day


def _finish_stale(workshop: Workshop) -> None:
    """A game day whose worker never came back (a crash, an engine away) would block the room
    for good: past its window and STALE_SECONDS it is finished, its pending outcomes failed."""
    now = timezone.now()
    for game_day in workshop.game_days.filter(state=GameDay.State.RUNNING):
        ends = game_day.created_at + timedelta(seconds=game_day.duration_seconds + STALE_SECONDS)
        if ends < now:
            game_day.outcomes.filter(result=Result.PENDING).update(
                result=Result.FAILED, error=_("No lab host ran this measurement in time.")
            )
            GameDay.objects.filter(pk=game_day.pk).update(
                state=GameDay.State.FINISHED, finished_at=now
            )
            board.game_day_changed(workshop_id=workshop.pk)


def _enqueue(outcome_id: int, *, host: str) -> None:
    """The fault and the measurements run on the lab host holding the attendee's session."""
    from celery import current_app

    from labs.services.state import task_queue

    queue = task_queue("checks", host)
    transaction.on_commit(
        lambda: current_app.send_task(
            "academy.workshops.gameday.run_outcome", args=(outcome_id,), queue=queue
        )
    )


# --- On the lab host: one session's fault and measurements ------------------------------------


def _call(
    sidecar: str,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    timeout: float,
    limit: int = 300,
) -> tuple[int, str]:
    """An HTTP request from inside the session's faults sidecar: (status, the answer's start);
    status 0 when no answer came."""
    result = runtime.sandbox_exec(
        container_id=sidecar,
        command=[
            "python3",
            "-I",
            "-c",
            _CALL,
            method,
            url,
            json.dumps(body) if body else "",
            str(timeout),
            str(limit),
        ],
        user=SIDECAR_USER,
        timeout=timeout + 10,
    )
    status, _space, text = result.output.strip().partition(" ")
    try:
        return int(status), text
    except ValueError:
        return 0, result.output[:200]


def _fault_request(sidecar: str, action: str, target: str, **extra: object) -> str | None:
    """Asks the sidecar (and so the relay) for one fault; None when done, else the error."""
    body = {"action": action, "target": target, **extra}
    status, text = _call(sidecar, "POST", "http://127.0.0.1:7000/v1/faults", body, 30.0)
    return None if status == 200 else f"{status} {text}"[:300]


def _measure(sidecar: str, probe: dict[str, Any], phase: str) -> dict[str, Any]:
    url = f"http://{probe['container']}:{int(probe['port'])}{probe['path']}"
    started = time.monotonic()
    at = timezone.now()
    try:
        status, _text = _call(sidecar, "GET", url, None, PROBE_TIMEOUT)
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable):
        status = 0
    return {
        "at": at.isoformat(),
        "phase": phase,
        "ok": 200 <= status < 300,
        "status": status or None,
        "ms": int((time.monotonic() - started) * 1000),
    }


def _save(outcome: GameDayOutcome, **fields: object) -> None:
    changed = "fault_ended_at" in fields or fields.get("result", outcome.result) != outcome.result
    for name, value in fields.items():
        setattr(outcome, name, value)
    outcome.save(update_fields=[*fields])
    board.board_changed(outcome.game_day.workshop_id)
    if changed:  # the attendee's own room bar: a result, or the end of their window
        board.game_day_changed(user_ids=[outcome.attendee.user_id])


def _proxy_call(proxy: str, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, str]:
    """The lab proxy's own API, from inside that session's proxy container (the runtime's exec
    path, like the checks): the learner cannot reach it, and it touches no other session."""
    result = runtime.sandbox_exec(
        container_id=proxy,
        command=[
            "python3",
            "-I",
            "-c",
            _CALL,
            method,
            PROXY_API + path,
            json.dumps(body) if body else "",
            "10",
            "20000",
        ],
        user=PROXY_USER,
        timeout=20,
    )
    status, _space, text = result.output.strip().partition(" ")
    try:
        return int(status), text
    except ValueError:
        return 0, result.output[:200]


def _latency(proxy: str, add: bool) -> str | None:
    """Adds (or removes) a latency toxic on every proxy the lab's proxy serves."""
    status, text = _proxy_call(proxy, "GET", "/proxies", None)
    if status != 200:
        return f"{status} {text}"[:300]
    try:
        names = list(json.loads(text))
    except ValueError:
        return text[:300]
    for name in names:
        if add:
            body = {
                "name": TOXIC_NAME,
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": LATENCY_MS, "jitter": 0},
            }
            status, text = _proxy_call(proxy, "POST", f"/proxies/{name}/toxics", body)
        else:
            status, text = _proxy_call(
                proxy, "DELETE", f"/proxies/{name}/toxics/{TOXIC_NAME}", None
            )
        if status not in (200, 204) and not (not add and status == 404):
            return f"{status} {text}"[:300]
    return None


def _fault_begin(sidecar: str, game_day: GameDay, containers: dict[str, Any]) -> str | None:
    fault, target = game_day.fault, game_day.target
    if fault == Fault.LATENCY:
        if target not in containers:
            return _("The lab's proxy is not running.")
        return _latency(containers[target], add=True)
    if fault == Fault.KILL:
        return _fault_request(sidecar, "kill", target)
    if fault == Fault.BREAK_RECONCILER:
        return _fault_request(sidecar, "pause", target)
    resource = "memory" if fault == Fault.STRESS_MEMORY else "cpu"
    return _fault_request(
        sidecar, "stress", target, duration=game_day.duration_seconds, resource=resource
    )


def _fault_end(sidecar: str, game_day: GameDay, containers: dict[str, Any]) -> None:
    """Puts the system back as the fault found it."""
    if game_day.fault == Fault.LATENCY:
        try:
            error = _latency(containers[game_day.target], add=False)
        except (runtime.RuntimeFailure, runtime.RuntimeUnavailable) as failure:
            error = str(failure)
        if error:
            log.warning("game day %s: latency not removed: %s", game_day.pk, error)
        return
    undo: dict[str, str] = {
        Fault.KILL: "restart",
        Fault.BREAK_RECONCILER: "unpause",
        # stress-ng stops at the window's end by itself; this makes sure of it.
        Fault.STRESS_CPU: "unstress",
        Fault.STRESS_MEMORY: "unstress",
    }
    action = undo.get(game_day.fault)
    if action:
        error = _fault_request(sidecar, action, game_day.target)
        if error:
            log.warning("game day %s: %s %s: %s", game_day.pk, action, game_day.target, error)


def game_day_outcome_run(*, outcome: GameDayOutcome) -> str:
    """Measures, injects, measures through the window, ends the fault, measures, decides.
    Idempotent: an outcome that is no longer pending is left as it is."""
    outcome = GameDayOutcome.objects.select_related("game_day", "session__lab", "attendee").get(
        pk=outcome.pk
    )
    if outcome.result != Result.PENDING or outcome.injected_at is not None:
        return outcome.result
    game_day, session = outcome.game_day, outcome.session
    containers = ((session.sandbox if session else None) or {}).get("containers") or {}
    if session is None or not session.is_live or FAULTS_CONTAINER not in containers:
        _save(outcome, result=Result.FAILED, error=_("The lab session was not running."))
        _finish_if_done(game_day)
        return outcome.result
    sidecar, probe = containers[FAULTS_CONTAINER], game_day.probe
    measurements = [_measure(sidecar, probe, "before") for _ in range(MEASURES_BEFORE)]
    injected_at = timezone.now()
    try:
        error = _fault_begin(sidecar, game_day, containers)
    except (runtime.RuntimeFailure, runtime.RuntimeUnavailable) as failure:
        error = str(failure)[:300]
    if error:
        _save(outcome, result=Result.FAILED, error=error, measurements=measurements)
        _finish_if_done(game_day)
        return outcome.result
    _save(outcome, injected_at=injected_at, measurements=measurements)
    deadline = time.monotonic() + game_day.duration_seconds
    while time.monotonic() < deadline:
        measurement = _measure(sidecar, probe, "during")
        measurements.append(measurement)
        fields: dict[str, object] = {"measurements": measurements}
        if not measurement["ok"] and outcome.result == Result.PENDING:
            fields["result"] = Result.DEVIATED  # shown at once on the board
        _save(outcome, **fields)
        time.sleep(max(0.0, min(PROBE_INTERVAL, deadline - time.monotonic())))
    _fault_end(sidecar, game_day, containers)
    fault_ended_at = timezone.now()
    time.sleep(RECOVERY_SECONDS)
    measurements += [_measure(sidecar, probe, "after") for _ in range(MEASURES_AFTER)]
    during = [m for m in measurements if m["phase"] == "during"]
    held = bool(during) and all(m["ok"] for m in during)
    _save(
        outcome,
        measurements=measurements,
        fault_ended_at=fault_ended_at,
        result=Result.HELD if held else Result.DEVIATED,
    )
    _finish_if_done(game_day)
    return outcome.result


def _finish_if_done(game_day: GameDay) -> None:
    if not game_day.outcomes.filter(result=Result.PENDING).exists():
        # "Deviated" is set while the window runs: a deviated outcome may still be measuring.
        if (
            game_day.outcomes.filter(injected_at__isnull=False, fault_ended_at__isnull=True)
            .exclude(result=Result.FAILED)
            .exists()
        ):
            return
        GameDay.objects.filter(pk=game_day.pk, state=GameDay.State.RUNNING).update(
            state=GameDay.State.FINISHED, finished_at=timezone.now()
        )
        board.board_changed(game_day.workshop_id)
        board.game_day_changed(workshop_id=game_day.workshop_id)


@shared_task(acks_late=True, name="academy.workshops.gameday.run_outcome")
def run_outcome(outcome_id: int) -> str | None:
    outcome = GameDayOutcome.objects.filter(pk=outcome_id).first()
    return None if outcome is None else game_day_outcome_run(outcome=outcome)


# --- Where a game day stands (the board, the debrief) -------------------------------------------


def outcome_measuring(outcome: GameDayOutcome, game_day: GameDay) -> bool:
    """Whether ``outcome`` is not final yet: its lab host is still measuring it. "Deviated" is
    recorded at the first failed measurement, while the fault still runs, so a deviated outcome
    whose fault has not ended is "deviated so far", not a result. A finished game day (also one
    finished as stale, _finish_stale) has only final outcomes."""
    if game_day.state != GameDay.State.RUNNING:
        return False
    return outcome.result == Result.PENDING or (
        outcome.result == Result.DEVIATED and outcome.fault_ended_at is None
    )


def game_day_window_ends(game_day: GameDay, outcomes: list[GameDayOutcome]) -> datetime:
    """When the fault window ends: the last injection plus the duration; before any injection,
    an estimate from the start (each lab host measures the steady state first)."""
    injected = [outcome.injected_at for outcome in outcomes if outcome.injected_at]
    begun = max(injected) if injected else game_day.created_at
    return begun + timedelta(seconds=game_day.duration_seconds)


def game_day_counts(game_day: GameDay, outcomes: list[GameDayOutcome]) -> dict[str, int]:
    """Final results per kind, and ``measuring``: outcomes not final yet (outcome_measuring),
    counted there and not under the result recorded so far."""
    counts = {value: 0 for value in Result.values}
    counts["measuring"] = 0
    for outcome in outcomes:
        if outcome_measuring(outcome, game_day):
            counts["measuring"] += 1
        else:
            counts[outcome.result] += 1
    return counts


# --- The debrief ---------------------------------------------------------------------------------


def _seconds(start: datetime, value: str | None) -> float | None:
    if not value:
        return None
    return (datetime.fromisoformat(value) - start).total_seconds()


def game_day_debrief(*, game_day: GameDay, attendee: Attendee | None = None) -> dict[str, Any]:
    """Per attendee, a timeline: marks at their offset (percent of the axis) and the fault
    window shaded; and the summary. With ``attendee``, that attendee's row only (their own
    result page): nobody else's outcome is read."""
    found = game_day.outcomes.select_related("attendee").order_by("attendee__joined_at")
    if attendee is not None:
        found = found.filter(attendee=attendee)
    outcomes = list(found)
    rows = []
    for outcome in outcomes:
        marks = outcome.measurements or []
        measuring = outcome_measuring(outcome, game_day)
        if not marks:
            rows.append({"outcome": outcome, "marks": [], "window": None, "measuring": measuring})
            continue
        start = datetime.fromisoformat(marks[0]["at"])
        end = datetime.fromisoformat(marks[-1]["at"])
        if outcome.fault_ended_at:
            end = max(end, outcome.fault_ended_at)
        span = max(1.0, (end - start).total_seconds())
        window = None
        if outcome.injected_at:
            left = _seconds(start, outcome.injected_at.isoformat()) or 0.0
            ended = (
                _seconds(start, outcome.fault_ended_at.isoformat())
                if outcome.fault_ended_at
                else None
            )
            right = span if ended is None else ended
            window = {
                "left": round(100 * max(0.0, left) / span, 2),
                "width": round(100 * max(0.0, right - left) / span, 2),
            }
        rows.append(
            {
                "outcome": outcome,
                "measuring": measuring,
                "span": round(span),
                "window": window,
                "marks": [
                    {
                        **mark,
                        "left": round(100 * (_seconds(start, mark["at"]) or 0) / span, 2),
                        "offset": round(_seconds(start, mark["at"]) or 0, 1),
                    }
                    for mark in marks
                ],
            }
        )
    return {
        "game_day": game_day,
        "rows": rows,
        "counts": game_day_counts(game_day, outcomes),
        "total": len(outcomes),
        "running": game_day.state == GameDay.State.RUNNING,
    }


PHASE_LABELS = {
    "before": gettext_lazy("before the fault"),
    "during": gettext_lazy("during the fault"),
    "after": gettext_lazy("after the fault"),
}
