"""Chaos Toolkit journals: what a learner's experiment did, as a timeline and as coverage.

Pure functions on the JSON that ``chaos run`` writes (chaostoolkit 1.19, chaostoolkit-lib 1.44),
or on the smaller copy of it that ``journal_compact`` keeps (same shape, shorter values):

    journal = json.loads(path.read_text())
    if looks_like_journal(journal):
        timeline = journal_timeline(journal_compact(journal))
        coverage = chaos_coverage(["toolbox", "api", "lb"], "toolbox", [journal])

What a journal holds: ``experiment`` (the experiment as run), ``status`` ("completed", "failed",
"aborted" or "interrupted"), ``deviated``, ``start``/``end`` (ISO 8601) and ``duration``,
``steady_states`` ({"before": state, "after": state, "during": [state, ...]}, a state being
{"steady_state_met", "probes": [run, ...]} or null when not run), ``run`` (the method's
activities) and ``rollbacks``. A run is {"activity", "status" ("succeeded"/"failed", missing
when the run was cut short), "output", "exception" (traceback lines), "start", "end",
"duration"} plus ``tolerance_met`` for the probes of a steady state.

No Django here: the page and the services give these functions plain data.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

PHASES = ("before", "during", "after", "rollbacks")
# The platform's faults sidecar (labs.content.FAULTS_CONTAINER): never a part of the lab.
FAULTS_SIDECAR = "faults"
# `fault ACTION NAME` and POST /v1/faults actions that break something; "unpause" mends.
FAULT_ACTIONS = frozenset({"kill", "pause", "restart", "stress"})
# chaostoolkit-toxiproxy actions that degrade a proxy (create_*toxic, disable_proxy).
TOXIPROXY_MODULES = ("chaostoxi.toxic.actions", "chaostoxi.proxy.actions")
# The target service's fault settings: PUT /faults or /config with only these at 0 mends.
MENDING_SETTINGS = frozenset({"delay_ms", "error_rate"})

MAX_TEXT = 300  # characters kept of a string in a compacted journal
MAX_ITEMS = 30  # items kept of a list (or keys of an object) inside a value
MAX_RUNS = 200  # activities kept per phase
MAX_DURING = 60  # continuous steady-state iterations kept
MAX_DEPTH = 5


# --- Reading ---------------------------------------------------------------------------------


def looks_like_journal(data: object) -> bool:
    """Whether a JSON document is a Chaos Toolkit journal (not an experiment, not settings)."""
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("experiment"), Mapping)
        and "status" in data
        and ("run" in data or "steady_states" in data)
    )


def _text(value: object, limit: int = MAX_TEXT) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _shrink(value: object, depth: int = 0) -> object:
    """The value with long strings cut, long lists and objects shortened, deep nesting cut."""
    if isinstance(value, str):
        return _text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_ITEMS]
        return {_text(key, 100): _shrink(item, depth + 1) for key, item in items}
    if isinstance(value, list | tuple):
        return [_shrink(item, depth + 1) for item in value[:MAX_ITEMS]]
    return _text(value)


def _list(value: object) -> list:
    return list(value) if isinstance(value, list) else []


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


# --- Compacting --------------------------------------------------------------------------------


def _compact_activity(activity: object) -> dict:
    activity = _mapping(activity)
    provider = _mapping(activity.get("provider"))
    kept = {key: _text(activity[key], 200) for key in ("type", "name", "ref") if key in activity}
    if "tolerance" in activity:
        kept["tolerance"] = _shrink(activity["tolerance"])
    if activity.get("background"):
        kept["background"] = True
    # Headers and secrets may carry credentials, and no picture needs them.
    kept["provider"] = {
        key: _shrink(provider[key])
        for key in ("type", "url", "method", "path", "module", "func", "arguments")
        if key in provider
    }
    return kept


def _compact_output(output: object) -> object:
    if isinstance(output, Mapping) and "status" in output:
        if "stdout" in output or "stderr" in output:  # the process provider
            return {
                "status": _shrink(output.get("status")),
                "stdout": _text(output.get("stdout")),
                "stderr": _text(output.get("stderr")),
            }
        if "headers" in output or "body" in output:  # the HTTP provider
            return {"status": _shrink(output.get("status")), "body": _shrink(output.get("body"))}
    return _shrink(output)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()\]]+)")


def _exception_line(exception: object) -> str:
    """The error of a run's traceback, in a line: its last line, with a long chain of
    connection errors cut to what happened ("failed to connect to URL: Connection refused")."""
    if isinstance(exception, list):
        lines = [line for part in exception for line in str(part).splitlines() if line.strip()]
        exception = lines[-1] if lines else ""
    text = str(exception or "").strip().removeprefix("chaoslib.exceptions.ActivityFailed: ")
    errno = _ERRNO.findall(text)
    if len(text) > 160 and errno:
        return f"{text.split(': ', 1)[0]}: {errno[-1].strip()}"
    return text


def _compact_run(run: object) -> dict:
    run = _mapping(run)
    kept: dict = {"activity": _compact_activity(run.get("activity"))}
    for key in ("status", "start", "end"):
        if key in run:
            kept[key] = _text(run[key], 40)
    if "duration" in run:
        kept["duration"] = _number(run["duration"])
    if "tolerance_met" in run:
        kept["tolerance_met"] = (
            run["tolerance_met"] if isinstance(run["tolerance_met"], bool) else None
        )
    kept["output"] = _compact_output(run.get("output"))
    if run.get("exception"):
        kept["exception"] = _text(_exception_line(run["exception"]))
    return kept


def _compact_state(state: object) -> dict | None:
    if not isinstance(state, Mapping):
        return None
    met = state.get("steady_state_met")
    return {
        "steady_state_met": met if isinstance(met, bool) else None,
        "probes": [_compact_run(run) for run in _list(state.get("probes"))[:MAX_RUNS]],
    }


def journal_compact(journal: Mapping) -> dict:
    """A smaller journal of the same shape: enough for the timeline and the coverage.

    Tracebacks keep their last line, HTTP answers lose their headers, long texts are cut, and
    the provider's headers and secrets are dropped.
    """
    experiment = _mapping(journal.get("experiment"))
    hypothesis = experiment.get("steady-state-hypothesis")
    configuration = {
        _text(key, 100): value
        for key, value in list(_mapping(experiment.get("configuration")).items())[:MAX_ITEMS]
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    compact_experiment: dict = {
        "title": _text(experiment.get("title"), 200),
        "description": _text(experiment.get("description"), 500),
        "configuration": {key: _shrink(value) for key, value in configuration.items()},
        "method": [_compact_activity(a) for a in _list(experiment.get("method"))[:MAX_RUNS]],
        "rollbacks": [_compact_activity(a) for a in _list(experiment.get("rollbacks"))[:MAX_RUNS]],
    }
    if isinstance(hypothesis, Mapping):
        compact_experiment["steady-state-hypothesis"] = {
            "title": _text(hypothesis.get("title"), 200),
            "probes": [_compact_activity(p) for p in _list(hypothesis.get("probes"))[:MAX_RUNS]],
        }
    states = _mapping(journal.get("steady_states"))
    return {
        "chaoslib-version": _text(journal.get("chaoslib-version"), 20),
        "experiment": compact_experiment,
        "start": _text(journal.get("start"), 40),
        "end": _text(journal.get("end"), 40),
        "duration": _number(journal.get("duration")),
        "status": _text(journal.get("status"), 20),
        "deviated": journal.get("deviated") is True,
        "steady_states": {
            "before": _compact_state(states.get("before")),
            "after": _compact_state(states.get("after")),
            "during": [
                state
                for state in map(_compact_state, _list(states.get("during"))[:MAX_DURING])
                if state is not None
            ],
        },
        "run": [_compact_run(run) for run in _list(journal.get("run"))[:MAX_RUNS]],
        "rollbacks": [_compact_run(run) for run in _list(journal.get("rollbacks"))[:MAX_RUNS]],
    }


# --- Timeline ----------------------------------------------------------------------------------


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class Activity:
    """One activity of a run, placed in time (seconds from the experiment's start)."""

    phase: str  # one of PHASES
    kind: str  # "probe" or "action"
    name: str
    call: str  # what it did: "GET http://api:8080/health", "fault kill api"
    start: float | None
    end: float | None
    status: str  # "succeeded", "failed", or "" when the run was cut short
    tolerance: str  # the probe's declared tolerance, as text ("" when none)
    tolerance_met: bool | None  # for the probes of a steady state
    output: str  # a short summary of what it returned, or its error
    background: bool = False
    iteration: int | None = None  # which continuous steady-state check, during the method
    left: float = 0.0  # percent of the timeline's width, for the picture
    width: float = 0.0
    row: int = 0  # activities that overlap in time (background ones, continuous checks) stack

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)

    @property
    def mark(self) -> str:
        """How the picture draws it: "met", "not-met", "failed", "unfinished", "probe", "action"."""
        if not self.status:
            return "unfinished"
        if self.tolerance_met is True:
            return "met"
        if self.tolerance_met is False:
            return "not-met"
        if self.status == "failed":
            return "failed"
        return "probe" if self.kind == "probe" else "action"

    @property
    def placed(self) -> bool:
        return self.start is not None


@dataclass(frozen=True)
class Tick:
    seconds: float
    left: float  # percent
    decimals: int = 0  # what the label needs: 0 for whole seconds, 3 for milliseconds

    @property
    def floatformat(self) -> int:
        """Django's floatformat argument: decimals only where the tick has some ("0", "0.5")."""
        return -self.decimals


@dataclass(frozen=True)
class Lane:
    phase: str
    activities: tuple[Activity, ...]
    ran: bool  # false: this phase did not run at all (no hypothesis, not reached, ...)

    @property
    def rows(self) -> int:
        return 1 + max((activity.row for activity in self.activities), default=0)


@dataclass(frozen=True)
class Timeline:
    title: str
    status: str  # the journal's own status: completed, failed, aborted, interrupted
    deviated: bool
    outcome: str  # what the run proves; see _outcome
    fault: bool  # the method holds an action (a fault), not only probes
    start: datetime | None
    duration: float  # seconds
    before_met: bool | None
    after_met: bool | None
    during_met: bool | None  # every continuous check met (None: none ran)
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...] = field(default=())

    @property
    def display_status(self) -> str:
        """completed, deviated, failed, aborted or interrupted (deviated wins, as `chaos` says)."""
        return "deviated" if self.deviated else self.status

    @property
    def activities(self) -> tuple[Activity, ...]:
        return tuple(activity for lane in self.lanes for activity in lane.activities)

    def lane(self, phase: str) -> Lane:
        return next(lane for lane in self.lanes if lane.phase == phase)


def _arguments_text(arguments: object) -> str:
    if isinstance(arguments, str):
        return arguments
    if isinstance(arguments, list):
        return shlex.join(str(item) for item in arguments)
    if isinstance(arguments, Mapping):
        return ", ".join(f"{key}={_value_text(value)}" for key, value in arguments.items())
    return ""


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _call(activity: Mapping) -> str:
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    if kind == "http":
        method = str(provider.get("method") or "GET").upper()
        return _text(f"{method} {provider.get('url', '')}", 200)
    if kind == "process":
        arguments = _arguments_text(provider.get("arguments"))
        return _text(f"{provider.get('path', '')} {arguments}".strip(), 200)
    if kind == "python":
        function = f"{provider.get('module', '')}.{provider.get('func', '')}"
        return _text(f"{function}({_arguments_text(provider.get('arguments'))})", 200)
    if activity.get("ref"):
        return _text(f"ref: {activity['ref']}", 200)
    return ""


def _output(run: Mapping) -> str:
    if run.get("exception"):
        return _text(_exception_line(run["exception"]), 200)
    output = run.get("output")
    if output is None:
        return ""
    if isinstance(output, Mapping) and "status" in output:
        if "stdout" in output or "stderr" in output:
            lines = str(output.get("stdout") or output.get("stderr") or "").strip().splitlines()
            first = f": {lines[0]}" if lines else ""
            return _text(f"exit {output.get('status')}{first}", 200)
        if "body" in output or "headers" in output:
            return f"HTTP {output.get('status')}"
    return _text(_value_text(output), 200)


def _tolerance(activity: Mapping) -> str:
    if "tolerance" not in activity:
        return ""
    return _text(_value_text(activity["tolerance"]), 80)


def _activities(runs: Iterable, phase: str, start: datetime | None, **extra) -> list[Activity]:
    placed = []
    for run in runs:
        if not isinstance(run, Mapping):
            continue
        activity = _mapping(run.get("activity"))
        began, ended = _time(run.get("start")), _time(run.get("end"))
        offset = (began - start).total_seconds() if began and start else None
        finish = (ended - start).total_seconds() if ended and start else None
        if offset is not None and finish is None:
            duration = _number(run.get("duration"))
            finish = offset + duration if duration is not None else offset
        met = run.get("tolerance_met")
        placed.append(
            Activity(
                phase=phase,
                kind="action" if activity.get("type") == "action" else "probe",
                name=_text(activity.get("name") or activity.get("ref") or "?", 200),
                call=_call(activity),
                start=offset,
                end=finish,
                status=str(run.get("status") or ""),
                tolerance=_tolerance(activity),
                tolerance_met=met if isinstance(met, bool) else None,
                output=_output(run),
                background=bool(activity.get("background")),
                **extra,
            )
        )
    return placed


def _outcome(
    *,
    status: str,
    deviated: bool,
    hypothesis: bool,
    before: bool | None,
    after: bool | None,
    during: bool | None,
) -> str:
    """What the learner proved, as a word the page turns into a sentence.

    no-hypothesis, not-met-before, deviated, held, held-with-dips, before-only, after-only-held,
    after-only-deviated, interrupted, aborted, failed.
    """
    if before is False:
        return "not-met-before"
    if deviated or after is False:
        return "deviated" if before else "after-only-deviated"
    if status == "interrupted":
        return "interrupted"
    if status == "aborted":
        return "aborted"
    if not hypothesis:
        return "no-hypothesis" if status == "completed" else "failed"
    if status != "completed":
        return "failed"
    if before and after:
        return "held-with-dips" if during is False else "held"
    if before:
        return "before-only"
    if after:
        return "after-only-held"
    return "failed"


def _placed(activities: list[Activity], span: float) -> tuple[Activity, ...]:
    """Activities with their place on the picture: activities that run at the same time (in
    the background, or continuous checks beside the method) go on rows of their own."""
    row_ends: list[float] = []
    placed = []
    for activity in activities:
        if activity.start is None:
            placed.append(activity)
            continue
        left = min(100.0, max(0.0, 100 * activity.start / span))
        width = min(100.0 - left, 100 * activity.duration / span)
        end = activity.end if activity.end is not None else activity.start
        row = next((n for n, busy in enumerate(row_ends) if busy <= activity.start), None)
        if row is None:
            row = len(row_ends)
            row_ends.append(end)
        else:
            row_ends[row] = end
        placed.append(replace(activity, left=round(left, 3), width=round(width, 3), row=row))
    return tuple(placed)


_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120)
_STEPS += (300, 600, 1800, 3600)


def _tick_step(span: float) -> float:
    """The smallest round step that puts at most six intervals on the axis."""
    for step in _STEPS:
        if span / step <= 6:
            return step
    return 3600 * math.ceil(span / 3600 / 6)


def journal_timeline(journal: Mapping) -> Timeline:
    """The run as lanes of activities on one time axis: before, during, after, rollbacks."""
    experiment = _mapping(journal.get("experiment"))
    start = _time(journal.get("start"))
    states = _mapping(journal.get("steady_states"))
    before, after = _mapping(states.get("before")), _mapping(states.get("after"))
    during_states = [state for state in _list(states.get("during")) if isinstance(state, Mapping)]

    during = _activities(_list(journal.get("run")), "during", start)
    for number, state in enumerate(during_states, start=1):
        during += _activities(_list(state.get("probes")), "during", start, iteration=number)
    during.sort(key=lambda activity: (activity.start is None, activity.start or 0.0))
    phases = {
        "before": _activities(_list(before.get("probes")), "before", start),
        "during": during,
        "after": _activities(_list(after.get("probes")), "after", start),
        "rollbacks": _activities(_list(journal.get("rollbacks")), "rollbacks", start),
    }
    ran = {
        "before": bool(before),
        "during": bool(journal.get("run")) or bool(during_states),
        "after": bool(after),
        "rollbacks": bool(journal.get("rollbacks")),
    }

    ends = [activity.end for lane in phases.values() for activity in lane if activity.end]
    duration = _number(journal.get("duration"))
    if duration is None:
        finished = _time(journal.get("end"))
        duration = (finished - start).total_seconds() if finished and start else 0.0
    span = max([duration, *ends, 0.001])
    step = _tick_step(span)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    ticks = tuple(
        Tick(seconds=round(n * step, 3), left=round(100 * n * step / span, 3), decimals=decimals)
        for n in range(int(span / step + 1e-9) + 1)
    )

    def met(state: Mapping) -> bool | None:
        value = state.get("steady_state_met")
        return value if isinstance(value, bool) else None

    hypothesis = _mapping(experiment.get("steady-state-hypothesis"))
    during_met = None
    if during_states:
        during_met = all(met(state) is not False for state in during_states)
    status = str(journal.get("status") or "")
    deviated = journal.get("deviated") is True
    method = [_mapping(a) for a in _list(experiment.get("method"))]
    fault = any(a.get("type") == "action" for a in method) or any(
        a.kind == "action" for a in phases["during"]
    )
    return Timeline(
        title=_text(experiment.get("title") or "", 200),
        status=status,
        deviated=deviated,
        outcome=_outcome(
            status=status,
            deviated=deviated,
            hypothesis=bool(_list(hypothesis.get("probes"))),
            before=met(before) if before else None,
            after=met(after) if after else None,
            during=during_met,
        ),
        fault=fault,
        start=start,
        duration=round(duration, 3),
        before_met=met(before) if before else None,
        after_met=met(after) if after else None,
        during_met=during_met,
        lanes=tuple(
            Lane(phase=phase, activities=_placed(phases[phase], span), ran=ran[phase])
            for phase in PHASES
        ),
        ticks=ticks,
    )


# --- Coverage ----------------------------------------------------------------------------------


_HOST_PORT = re.compile(r"^([a-z][a-z0-9-]*):\d{1,5}(?:/.*)?$")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
_FAULT_COMMAND = re.compile(r"(?:^|[\s;&|(`])fault\s+([a-z]+)\s+([a-z][a-z0-9-]*)(?![\w-])")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def _substitute(value: str, configuration: Mapping) -> str:
    """${name} replaced by the experiment's configuration, when it is a plain value."""

    def lookup(match: re.Match) -> str:
        found = configuration.get(match.group(1))
        if isinstance(found, str | int | float) and not isinstance(found, bool):
            return str(found)
        return match.group(0)

    return _VARIABLE.sub(lookup, value)


def _url_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: plain words will do
        return text.split()


def _strings(value: object, depth: int = 0) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif depth < MAX_DEPTH and isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


def _named_in(text: str, names: frozenset[str]) -> set[str]:
    """Names that a piece of text names as a whole: a URL's host, a word, or HOST:PORT."""
    found = {host for url in _URL.findall(text) if (host := _url_host(url)) in names}
    for token in _tokens(text):
        token = token.strip("\"'`,;()[]{}").lower()
        if "://" in token:
            continue  # a URL: its host was read above, its path names nothing
        if token in names:
            found.add(token)
        elif (match := _HOST_PORT.match(token)) and match.group(1) in names:
            found.add(match.group(1))
    return found


def _proxy_target(proxy: object, names: frozenset[str]) -> str | None:
    """The container a Toxiproxy proxy stands for: "dependency", "dependency-proxy"..."""
    if not isinstance(proxy, str):
        return None
    proxy = proxy.lower()
    if proxy in names:
        return proxy
    for pattern in (r"^(.+)[-_]proxy$", r"^proxy[-_](.+)$"):
        match = re.match(pattern, proxy)
        if match and match.group(1) in names:
            return match.group(1)
    return None


def _json_arguments(arguments: object) -> Mapping:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return {}
    return _mapping(arguments)


def _process_words(provider: Mapping) -> list[str]:
    arguments = provider.get("arguments")
    if isinstance(arguments, list):
        return [str(item) for item in arguments]
    if isinstance(arguments, str):
        return _tokens(arguments)
    return []


def fault_targets(
    activity: Mapping, names: Iterable[str], configuration: Mapping | None = None
) -> set[str]:
    """The containers (of ``names``) an action breaks, as far as its provider says."""
    names = frozenset(name.lower() for name in names)
    configuration = configuration or {}
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    found: set[str] = set()
    if kind == "http":
        url = _substitute(str(provider.get("url") or ""), configuration)
        method = str(provider.get("method") or "GET").upper()
        host = _url_host(url)
        try:
            path = urlsplit(url).path.rstrip("/")
        except ValueError:
            return found
        arguments = _json_arguments(provider.get("arguments"))
        if host == FAULTS_SIDECAR and method == "POST" and path == "/v1/faults":
            target = arguments.get("target")
            if arguments.get("action") in FAULT_ACTIONS and isinstance(target, str):
                found |= {target.lower()} & names
        elif host in names and method == "PUT" and path in ("/config", "/faults"):
            mends = arguments and set(arguments) <= MENDING_SETTINGS
            if not (mends and all(arguments[key] in (0, 0.0) for key in arguments)):
                found.add(host)
    elif kind == "process":
        words = _process_words(provider)
        program = str(provider.get("path") or "").rsplit("/", 1)[-1]
        if program == "fault" and len(words) >= 2 and words[0] in FAULT_ACTIONS:
            found |= {words[1].lower()} & names
        elif program in ("bash", "sh", "dash", "zsh"):  # `bash -c "fault kill api"`
            script = " ".join(words)
            for action, target in _FAULT_COMMAND.findall(script):
                if action in FAULT_ACTIONS and target in names:
                    found.add(target)
    elif kind == "python":
        module, function = str(provider.get("module") or ""), str(provider.get("func") or "")
        arguments = _mapping(provider.get("arguments"))
        if module in TOXIPROXY_MODULES:
            degrades = (
                (module == "chaostoxi.toxic.actions" and function.startswith("create_"))
                or function == "disable_proxy"
                or (function == "modify_proxy" and arguments.get("enabled") is False)
            )
            proxy = arguments.get("for_proxy", arguments.get("proxy_name"))
            target = _proxy_target(proxy, names)
            if degrades and target:
                found.add(target)
    return found


def probe_targets(
    activity: Mapping, names: Iterable[str], configuration: Mapping | None = None
) -> set[str]:
    """The containers (of ``names``) a probe looks at: by URL host, or named as a whole word."""
    names = frozenset(name.lower() for name in names)
    configuration = configuration or {}
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    found: set[str] = set()
    if kind == "http":
        host = _url_host(_substitute(str(provider.get("url") or ""), configuration))
        if host in names:
            found.add(host)
    elif kind == "process":
        for word in _process_words(provider):
            found |= _named_in(_substitute(word, configuration), names)
    elif kind == "python":
        arguments = _mapping(provider.get("arguments"))
        if str(provider.get("module") or "").startswith("chaostoxi."):
            target = _proxy_target(arguments.get("proxy_name", arguments.get("for_proxy")), names)
            if target:
                found.add(target)
        for text in _strings(arguments):
            found |= _named_in(_substitute(text, configuration), names)
    return found


def _fault_worked(run: Mapping) -> bool:
    """Whether an action that ran did what it asked: no error, exit 0, HTTP 2xx or 3xx."""
    if run.get("status") != "succeeded":
        return False
    output = run.get("output")
    kind = _mapping(_mapping(run.get("activity")).get("provider")).get("type")
    if kind == "process":
        return _mapping(output).get("status") == 0
    if kind == "http":
        status = _mapping(output).get("status")
        return isinstance(status, int) and 200 <= status < 400
    return output is not False


@dataclass(frozen=True)
class PartCoverage:
    name: str
    faulted_by: tuple[str, ...]  # names of the actions that broke it
    observed_by: tuple[str, ...]  # names of the probes that looked at it

    @property
    def faulted(self) -> bool:
        return bool(self.faulted_by)

    @property
    def observed(self) -> bool:
        return bool(self.observed_by)

    @property
    def state(self) -> str:
        """faulted-and-observed, faulted, observed or not-exercised."""
        if self.faulted and self.observed:
            return "faulted-and-observed"
        if self.faulted:
            return "faulted"
        return "observed" if self.observed else "not-exercised"


@dataclass(frozen=True)
class Coverage:
    parts: tuple[PartCoverage, ...]

    @property
    def total(self) -> int:
        return len(self.parts)

    @property
    def faulted(self) -> int:
        return sum(part.faulted for part in self.parts)

    @property
    def observed(self) -> int:
        return sum(part.observed for part in self.parts)

    @property
    def not_exercised(self) -> int:
        return sum(part.state == "not-exercised" for part in self.parts)


def _probe_runs(journal: Mapping) -> Iterable[Mapping]:
    states = _mapping(journal.get("steady_states"))
    for state in [states.get("before"), states.get("after"), *_list(states.get("during"))]:
        yield from _list(_mapping(state).get("probes"))
    yield from (
        run
        for run in _list(journal.get("run"))
        if _mapping(run.get("activity")).get("type") == "probe"
    )


def chaos_coverage(
    topology_names: Iterable[str], shell_name: str, journals: Iterable[Mapping]
) -> Coverage:
    """Which parts of the lab the experiments broke and which they watched.

    A part is a container of the lab other than the learner's shell and the faults sidecar. It
    is *faulted* when an action of a method that ran, and worked, targets it (`fault kill api`,
    a POST to the faults sidecar, a Toxiproxy toxic on its proxy, a PUT to its /config or
    /faults), and *observed* when a probe that ran names it (an HTTP probe on it, `slo URL`).
    Rollbacks mend, so they count for neither.
    """
    names = [
        name.lower()
        for name in dict.fromkeys(topology_names)
        if name.lower() not in (shell_name.lower(), FAULTS_SIDECAR)
    ]
    faulted: dict[str, list[str]] = {name: [] for name in names}
    observed: dict[str, list[str]] = {name: [] for name in names}
    for journal in journals:
        configuration = _mapping(_mapping(journal.get("experiment")).get("configuration"))
        for run in _list(journal.get("run")):
            activity = _mapping(_mapping(run).get("activity"))
            if activity.get("type") == "action" and _fault_worked(run):
                for name in fault_targets(activity, names, configuration):
                    faulted[name].append(str(activity.get("name") or "?"))
        for run in _probe_runs(journal):
            activity = _mapping(_mapping(run).get("activity"))
            if _mapping(run).get("status") in ("succeeded", "failed"):
                for name in probe_targets(activity, names, configuration):
                    observed[name].append(str(activity.get("name") or "?"))
    return Coverage(
        parts=tuple(
            PartCoverage(
                name=name,
                faulted_by=tuple(dict.fromkeys(faulted[name])),
                observed_by=tuple(dict.fromkeys(observed[name])),
            )
            for name in names
        )
    )


# --- Stored journals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalEntry:
    """A journal as a session keeps it: its path in the learner's home and its timeline."""

    path: str
    modified: datetime | None
    size: int | None
    timeline: Timeline


def journal_entries(stored: Mapping[str, Mapping]) -> list[JournalEntry]:
    """The journals a session keeps ({path: {"modified", "size", "journal"}}), newest run first."""
    entries = []
    for path, item in stored.items():
        item = _mapping(item)
        size = item.get("size")
        entries.append(
            JournalEntry(
                path=str(path),
                modified=_time(item.get("modified")),
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                timeline=journal_timeline(_mapping(item.get("journal"))),
            )
        )

    def newest(entry: JournalEntry) -> tuple[float, str]:
        moment = entry.timeline.start or entry.modified
        return (-moment.timestamp() if moment else math.inf, entry.path)

    return sorted(entries, key=newest)
