#!/usr/bin/env bash
# Passes when a Chaos Toolkit journal in the learner's home shows a method that killed web
# (through the faults sidecar) and succeeded, a hypothesis that measures web and held after the
# kill, and the reconciler's events show that it, not the experiment, restored web.
exec python3 - <<'PY'
import json, re, shlex, sys, urllib.request
from datetime import datetime
from pathlib import Path

HOME = Path("/home/learner")
FAULTS_URL = "http://faults:7000/v1/faults"


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def when(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def words(arguments):
    if isinstance(arguments, list):
        return [str(word) for word in arguments]
    try:
        return shlex.split(str(arguments or ""))
    except ValueError:
        return str(arguments).split()


def journals():
    """Chaos Toolkit journals in the learner's home (files the check may read), oldest first."""
    found = []
    for path in HOME.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("experiment"), dict) \
                and isinstance(data.get("run"), list):
            found.append(data)
    return sorted(found, key=lambda journal: str(journal.get("start") or ""))


def faults(runs):
    """(action, target, start) of each fault that ran and that the platform carried out."""
    found = []
    for run in runs or []:
        activity = run.get("activity") or {}
        provider = activity.get("provider") or {}
        output = run.get("output") if isinstance(run.get("output"), dict) else {}
        if activity.get("type") != "action" or run.get("status") != "succeeded":
            continue
        start = when(run.get("start"))
        method = str(provider.get("method") or "GET").upper()
        if provider.get("type") == "process" and Path(str(provider.get("path"))).name == "fault":
            args = words(provider.get("arguments"))
            if len(args) >= 2 and output.get("status") == 0:
                found.append((args[0], args[1], start))
        elif provider.get("type") == "http" and str(provider.get("url")).rstrip("/") == FAULTS_URL:
            args = provider.get("arguments")
            if isinstance(args, dict) and method == "POST" and output.get("status") == 200:
                found.append((args.get("action"), args.get("target"), start))
    return found


def measures(journal, name):
    """True when a probe of the hypothesis calls the app by its name."""
    hypothesis = journal["experiment"].get("steady-state-hypothesis") or {}
    pattern = re.compile(rf"//{re.escape(name)}[:/]")
    for probe in hypothesis.get("probes") or []:
        provider = probe.get("provider") or {}
        text = " ".join([str(provider.get("url") or ""), *words(provider.get("arguments"))])
        if pattern.search(text):
            return True
    return False


events = get_json("http://reconciler:9100/events")


def verdict(journal, killed_at):
    if not measures(journal, "web"):
        return "no-web-probe"
    after = (journal.get("steady_states") or {}).get("after") or {}
    if journal.get("status") != "completed" or journal.get("deviated") \
            or after.get("steady_state_met") is not True:
        return "not-met-after"
    for action, target, start in faults(journal["run"]):
        if target == "web" and action in ("restart", "unpause") and start and killed_at \
                and start >= killed_at:
            return "web-restarted-by-hand"
    if events:
        # Events live in the reconciler's memory: if it restarted after the kill, they cannot
        # tell, and the journal is the evidence.
        since = when(events[0].get("time"))
        if since is None or killed_at is None or since <= killed_at:
            restored = [
                e for e in events
                if e.get("kind") == "restored" and e.get("app") == "web"
                and (t := when(e.get("time"))) is not None and t >= killed_at
            ]
            if not restored:
                return "no-restored-event"
    return None


candidates = [
    (journal, start)
    for journal in journals()
    for action, target, start in faults(journal["run"])
    if action == "kill" and target == "web"
]
if not candidates:
    print("FAIL: no-kill-journal")
    sys.exit(1)
verdicts = [verdict(journal, start) for journal, start in candidates]
if None not in verdicts:
    print(f"FAIL: {verdicts[-1]}")
    sys.exit(1)
journal = candidates[verdicts.index(None)][0]
print(f"{journal['experiment'].get('title')!r}: web killed, restored by the reconciler, "
      "hypothesis met after")
PY
