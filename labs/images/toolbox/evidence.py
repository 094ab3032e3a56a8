"""Evidence for lab checks: what a learner's file claims, held against what the platform saw.

A journal, a saved answer or a saved status is written by the learner and can be written by
hand; the platform's own records cannot (ARCHITECTURE.md, "Trust boundaries in grading"):

    http://faults:7000/v1/records   the faults the platform ran, with its answer (faultd.py)
    http://NAME:8080/requests       the requests a target service answered (service.py)
    http://proxy:8474/events        what the fault proxy's API changed (toxiproxy.py)
    http://reconciler:9100/events   what the reconciler did (reconciler.py)

Each claim is matched with an entry of the right record in its own time window, give or take
SLACK seconds (every container reads the host's clock). A record that began after the claim (a
service restarted since, and its log with it) cannot testify, and is not asked. Installed beside
labcheck.py in the toolbox. Bash checks run it as a program:

    python3 -I -m evidence journal FILE --fault-key KEY --traffic-key KEY [--toxic-key KEY]
        [--witness HOST[=NAME,NAME]]... [--proxy URL]

which prints `FAIL: KEY` and one line that says which claim has no evidence, in the learner's
language (LAB_LANGUAGE), and exits 1; or exits 0 when every claim it can examine holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labcheck import (
    SECRET_MASK,
    fault_calls,
    get_json,
    read_learner_file,
    substituted,
    variables,
    wait_for,
    words,
)

SLACK = timedelta(seconds=3)
FAULTS = "http://faults:7000/v1/records"
PROXY = "http://proxy:8474"
RECONCILER = "http://reconciler:9100"
MAX_CLAIMS = 200  # of each kind; a journal with more is not a journal Chaos Toolkit wrote
FAULT_ACTIONS = ("kill", "pause", "unpause", "restart", "stress", "unstress")
URL = re.compile(r"^https?://[^\s'\"]+$")


def when(text: object) -> datetime | None:
    """An aware datetime (UTC when the text has no offset), or None."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clean(text: object, limit: int = 80) -> str:
    """Learner-written text, safe to print on one line of a check's output."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clock(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC") if moment else "?"


def language() -> str:
    return "es" if os.environ.get("LAB_LANGUAGE", "en").startswith("es") else "en"


# --- The platform's records --------------------------------------------------------------------


def fault_records(url: str = FAULTS) -> dict | None:
    """{"since", "records"} of the faults sidecar; None when it does not answer."""
    found = wait_for(lambda: get_json(url, timeout=3), 5)
    return found if isinstance(found, dict) and isinstance(found.get("records"), list) else None


_logs: dict[tuple[str, str], dict | None] = {}


def request_log(name: str, path: str | None = None) -> dict | None:
    """{"since", "requests"} of target service `name`; None when it does not answer."""
    if (name, path or "") not in _logs:
        query = f"?{urllib.parse.urlencode({'path': path})}" if path else ""
        found = get_json(f"http://{name}:8080/requests{query}", timeout=5)
        ok = isinstance(found, dict) and isinstance(found.get("requests"), list)
        _logs[(name, path or "")] = found if ok else None
    return _logs[(name, path or "")]


def proxy_events(url: str = PROXY) -> dict | None:
    found = wait_for(lambda: get_json(f"{url}/events", timeout=3), 5)
    return found if isinstance(found, dict) and isinstance(found.get("events"), list) else None


def reconciler_events(url: str = RECONCILER) -> list[dict]:
    found = get_json(f"{url}/events", timeout=3)
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def addresses(host: str | None = None) -> set[str]:
    """The IP addresses of `host`, by default this container's own (the learner's shell, where
    checks run): what a service's log shows as the client of a learner's own request. Empty
    when they cannot be told, and then no request is told apart by its client."""
    try:
        return set(socket.gethostbyname_ex(host or socket.gethostname())[2])
    except OSError:
        return set()


def sent_by(entry: dict, clients: set[str]) -> bool:
    return not clients or entry.get("client") in clients


def within(moment: object, start: datetime, end: datetime) -> bool:
    at = when(moment)
    return at is not None and start - SLACK <= at <= end + SLACK


def covers(log: dict | None, start: datetime) -> bool:
    """True when this record already existed at `start` (it is empty when its process starts)."""
    since = when((log or {}).get("since"))
    return log is not None and since is not None and since <= start


# --- What a journal claims ---------------------------------------------------------------------


class Claim:
    """One thing a journal says happened, between start and end."""

    def __init__(self, kind: str, run: dict, **what) -> None:
        self.kind, self.what = kind, what
        self.start, self.end = when(run.get("start")), when(run.get("end"))
        self.name = clean((run.get("activity") or {}).get("name") or "?", 60)

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None and self.start <= self.end


def _runs(journal: dict) -> list[dict]:
    states = journal.get("steady_states") or {}
    found = []
    for part in (
        (states.get("before") or {}).get("probes"),
        journal.get("run"),
        (states.get("after") or {}).get("probes"),
        journal.get("rollbacks"),
    ):
        found += (
            [run for run in part or [] if isinstance(run, dict)] if isinstance(part, list) else []
        )
    return found


def fault_claims(journal: dict) -> list[Claim]:
    """Faults (`fault ACTION NAME` or a POST to the sidecar) and changes to an app's /config
    that the journal says ran and took effect, in its method and its rollbacks."""
    claims = []
    for run in [*(journal.get("run") or []), *(journal.get("rollbacks") or [])]:
        if not isinstance(run, dict):
            continue
        for action, target, _start in fault_calls([run]):
            claims.append(Claim("fault", run, action=str(action), target=str(target)))
    return claims[:MAX_CLAIMS]


def _probe_urls(provider: dict) -> list[str]:
    if provider.get("type") == "http":
        return [str(provider.get("url") or "")]
    if provider.get("type") == "process" and Path(str(provider.get("path"))).name in (
        "slo",
        "curl",
    ):
        return [word for word in words(provider.get("arguments")) if URL.match(word)]
    return []


def probe_claims(journal: dict, hosts: set[str]) -> list[Claim]:
    """Probes the journal says reached a service of `hosts` and got an answer: an HTTP probe
    with its status, or `slo`/`curl` that exited 0."""
    claims = []
    for run in _runs(journal):
        activity = run.get("activity") or {}
        provider = activity.get("provider") or {}
        output = run.get("output")
        if activity.get("type") != "probe" or run.get("status") != "succeeded":
            continue
        if not isinstance(provider, dict) or not isinstance(output, dict):
            continue
        status = output.get("status")
        if isinstance(status, bool) or not isinstance(status, int):
            continue
        if provider.get("type") == "process" and status != 0:
            continue  # slo said the objective was missed: maybe nothing answered
        objective = _slo_objective(provider)
        for url in _probe_urls(provider):
            parts = urllib.parse.urlsplit(url)
            if parts.hostname in hosts and (parts.port or 80) == 8080:
                claims.append(
                    Claim(
                        "probe",
                        run,
                        url=url,
                        host=parts.hostname,
                        path=parts.path or "/",
                        method=str(provider.get("method") or "GET").upper(),
                        status=status if provider.get("type") == "http" else None,
                        objective=objective,
                    )
                )
    return claims[:MAX_CLAIMS]


def _slo_objective(provider: dict) -> dict | None:
    """`slo`'s objective from a process probe's arguments, read as its argparse reads them
    (`--requests 30`, `--requests=30`, `--req 30`, `-n30`), with its defaults; None when they
    cannot be read."""
    if provider.get("type") != "process" or Path(str(provider.get("path"))).name != "slo":
        return None
    found = {"requests": 20.0, "success": 99.0, "p95": None}
    args = words(provider.get("arguments"))
    options = {"--requests": "requests", "--success": "success", "--p95": "p95"}
    position = 0
    while position < len(args):
        word, position = args[position], position + 1
        flag, equals, value = word.partition("=")
        if flag.startswith("-n") and flag != "--":
            name, value = "requests", value or flag[2:]
        else:
            names = [
                n for option, n in options.items() if len(flag) > 2 and option.startswith(flag)
            ]
            if not names:
                continue
            name = names[0]
        if not equals and not value:
            if position >= len(args):
                return None
            value, position = args[position], position + 1
        try:
            found[name] = float(value)
        except ValueError:
            return None
    if not 1 <= found["requests"] <= 1000:
        return None
    found["requests"] = int(found["requests"])
    return found


def missed_objective(objective: dict, entries: list[dict]) -> str | None:
    """What the service's own log shows against `slo`'s claim that the objective was met, from
    the entries of the probe's window (maybe more than its own requests: others only add), or
    None when it agrees. Server-side latency is never more than what slo measured."""
    wanted = objective["requests"]
    answered = [e for e in entries if isinstance(e.get("status"), int) and 200 <= e["status"] < 300]
    if 100.0 * len(answered) / wanted < objective["success"]:
        return f"{len(answered)}/{wanted} 2xx"
    fastest = sorted(float(e.get("ms") or 0) for e in entries)[:wanted]
    if objective["p95"] is not None and len(fastest) == wanted:
        p95 = fastest[max(0, math.ceil(0.95 * wanted) - 1)]
        if p95 > objective["p95"]:
            return f"p95 >= {p95:.0f} ms"
    return None


def toxic_claims(journal: dict) -> list[Claim]:
    """Toxics chaostoxi says it added (create_toxic) or removed (delete_toxic)."""
    claims = []
    for run in [*(journal.get("run") or []), *(journal.get("rollbacks") or [])]:
        if not isinstance(run, dict) or run.get("status") != "succeeded":
            continue
        provider = (run.get("activity") or {}).get("provider") or {}
        arguments = provider.get("arguments") if isinstance(provider, dict) else None
        if provider.get("module") != "chaostoxi.toxic.actions" or not isinstance(arguments, dict):
            continue
        if provider.get("func") in ("create_toxic", "delete_toxic") and run.get("output") is True:
            claims.append(Claim(provider["func"], run, **arguments))
    return claims[:MAX_CLAIMS]


# --- Cross-examination -------------------------------------------------------------------------

SAYS = {
    "fault": {
        "en": "Your journal says the platform ran `fault {action} {target}` ({name}) at {at}, "
        "but the platform has no record of that fault.",
        "es": "Tu journal dice que la plataforma ejecutó `fault {action} {target}` ({name}) a las "
        "{at}, pero la plataforma no tiene registro de ese fallo inyectado.",
    },
    "config": {
        "en": "Your journal says {target}'s configuration was changed ({name}) at {at}, but "
        "{target} received no such change.",
        "es": "Tu journal dice que la configuración de {target} cambió ({name}) a las {at}, pero "
        "{target} no recibió ese cambio.",
    },
    "probe": {
        "en": "Your journal says the probe {name} reached {url} at {at}{answer}, but the service "
        "saw no such request.",
        "es": "Tu journal dice que la sonda {name} llegó a {url} a las {at}{answer}, pero el "
        "servicio no vio esa solicitud.",
    },
    "missed": {
        "en": "Your journal says the probe {name} met its objective at {at}, but what {host} "
        "answered then does not meet it ({found}).",
        "es": "Tu journal dice que la sonda {name} cumplió su objetivo a las {at}, pero lo que "
        "{host} respondió entonces no lo cumple ({found}).",
    },
    "create_toxic": {
        "en": "Your journal says the toxic {toxic} was added to the proxy {proxy} ({name}) at "
        "{at}, but the proxy added no such toxic.",
        "es": "Tu journal dice que el toxic {toxic} se agregó al proxy {proxy} ({name}) a las "
        "{at}, pero el proxy no agregó ese toxic.",
    },
    "delete_toxic": {
        "en": "Your journal says the toxic {toxic} was removed from the proxy {proxy} ({name}) at "
        "{at}, but the proxy removed no such toxic.",
        "es": "Tu journal dice que el toxic {toxic} se quitó del proxy {proxy} ({name}) a las "
        "{at}, pero el proxy no quitó ese toxic.",
    },
    "untimed": {
        "en": "Your journal has an activity ({name}) with no readable start and end times, "
        "outside the experiment's own times, or from before this lab started.",
        "es": "Tu journal tiene una actividad ({name}) sin horas de inicio y fin legibles, "
        "fuera de las horas del propio experimento, o de antes de que empezara este laboratorio.",
    },
}


def secrets(journal: dict) -> list[str]:
    """The values of the journal's secrets, longest first: never printed (see labcheck)."""
    plain, masked = variables(journal), variables(journal, mask_secrets=True)
    found = {str(plain[key]) for key in plain if masked.get(key) == SECRET_MASK}
    return sorted((value for value in found if value), key=len, reverse=True)


def says(kind: str, claim: Claim, journal: dict) -> str:
    """Why the claim has no evidence, in the learner's language, with no secret of the journal
    in it (a check's output is stored and shown)."""
    hidden = secrets(journal)

    def shown(value: object) -> str:
        text = str(value)
        for secret in hidden:
            text = text.replace(secret, SECRET_MASK)
        return clean(text)

    what = {key: shown(value) for key, value in claim.what.items()}
    answer = ""
    if claim.what.get("status") is not None:
        answer = f" ({'answer' if language() == 'en' else 'respuesta'} {what['status']})"
    return SAYS[kind][language()].format(
        name=claim.name,
        at=clock(claim.start),
        answer=answer,
        toxic=what.get("toxic_name", "?"),
        proxy=what.get("for_proxy", "?"),
        found=what.get("found", ""),
        host=what.get("host", "?"),
        **{k: v for k, v in what.items() if k in ("action", "target", "url")},
    )


def lab_started() -> datetime | None:
    """When this container (the learner's shell, where checks run) started: its PID 1's start
    time, from the kernel. Nothing in a journal can have happened before the lab existed."""
    try:
        ticks = int(Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _in_journal(journal: dict, claim: Claim) -> bool:
    """True when the claim has times, inside the journal's own, after the lab started: a claim
    dated before any record began would otherwise go unexamined."""
    start, end = when(journal.get("start")), when(journal.get("end"))
    if not claim.timed or start is None or end is None:
        return False
    began = lab_started()
    if began is not None and claim.start < began - SLACK:
        return False
    return start - SLACK <= claim.start and claim.end <= end + SLACK


def unproven_faults(journal: dict) -> str | None:
    """Why a fault or config change of the journal has no evidence, or None."""
    records = None
    used: set[int] = set()
    mine = addresses()  # the reconciler restarts apps and changes their config too: not yours
    for claim in fault_claims(journal):
        if not _in_journal(journal, claim):
            return says("untimed", claim, journal)
        action, target = claim.what["action"], claim.what["target"]
        if action == "config":
            log = request_log(target)
            if not covers(log, claim.start):
                continue  # restarted since (or gone): its log cannot tell
            if not any(
                entry.get("method") in ("PUT", "POST")
                and entry.get("path") in ("/config", "/faults")
                and entry.get("status") == 200
                and sent_by(entry, mine)
                and within(entry.get("time"), claim.start, claim.end)
                for entry in log["requests"]
            ):
                return says("config", claim, journal)
            continue
        if records is None:
            records = fault_records() or {"since": None, "records": []}
        if records["since"] is not None and not covers(records, claim.start):
            continue  # the sidecar itself started after this (a new sandbox): it cannot tell
        match = next(
            (
                record
                for record in records["records"]
                if isinstance(record, dict)
                and record.get("seq") not in used
                and record.get("ok") is True
                and sent_by(record, mine)
                and (record.get("action"), record.get("target")) == (action, target)
                and within(record.get("time"), claim.start, claim.end)
            ),
            None,
        )
        if match is None:
            return says("fault", claim, journal)
        used.add(match.get("seq"))
    return None


def unseen_probes(journal: dict, witnesses: dict[str, list[str]]) -> str | None:
    """Why a probe of the journal that reached a witnessed service has no evidence, or None.
    `witnesses` maps a host probes call to the services whose request logs see that traffic
    (a load balancer's replicas; a service itself)."""
    mine = addresses()
    for claim in probe_claims(journal, set(witnesses)):
        if not _in_journal(journal, claim):
            return says("untimed", claim, journal)
        host, path = claim.what["host"], claim.what["path"]
        direct = witnesses[host] == [host]
        # Yours, or relayed by the load balancer: not an agent's own health checks.
        clients = mine if direct else addresses(host)
        status = claim.what["status"]
        if not direct and status is not None and status >= 500:
            continue  # a load balancer answers 5xx by itself when no replica is left
        logs = [request_log(name, path) for name in witnesses[host]]
        logs = [log for log in logs if covers(log, claim.start)]
        if not logs:
            continue  # every witness restarted since (a replica killed and restarted)
        entries = [
            entry
            for log in logs
            for entry in log["requests"]
            if entry.get("path") == path
            and sent_by(entry, clients)
            and within(entry.get("time"), claim.start, claim.end)
            and (claim.what["method"] == "GET" or entry.get("method") == claim.what["method"])
        ]
        if not any(not direct or status is None or e.get("status") == status for e in entries):
            return says("probe", claim, journal)
        # slo says the objective was met: the service's own log must not say otherwise. Only
        # a service's own log holds all of a probe's requests (replicas restart, and lose theirs).
        objective = claim.what.get("objective")
        if direct and objective and (found := missed_objective(objective, entries)):
            claim.what["found"] = found
            return says("missed", claim, journal)
    return None


def unproven_toxics(journal: dict, proxy: str = PROXY) -> str | None:
    """Why a toxic the journal says chaostoxi added or removed has no evidence, or None."""
    claims = toxic_claims(journal)
    if not claims:
        return None
    log = proxy_events(proxy) or {"since": None, "events": []}
    used: set[int] = set()
    for claim in claims:
        if not _in_journal(journal, claim):
            return says("untimed", claim, journal)
        if log["since"] is not None and not covers(log, claim.start):
            continue
        name, for_proxy = claim.what.get("toxic_name"), claim.what.get("for_proxy")
        for event in log["events"]:
            if not isinstance(event, dict) or event.get("seq") in used:
                continue
            if not within(event.get("time"), claim.start, claim.end):
                continue
            answer = event.get("answer") if isinstance(event.get("answer"), dict) else {}
            if claim.kind == "create_toxic":
                attributes = claim.what.get("attributes") or {}
                held = (
                    event.get("method") == "POST"
                    and event.get("path") == f"/proxies/{for_proxy}/toxics"
                    and answer.get("name") == name
                    and answer.get("type") == claim.what.get("toxic_type")
                    and answer.get("toxicity") == claim.what.get("toxicity", 1.0)
                    and isinstance(attributes, dict)
                    and all(
                        (answer.get("attributes") or {}).get(k) == v for k, v in attributes.items()
                    )
                )
            else:
                held = (
                    event.get("method") == "DELETE"
                    and event.get("path") == f"/proxies/{for_proxy}/toxics/{name}"
                )
            if held:
                used.add(event.get("seq"))
                break
        else:
            return says(claim.kind, claim, journal)
    return None


def reported_status(saved: object, events: list[dict] | None = None) -> bool:
    """True when `saved` is a status the reconciler really served: its revision was applied
    (a synced-revision event) at the time the status gives as last_sync."""
    if not isinstance(saved, dict):
        return False
    revision, last_sync = saved.get("revision"), when(saved.get("last_sync"))
    if not isinstance(revision, str) or last_sync is None:
        return False
    events = reconciler_events() if events is None else events
    for event in events:
        if event.get("kind") == "synced-revision" and event.get("revision") == revision:
            applied = when(event.get("time"))
            if applied is not None and abs(applied - last_sync) <= timedelta(seconds=1):
                return True
    # Its events are a bounded ring: an old sync may have left it, the status still shows it.
    now = get_json(f"{RECONCILER}/status", timeout=3)
    return (
        isinstance(now, dict)
        and now.get("revision") == revision
        and now.get("last_sync") == saved.get("last_sync")
    )


# --- Command line, for bash checks -------------------------------------------------------------


# A fault left in place before the experiment began: the experiment met a lab already broken.
DOWN_BEFORE = {
    "en": "{target} was already down when your experiment started at {start}: it was killed at "
    "{at} and not restarted. Bring it back with `fault restart {target}`, wait until the load "
    "balancer sees it up, then run the experiment again.",
    "es": "{target} ya estaba caído cuando empezó tu experimento a las {start}: se detuvo a las "
    "{at} y no se reinició. Recupéralo con `fault restart {target}`, espera a que el balanceador "
    "de carga lo vea en funcionamiento y ejecuta el experimento otra vez.",
}


def down_before(journal: dict, targets: list[str], records: dict | None = None) -> str | None:
    """Why the journal's run met a lab that was already broken: a target killed (or paused)
    before the journal started and not restarted (or unpaused) by then, as the faults sidecar
    recorded it; None when every target was up. Faults by anyone count: a lab is broken for
    the learner whoever broke it."""
    start = when(journal.get("start"))
    if start is None:
        return None
    records = records if records is not None else fault_records()
    down: dict[str, datetime] = {}
    for record in sorted(
        (r for r in (records or {}).get("records", []) if isinstance(r, dict)),
        key=lambda r: str(r.get("time") or ""),
    ):
        at, target = when(record.get("time")), record.get("target")
        if at is None or at >= start or target not in targets or record.get("ok") is not True:
            continue
        if record.get("action") in ("kill", "pause"):
            down[target] = at
        elif record.get("action") in ("restart", "unpause"):
            down.pop(target, None)
    if not down:
        return None
    target, at = min(down.items(), key=lambda item: item[1])
    return DOWN_BEFORE[language()].format(target=target, at=clock(at), start=clock(start))


def _witnesses(values: list[str]) -> dict[str, list[str]]:
    found = {}
    for value in values:
        host, _, names = value.partition("=")
        found[host] = [name for name in names.split(",") if name] or [host]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evidence")
    commands = parser.add_subparsers(dest="command", required=True)
    journal = commands.add_parser("journal", help="hold a Chaos Toolkit journal against records")
    journal.add_argument("file")
    journal.add_argument("--fault-key", required=True)
    journal.add_argument("--traffic-key", required=True)
    journal.add_argument("--toxic-key")
    journal.add_argument("--witness", action="append", default=[])
    journal.add_argument("--proxy", default=PROXY)
    before = commands.add_parser("down-before", help="targets already down when a run began")
    before.add_argument("file")
    before.add_argument("--targets", required=True, help="comma-separated container names")
    before.add_argument("--key", required=True)
    args = parser.parse_args(argv)

    try:
        data = json.loads(read_learner_file(Path(args.file), home=Path(args.file).parent))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if args.command == "down-before":
        why = down_before(data, args.targets.split(",")) if isinstance(data, dict) else None
        if why:
            print(f"FAIL: {args.key}")
            print(f"FAIL: {why}")
            return 1
        return 0
    if not isinstance(data, dict):
        print(f"FAIL: {args.fault_key}")
        return 1
    data = substituted(data)  # `${name}` as chaos run ran it
    failures = [
        (args.fault_key, unproven_faults(data)),
        (args.toxic_key, unproven_toxics(data, args.proxy) if args.toxic_key else None),
        (args.traffic_key, unseen_probes(data, _witnesses(args.witness))),
    ]
    for key, why in failures:
        if why:
            print(f"FAIL: {key}")
            print(f"FAIL: {why}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
