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

import hashlib
import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
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


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- Chaos Toolkit's substitution --------------------------------------------------------------

# chaostoolkit-lib's `substitute` is string.Template's safe_substitute over a ChainMap of the
# loaded configuration and then every scope of the loaded secrets: `$$` is a `$`, `$name` and
# `${name}` are looked up (ASCII names, any case), anything else is left as it is. It runs once,
# never again on what it put in, on an http provider's url and arguments, a process provider's
# arguments, a python provider's arguments, and a probe's tolerance.
_PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?P<braced>[_a-z][_a-z0-9]*)\})",
    re.IGNORECASE | re.ASCII,
)
SECRET_MASK = "***"  # what a secret's value looks like wherever this module shows or keeps it
MAX_VARIABLES = 100  # configuration keys, and secrets, read from a journal (each)
MAX_RESOLVED = 2000  # characters a substituted string may grow to; the rest is cut
MAX_HIDDEN = 20  # digests of names a secret hid, kept per activity


class _Unknown:
    """A value `chaos run` had and the journal does not carry (the environment, a probe)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Variables:
    """What `${name}` stood for in one run: name -> value (UNKNOWN when the journal cannot
    tell), and which of the names were secrets."""

    values: Mapping[str, object] = field(default_factory=dict)
    secrets: frozenset[str] = frozenset()


NO_VARIABLES = Variables()


def _declared_value(value: object) -> object:
    """A configuration entry's value as `chaos run` loads it, as far as the journal tells.

    ``{"type": "env", "key": ..., "default": ...}`` reads the environment of the learner's shell,
    which the journal does not record: the default stands in for it, as it did unless the
    learner exported the variable (a careful reader of the experiment assumes the same; `--var`
    and `--var-file` overrides are not recorded either). With no default the value is UNKNOWN
    and `${name}` stays as written: nothing is guessed. Dynamic configuration (``"type":
    "probe"``) and Vault are UNKNOWN too.
    """
    if isinstance(value, Mapping) and "type" in value:
        if value.get("type") == "env":
            return value.get("default", UNKNOWN)
        if value.get("type") in ("probe", "vault"):
            return UNKNOWN
    return value


def journal_variables(journal: Mapping[str, Any]) -> Variables:
    """The names an experiment's activities may use, from its `configuration` and `secrets`.

    Configuration comes first, then each scope of the secrets in order (chaostoolkit-lib's
    ChainMap); a name the configuration declares is never looked up in the secrets, even when
    its value is UNKNOWN. A secret whose value comes from the environment or Vault is UNKNOWN.
    A compacted journal is already substituted: it has no variables.
    """
    if journal.get("substituted") is True:
        return NO_VARIABLES
    experiment = _mapping(journal.get("experiment"))
    values: dict[str, object] = {}
    for key, value in list(_mapping(experiment.get("configuration")).items())[:MAX_VARIABLES]:
        if isinstance(key, str):
            values[key] = _declared_value(value)
    secrets: set[str] = set()
    for scope in list(_mapping(experiment.get("secrets")).values())[:MAX_VARIABLES]:
        if not isinstance(scope, Mapping) or "type" in scope:
            continue  # a whole scope from the environment or Vault: nothing to read here
        for key, value in list(scope.items())[:MAX_VARIABLES]:
            if isinstance(key, str) and key not in values and len(secrets) < MAX_VARIABLES:
                values[key] = _declared_value(value)
                secrets.add(key)
    return Variables(values=values, secrets=frozenset(secrets))


def _variables(value: Variables | Mapping[str, Any] | None) -> Variables:
    """Variables as given, or made from a plain configuration mapping."""
    if isinstance(value, Variables):
        return value
    if isinstance(value, Mapping):
        return journal_variables({"experiment": {"configuration": value}})
    return NO_VARIABLES


def substitute(
    value: object, variables: Variables, *, mask: bool = True, _depth: int = 0
) -> object:
    """The value with `$name`, `${name}` and `$$` replaced as `chaos run` replaced them.

    A string that is a single `${name}` becomes the value itself, of its own type; in a longer
    string a value is written with str(), as chaostoolkit-lib does. Objects and lists are
    substituted inside, keys left alone. Names the journal cannot tell (UNKNOWN, undeclared)
    stay as written. With ``mask``, a secret's value is SECRET_MASK. Bounded for hostile
    journals: one pass, strings cut at MAX_RESOLVED characters, nesting at MAX_DEPTH * 2.
    """
    if isinstance(value, str):
        return _substitute_text(value, variables, mask)
    if _depth >= MAX_DEPTH * 2 or not variables.values:
        return value
    if isinstance(value, Mapping):
        return {
            key: substitute(item, variables, mask=mask, _depth=_depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [substitute(item, variables, mask=mask, _depth=_depth + 1) for item in value]
    return value


def _substitute_text(text: str, variables: Variables, mask: bool) -> object:
    if not variables.values or "$" not in text:
        return text
    whole = _PLACEHOLDER.fullmatch(text)
    if whole and whole.group("braced"):
        name = whole.group("braced")
        found = variables.values.get(name, UNKNOWN)
        if found is not UNKNOWN:
            if mask and name in variables.secrets:
                return SECRET_MASK
            return _text(found, MAX_RESOLVED) if isinstance(found, str) else found
    pieces: list[str] = []
    size = last = 0
    for match in _PLACEHOLDER.finditer(text):
        if size > MAX_RESOLVED:
            break
        pieces.append(text[last : match.start()])
        last = match.end()
        name = match.group("named") or match.group("braced")
        found = variables.values.get(name, UNKNOWN) if name else UNKNOWN
        if match.group("escaped"):
            piece = "$"
        elif found is UNKNOWN:
            piece = match.group(0)
        elif mask and name in variables.secrets:
            piece = SECRET_MASK
        else:
            piece = _plain(found)
        pieces.append(piece)
        size += len(pieces[-2]) + len(piece)
    else:
        pieces.append(text[last:])
    return _text("".join(pieces), MAX_RESOLVED)


def _plain(value: object) -> str:
    """str(value) as string.Template writes it, cut: a value may be a large object."""
    if isinstance(value, str):
        return value[: MAX_RESOLVED + 1]
    if isinstance(value, Mapping | list | tuple):
        return _text(str(_shrink(value)), MAX_RESOLVED + 1)
    return _text(str(value), MAX_RESOLVED + 1)


def _resolved_provider(
    provider: Mapping[str, Any], variables: Variables, *, mask: bool
) -> dict[str, Any]:
    """The provider with what Chaos Toolkit substitutes substituted (the rest as declared)."""
    resolved = dict(provider)
    keys = ("url", "arguments", "timeout") if provider.get("type") == "http" else ("arguments",)
    for key in keys:
        if key in resolved:
            resolved[key] = substitute(resolved[key], variables, mask=mask)
    return resolved


def _resolved_activity(
    activity: Mapping[str, Any], variables: Variables, *, mask: bool
) -> Mapping[str, Any]:
    if not variables.values:
        return activity
    resolved = dict(activity)
    if isinstance(activity.get("provider"), Mapping):
        resolved["provider"] = _resolved_provider(activity["provider"], variables, mask=mask)
    if "tolerance" in activity:
        resolved["tolerance"] = substitute(activity["tolerance"], variables, mask=mask)
    return resolved


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


MIN_SCRUBBED = 4  # shorter secrets are masked where substituted, not hunted in free text


def _secret_texts(variables: Variables) -> list[str]:
    """The secrets' values as text, longest first, to be masked wherever they appear."""
    texts = set()
    for name in variables.secrets:
        value = variables.values.get(name)
        scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
        if scalar and len(str(value)) >= MIN_SCRUBBED:
            texts.add(str(value))
    return sorted(texts, key=lambda text: (-len(text), text))[:MAX_VARIABLES]


def _scrubbed(value: object, secrets: list[str], depth: int = 0) -> object:
    """The value with every secret's text in its strings (keys too) replaced by the mask: a
    program may print a secret, a traceback may quote the URL that held it, and `chaos run`
    writes the experiment's title with its secrets substituted."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, SECRET_MASK)
        return value
    if depth > 64:
        return None
    if isinstance(value, Mapping):
        return {
            _scrubbed(key, secrets): _scrubbed(item, secrets, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrubbed(item, secrets, depth + 1) for item in value]
    return value


# --- Compacting --------------------------------------------------------------------------------


def _compact_activity(activity: object, variables: Variables = NO_VARIABLES) -> dict[str, Any]:
    original = _mapping(activity)
    activity = _resolved_activity(original, variables, mask=True)
    provider = _mapping(activity.get("provider"))
    kept: dict[str, Any] = {
        key: _text(activity[key], 200) for key in ("type", "name", "ref") if key in activity
    }
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
    hidden = _hidden_hosts(original, variables, provider)
    if hidden:
        kept["provider"]["hidden_hosts"] = hidden
    return kept


def _hidden_hosts(
    activity: Mapping[str, Any], variables: Variables, shown: Mapping[str, Any]
) -> list[str]:
    """Digests of the hosts that a secret's value put in the provider's URLs, which the mask
    hides: the coverage still matches them, and the stored journal holds no secret's value."""
    kept = _list(_mapping(activity.get("provider")).get("hidden_hosts"))
    if all(isinstance(item, str) and re.fullmatch(r"[0-9a-f]{32}", item) for item in kept):
        hidden = set(kept[:MAX_HIDDEN])  # a compacted journal's
    else:
        hidden = set()
    if variables.secrets:
        real = _resolved_activity(activity, variables, mask=False)
        hosts = _provider_hosts(_mapping(real.get("provider")))
        hidden |= {_digest(host) for host in hosts - _provider_hosts(shown)}
    return sorted(hidden)[:MAX_HIDDEN]


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


def _compact_run(run: object, variables: Variables = NO_VARIABLES) -> dict[str, Any]:
    run = _mapping(run)
    kept: dict[str, Any] = {"activity": _compact_activity(run.get("activity"), variables)}
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


def _compact_state(state: object, variables: Variables = NO_VARIABLES) -> dict[str, Any] | None:
    if not isinstance(state, Mapping):
        return None
    met = state.get("steady_state_met")
    probes = _list(state.get("probes"))[:MAX_RUNS]
    return {
        "steady_state_met": met if isinstance(met, bool) else None,
        "probes": [_compact_run(run, variables) for run in probes],
    }


def journal_compact(journal: Mapping[str, Any]) -> dict[str, Any]:
    """A smaller journal of the same shape: enough for the timeline and the coverage.

    Tracebacks keep their last line, HTTP answers lose their headers, long texts are cut, and
    the provider's headers and secrets are dropped. Placeholders are substituted as `chaos run`
    did (see ``substitute``), with secrets masked: the result says ``"substituted": true`` and
    holds no secret's value (a secret's text is masked wherever it appears, the hosts a secret
    named are kept as digests for the coverage).
    """
    variables = journal_variables(journal)
    journal = _mapping(_scrubbed(journal, _secret_texts(variables)))
    experiment = _mapping(journal.get("experiment"))
    hypothesis = experiment.get("steady-state-hypothesis")
    configuration = {
        _text(key, 100): value
        for key, value in list(_mapping(experiment.get("configuration")).items())[:MAX_ITEMS]
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }

    def activities(items: object) -> list[dict[str, Any]]:
        return [_compact_activity(item, variables) for item in _list(items)[:MAX_RUNS]]

    def runs(items: object) -> list[dict[str, Any]]:
        return [_compact_run(run, variables) for run in _list(items)[:MAX_RUNS]]

    compact_experiment: dict[str, Any] = {
        "title": _text(experiment.get("title"), 200),
        "description": _text(experiment.get("description"), 500),
        "configuration": {key: _shrink(value) for key, value in configuration.items()},
        "method": activities(experiment.get("method")),
        "rollbacks": activities(experiment.get("rollbacks")),
    }
    if isinstance(hypothesis, Mapping):
        compact_experiment["steady-state-hypothesis"] = {
            "title": _text(hypothesis.get("title"), 200),
            "probes": activities(hypothesis.get("probes")),
        }
    states = _mapping(journal.get("steady_states"))
    during = [_compact_state(state, variables) for state in _list(states.get("during"))]
    return {
        "chaoslib-version": _text(journal.get("chaoslib-version"), 20),
        "substituted": True,
        "experiment": compact_experiment,
        "start": _text(journal.get("start"), 40),
        "end": _text(journal.get("end"), 40),
        "duration": _number(journal.get("duration")),
        "status": _text(journal.get("status"), 20),
        "deviated": journal.get("deviated") is True,
        "steady_states": {
            "before": _compact_state(states.get("before"), variables),
            "after": _compact_state(states.get("after"), variables),
            "during": [state for state in during[:MAX_DURING] if state is not None],
        },
        "run": runs(journal.get("run")),
        "rollbacks": runs(journal.get("rollbacks")),
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


def _call(activity: Mapping[str, Any], variables: Variables = NO_VARIABLES) -> str:
    """What the activity did, as Chaos Toolkit ran it: placeholders substituted (secrets
    masked), "GET http://api:8080/health" rather than "GET ${front_url}"."""
    activity = _resolved_activity(activity, variables, mask=True)
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    if kind == "http":
        method = str(provider.get("method") or "GET").upper()
        return _text(f"{method} {_value_text(provider.get('url', ''))}", 200)
    if kind == "process":
        arguments = _arguments_text(provider.get("arguments"))
        return _text(f"{provider.get('path', '')} {arguments}".strip(), 200)
    if kind == "python":
        function = f"{provider.get('module', '')}.{provider.get('func', '')}"
        return _text(f"{function}({_arguments_text(provider.get('arguments'))})", 200)
    if activity.get("ref"):
        return _text(f"ref: {activity['ref']}", 200)
    return ""


def _output(run: Mapping[str, Any]) -> str:
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


def _tolerance(activity: Mapping[str, Any], variables: Variables = NO_VARIABLES) -> str:
    if "tolerance" not in activity:
        return ""
    tolerance = substitute(activity["tolerance"], variables, mask=True)
    return _text(_value_text(tolerance), 80)


def _activities(
    runs: Iterable[object],
    phase: str,
    start: datetime | None,
    variables: Variables = NO_VARIABLES,
    **extra: Any,
) -> list[Activity]:
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
                call=_call(activity, variables),
                start=offset,
                end=finish,
                status=str(run.get("status") or ""),
                tolerance=_tolerance(activity, variables),
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


_STEPS: tuple[float, ...] = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
)
_STEPS += (300, 600, 1800, 3600)


def _tick_step(span: float) -> float:
    """The smallest round step that puts at most six intervals on the axis."""
    for step in _STEPS:
        if span / step <= 6:
            return step
    return 3600 * math.ceil(span / 3600 / 6)


def journal_timeline(journal: Mapping[str, Any]) -> Timeline:
    """The run as lanes of activities on one time axis: before, during, after, rollbacks."""
    variables = journal_variables(journal)
    journal = _mapping(_scrubbed(journal, _secret_texts(variables)))
    experiment = _mapping(journal.get("experiment"))
    start = _time(journal.get("start"))
    states = _mapping(journal.get("steady_states"))
    before, after = _mapping(states.get("before")), _mapping(states.get("after"))
    during_states = [state for state in _list(states.get("during")) if isinstance(state, Mapping)]

    during = _activities(_list(journal.get("run")), "during", start, variables)
    for number, state in enumerate(during_states, start=1):
        probes = _list(state.get("probes"))
        during += _activities(probes, "during", start, variables, iteration=number)
    during.sort(key=lambda activity: (activity.start is None, activity.start or 0.0))
    phases = {
        "before": _activities(_list(before.get("probes")), "before", start, variables),
        "during": during,
        "after": _activities(_list(after.get("probes")), "after", start, variables),
        "rollbacks": _activities(_list(journal.get("rollbacks")), "rollbacks", start, variables),
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

    def met(state: Mapping[str, Any]) -> bool | None:
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


_HOST_PORT = re.compile(r"^([a-z][a-z0-9-]*):(\d{1,5})(?:/.*)?$")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
_FAULT_COMMAND = re.compile(r"(?:^|[\s;&|(`])fault\s+([a-z]+)\s+([a-z][a-z0-9-]*)(?![\w-])")
_SHELLS = ("bash", "sh", "dash", "zsh")
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_PROXIES = 50  # proxies a learner created, read from all the journals
# Toxiproxy's API: POST /proxies and /populate create; POST or PATCH /proxies/{name} update it;
# POST /proxies/{name}/toxics adds a toxic, POST or PATCH .../toxics/{toxic} changes one.
_TOXIPROXY_PROXY = re.compile(r"^/proxies/([^/]+)$")
_TOXIPROXY_TOXICS = re.compile(r"^/proxies/([^/]+)/toxics(?:/[^/]+)?$")
_CURL_DATA = ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--json")


def _url_parts(url: object) -> tuple[str | None, int | None, str]:
    """A URL's host (lower case), port (the scheme's when none is written) and path."""
    if not isinstance(url, str):
        return None, None, ""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None, None, ""
    if host and port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    return (host.lower() if host else None), port, parts.path


def _url_host(url: str) -> str | None:
    return _url_parts(url)[0]


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


def _addresses(text: str, words: bool = True) -> Iterable[tuple[str, int | None]]:
    """(host, port) of each URL and each HOST:PORT in a piece of text, and with ``words``
    (host, None) for each other whole word."""
    for url in _URL.findall(text):
        host, port, _ = _url_parts(url)
        if host:
            yield host, port
    for token in _tokens(text):
        token = token.strip("\"'`,;()[]{}").lower()
        if "://" in token:
            continue  # a URL: its host was read above, its path names nothing
        if match := _HOST_PORT.match(token):
            yield match.group(1), int(match.group(2))
        elif words and token:
            yield token, None


def _named_in(text: str, names: frozenset[str]) -> set[str]:
    """Names that a piece of text names as a whole: a URL's host, a word, or HOST:PORT."""
    return {host for host, _ in _addresses(text) if host in names}


def _provider_texts(provider: Mapping[str, Any]) -> list[str]:
    kind = provider.get("type")
    if kind == "http":
        return [provider["url"]] if isinstance(provider.get("url"), str) else []
    if kind == "process":
        return _process_words(provider)
    if kind == "python":
        return list(_strings(provider.get("arguments")))
    return []


def _provider_hosts(provider: Mapping[str, Any]) -> set[str]:
    """The hosts of the URLs (and HOST:PORT words) a provider names; bare words are left out,
    so that a password is never among them."""
    if provider.get("type") == "http":
        host = _url_host(str(provider.get("url") or ""))
        return {host} if host else set()
    return {host for text in _provider_texts(provider) for host, _ in _addresses(text, False)}


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


def _json_arguments(arguments: object) -> Mapping[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return {}
    return _mapping(arguments)


def _process_words(provider: Mapping[str, Any]) -> list[str]:
    arguments = provider.get("arguments")
    if isinstance(arguments, list):
        return [str(item) for item in arguments]
    if isinstance(arguments, str):
        return _tokens(arguments)
    return []


def _curl_requests(provider: Mapping[str, Any]) -> list[tuple[str, str, object]]:
    """(method, URL, body) of each curl a process provider runs, itself or in `bash -c`."""
    words = _process_words(provider)
    program = str(provider.get("path") or "").rsplit("/", 1)[-1]
    if program in _SHELLS:
        words = _tokens(" ".join(word for word in words if word != "-c"))
        commands: list[list[str]] = []
        command: list[str] = []
        for word in words:
            if word in (";", "&&", "||", "|"):
                commands.append(command)
                command = []
            else:
                command.append(word)
        commands.append(command)
    elif program == "curl":
        commands = [["curl", *words]]
    else:
        return []
    requests: list[tuple[str, str, object]] = []
    for command in commands[:MAX_ITEMS]:
        if not command or command[0].rsplit("/", 1)[-1] != "curl":
            continue
        method, url, body = None, None, None
        rest = iter(command[1:])
        for word in rest:
            if word in ("-X", "--request"):
                method = next(rest, "")
            elif word.startswith("-X") and len(word) > 2:
                method = word[2:]
            elif word in _CURL_DATA:
                body = next(rest, "")
            elif "://" in word or _HOST_PORT.match(word.lower()):
                url = word if "://" in word else f"http://{word}"
        if url:
            method = (method or ("POST" if body is not None else "GET")).upper()
            requests.append((method, url, body))
    return requests


@dataclass(frozen=True)
class LearnerProxy:
    """A proxy a learner's experiment created on a Toxiproxy API, in front of a lab part."""

    name: str
    upstream: str  # the part of the lab it relays to
    listen_port: int | None  # None: unknown (port 0 lets the proxy pick one)
    api_host: str | None  # the host whose API made it, where it listens; None: unknown


def _address(text: object) -> tuple[str | None, int | None]:
    """HOST:PORT as (host, port); a listen address such as 0.0.0.0:9999 gives its port."""
    text = str(text or "").strip().lower()
    if match := _HOST_PORT.match(text):
        return match.group(1), int(match.group(2))
    if match := re.fullmatch(r"[0-9.]*:(\d{1,5})", text):
        return None, int(match.group(1))
    return None, None


def _toxiproxy_host(variables: Variables) -> str | None:
    """Where chaostoxi sends its calls: toxiproxy_url, or toxiproxy_host (its configuration)."""
    url = variables.values.get("toxiproxy_url")
    if isinstance(url, str) and url:
        return _url_host(url)
    host = variables.values.get("toxiproxy_host")
    return host.lower() if isinstance(host, str) and host else None


def _proxies_declared(
    activity: Mapping[str, Any], variables: Variables
) -> list[tuple[str, str | None, str | None, str | None]]:
    """(name, listen, upstream, API host) of the proxies an action creates or changes through
    chaostoxi, an HTTP provider or curl; listen or upstream None when it leaves them as they
    are."""
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    requests: list[tuple[str, str, object]] = []
    if kind == "python" and provider.get("module") == "chaostoxi.proxy.actions":
        arguments = _mapping(provider.get("arguments"))
        name = arguments.get("proxy_name")
        if not isinstance(name, str):
            return []
        host = _toxiproxy_host(variables)
        if provider.get("func") == "create_proxy":
            listen_at = (
                f"{arguments.get('listen_host', '0.0.0.0')}:{arguments.get('listen_port', 0)}"
            )
            upstream_at = f"{arguments.get('upstream_host')}:{arguments.get('upstream_port')}"
            return [(name, listen_at, upstream_at, host)]
        if provider.get("func") == "modify_proxy":
            upstream, listen = arguments.get("upstream_address"), arguments.get("listen_address")
            return [(name, _str_or_none(listen), _str_or_none(upstream), host)]
        return []
    if kind == "http":
        method = str(provider.get("method") or "GET").upper()
        requests = [(method, str(provider.get("url") or ""), provider.get("arguments"))]
    elif kind == "process":
        requests = _curl_requests(provider)
    declared = []
    for method, url, body in requests:
        if method not in ("POST", "PATCH", "PUT"):
            continue
        host, _, path = _url_parts(url)
        path = path.rstrip("/")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                continue
        if path in ("/proxies", "/populate"):
            items = body if isinstance(body, list) else [body]
            for item in items[:MAX_ITEMS]:
                item = _mapping(item)
                if isinstance(item.get("name"), str):
                    listen, upstream = item.get("listen"), item.get("upstream")
                    declared.append(
                        (item["name"], _str_or_none(listen), _str_or_none(upstream), host)
                    )
        elif match := _TOXIPROXY_PROXY.match(path):
            body = _mapping(body)
            listen, upstream = body.get("listen"), body.get("upstream")
            declared.append((match.group(1), _str_or_none(listen), _str_or_none(upstream), host))
    return declared


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def learner_proxies(
    journals: Iterable[Mapping[str, Any]], names: Iterable[str]
) -> dict[str, LearnerProxy]:
    """The proxies that the learner's experiments created (or pointed) in front of a part of the
    lab, by name: actions that ran and worked, oldest journal first, so that a later change
    wins. A proxy whose upstream is no part of the lab is left out."""
    names = frozenset(name.lower() for name in names)
    proxies: dict[str, LearnerProxy] = {}
    ordered = sorted(
        (journal for journal in journals if isinstance(journal, Mapping)),
        key=lambda journal: str(journal.get("start") or ""),
    )
    for journal in ordered:
        variables = journal_variables(journal)
        for run in _list(journal.get("run")):
            run = _mapping(run)
            activity = _resolved_activity(_mapping(run.get("activity")), variables, mask=False)
            if activity.get("type") != "action" or not _fault_worked(run):
                continue
            for name, listen, upstream, host in _proxies_declared(activity, variables):
                known = proxies.get(name)
                target, _ = _address(upstream)
                if upstream is None and known:
                    target = known.upstream
                port = _address(listen)[1] if listen is not None else None
                if listen is None and known:
                    port = known.listen_port
                if target in names and (name in proxies or len(proxies) < MAX_PROXIES):
                    proxies[name] = LearnerProxy(
                        name=name,
                        upstream=target,
                        listen_port=port or None,
                        api_host=host or (known.api_host if known else None),
                    )
                elif upstream is not None:
                    proxies.pop(name, None)  # now in front of something else
    return proxies


def _through_proxies(
    addresses: Iterable[tuple[str, int | None]], proxies: Mapping[str, LearnerProxy]
) -> set[str]:
    """The parts of the lab reached through a learner's proxy at one of these addresses."""
    found = set()
    for host, port in addresses:
        for proxy in proxies.values():
            if port is not None and proxy.listen_port == port and proxy.api_host in (None, host):
                found.add(proxy.upstream)
    return found


def _toxic_target(
    proxy: object, names: frozenset[str], proxies: Mapping[str, LearnerProxy]
) -> str | None:
    if isinstance(proxy, str) and proxy in proxies:
        return proxies[proxy].upstream
    return _proxy_target(proxy, names)


def _http_faults(
    method: str,
    url: str,
    arguments: object,
    names: frozenset[str],
    proxies: Mapping[str, LearnerProxy],
) -> set[str]:
    """The parts an HTTP call breaks: a POST to the faults sidecar, a PUT to a part's /config or
    /faults that is not all zeros, a toxic added on a proxy or a proxy disabled."""
    host, _, path = _url_parts(url)
    path = path.rstrip("/")
    body = _json_arguments(arguments)
    if host == FAULTS_SIDECAR and method == "POST" and path == "/v1/faults":
        target = body.get("target")
        if body.get("action") in FAULT_ACTIONS and isinstance(target, str):
            return {target.lower()} & names
        return set()
    if host in names and method == "PUT" and path in ("/config", "/faults"):
        mends = body and set(body) <= MENDING_SETTINGS
        if not (mends and all(body[key] in (0, 0.0) for key in body)):
            return {host}
        return set()
    if method in ("POST", "PATCH"):
        if match := _TOXIPROXY_TOXICS.match(path):
            target = _toxic_target(match.group(1), names, proxies)
            return {target} if target else set()
        if (match := _TOXIPROXY_PROXY.match(path)) and body.get("enabled") is False:
            target = _toxic_target(match.group(1), names, proxies)
            return {target} if target else set()
    return set()


def fault_targets(
    activity: Mapping[str, Any],
    names: Iterable[str],
    configuration: Variables | Mapping[str, Any] | None = None,
    proxies: Mapping[str, LearnerProxy] | None = None,
) -> set[str]:
    """The containers (of ``names``) an action breaks, as far as its provider says.

    ``configuration`` is the experiment's configuration (or a journal's Variables): the
    provider is read as Chaos Toolkit substituted it. ``proxies`` are the learner's own
    Toxiproxy proxies (``learner_proxies``): a toxic on one breaks the part behind it.
    """
    names = frozenset(name.lower() for name in names)
    proxies = proxies or {}
    activity = _resolved_activity(activity, _variables(configuration), mask=False)
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    found: set[str] = set()
    if kind == "http":
        method = str(provider.get("method") or "GET").upper()
        url = provider.get("url")
        found |= _http_faults(
            method, url if isinstance(url, str) else "", provider.get("arguments"), names, proxies
        )
    elif kind == "process":
        words = _process_words(provider)
        program = str(provider.get("path") or "").rsplit("/", 1)[-1]
        if program == "fault" and len(words) >= 2 and words[0] in FAULT_ACTIONS:
            found |= {words[1].lower()} & names
        elif program in _SHELLS:  # `bash -c "fault kill api"`
            script = " ".join(words)
            for action, target in _FAULT_COMMAND.findall(script):
                if action in FAULT_ACTIONS and target in names:
                    found.add(target)
        for method, url, body in _curl_requests(provider):
            found |= _http_faults(method, url, body, names, proxies)
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
            target = _toxic_target(proxy, names, proxies)
            if degrades and target:
                found.add(target)
    return found


def probe_targets(
    activity: Mapping[str, Any],
    names: Iterable[str],
    configuration: Variables | Mapping[str, Any] | None = None,
    proxies: Mapping[str, LearnerProxy] | None = None,
) -> set[str]:
    """The containers (of ``names``) a probe looks at: by URL host, or named as a whole word,
    and the part behind a learner's proxy it goes through. ``configuration`` and ``proxies`` as
    for ``fault_targets``; a compacted activity also matches the hosts a secret named."""
    names = frozenset(name.lower() for name in names)
    proxies = proxies or {}
    activity = _resolved_activity(activity, _variables(configuration), mask=False)
    provider = _mapping(activity.get("provider"))
    kind = provider.get("type")
    found: set[str] = set()
    addresses: list[tuple[str, int | None]] = []
    if kind == "http":
        host, port, _ = _url_parts(provider.get("url"))
        if host:
            addresses.append((host, port))
    elif kind == "process":
        for word in _process_words(provider):
            addresses += _addresses(word)
    elif kind == "python":
        arguments = _mapping(provider.get("arguments"))
        if str(provider.get("module") or "").startswith("chaostoxi."):
            proxy = arguments.get("proxy_name", arguments.get("for_proxy"))
            target = _toxic_target(proxy, names, proxies)
            if target:
                found.add(target)
        for text in _strings(arguments):
            addresses += _addresses(text)
    found |= {host for host, _ in addresses if host in names}
    found |= _through_proxies(addresses, proxies)
    hidden = set(_list(provider.get("hidden_hosts")))
    found |= {name for name in names if _digest(name) in hidden}
    return found


def _fault_worked(run: Mapping[str, Any]) -> bool:
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


def _probe_runs(journal: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    states = _mapping(journal.get("steady_states"))
    for state in [states.get("before"), states.get("after"), *_list(states.get("during"))]:
        yield from _list(_mapping(state).get("probes"))
    yield from (
        run
        for run in _list(journal.get("run"))
        if _mapping(run.get("activity")).get("type") == "probe"
    )


def chaos_coverage(
    topology_names: Iterable[str], shell_name: str, journals: Iterable[Mapping[str, Any]]
) -> Coverage:
    """Which parts of the lab the experiments broke and which they watched.

    A part is a container of the lab other than the learner's shell and the faults sidecar. It
    is *faulted* when an action of a method that ran, and worked, targets it (`fault kill api`,
    a POST to the faults sidecar, a Toxiproxy toxic on its proxy, a PUT to its /config or
    /faults), and *observed* when a probe that ran names it (an HTTP probe on it, `slo URL`).
    Rollbacks mend, so they count for neither. Providers are read as Chaos Toolkit substituted
    them (`${name}` from the configuration and secrets). A proxy the learner's experiments
    created in front of a part (``learner_proxies``) stands for that part: a probe through it
    observes the part, a toxic on it faults the part.
    """
    names = [
        name.lower()
        for name in dict.fromkeys(topology_names)
        if name.lower() not in (shell_name.lower(), FAULTS_SIDECAR)
    ]
    journals = [journal for journal in journals if isinstance(journal, Mapping)]
    proxies = learner_proxies(journals, names)
    faulted: dict[str, list[str]] = {name: [] for name in names}
    observed: dict[str, list[str]] = {name: [] for name in names}
    for journal in journals:
        variables = journal_variables(journal)
        for run in _list(journal.get("run")):
            activity = _mapping(_mapping(run).get("activity"))
            if activity.get("type") == "action" and _fault_worked(run):
                for name in fault_targets(activity, names, variables, proxies):
                    faulted[name].append(str(activity.get("name") or "?"))
        for run in _probe_runs(journal):
            activity = _mapping(_mapping(run).get("activity"))
            if _mapping(run).get("status") in ("succeeded", "failed"):
                for name in probe_targets(activity, names, variables, proxies):
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


def journal_entries(stored: Mapping[str, Mapping[str, Any]]) -> list[JournalEntry]:
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
