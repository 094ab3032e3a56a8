#!/usr/bin/env bash
# Passes when a Chaos Toolkit journal in the learner's home injected a fault into another part of
# the topology than web's container (the reconciler, git, api, or an app's config), completed,
# brought back in its rollbacks what nothing else restores (the reconciler, git), and the
# platform is back to its desired state: the reconciler answers and reports synced.
exec python3 - <<'PY'
import json, re, shlex, sys, time, urllib.request
from pathlib import Path

HOME = Path("/home/learner")
FAULTS_URL = "http://faults:7000/v1/faults"
APP_CONFIG = re.compile(r"^http://([a-z][a-z0-9-]*):8080/(config|faults)(\?|$)")
# Nothing restarts these when they stop: the experiment must.
UNATTENDED = ("reconciler", "git")


def fail(key):
    print(f"FAIL: {key}")
    sys.exit(1)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
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
    """(action, target) of each fault that ran and took effect; "config" for a change made to
    an app's /config or /faults by hand (drift)."""
    found = []
    for run in runs or []:
        activity = run.get("activity") or {}
        provider = activity.get("provider") or {}
        output = run.get("output") if isinstance(run.get("output"), dict) else {}
        if activity.get("type") != "action" or run.get("status") != "succeeded":
            continue
        kind, method = provider.get("type"), str(provider.get("method") or "GET").upper()
        url = str(provider.get("url") or "").rstrip("/")
        if kind == "process":
            program, args = Path(str(provider.get("path"))).name, words(provider.get("arguments"))
            if output.get("status") != 0:
                continue
            if program == "fault" and len(args) >= 2:
                found.append((args[0], args[1]))
            elif program == "curl" and "PUT" in args:
                for arg in args:
                    if match := APP_CONFIG.match(arg):
                        found.append(("config", match.group(1)))
        elif kind == "http" and url == FAULTS_URL and method == "POST":
            args = provider.get("arguments")
            if isinstance(args, dict) and output.get("status") == 200:
                found.append((args.get("action"), args.get("target")))
        elif kind == "http" and method in ("PUT", "POST") and (match := APP_CONFIG.match(url)):
            if output.get("status") == 200:
                found.append(("config", match.group(1)))
    return found


def covers_more(journal):
    return any(target != "web" or action == "config" for action, target in faults(journal["run"]))


def verdict(journal):
    if journal.get("status") != "completed":
        return "not-completed"
    stopped = {t for a, t in faults(journal["run"]) if a in ("kill", "pause") and t in UNATTENDED}
    brought_back = {
        t for a, t in faults(journal["run"]) + faults(journal.get("rollbacks"))
        if a in ("restart", "unpause")
    }
    if stopped - brought_back:
        return "no-rollback"
    return None


candidates = [journal for journal in journals() if covers_more(journal)]
if not candidates:
    fail("no-second-journal")
verdicts = [verdict(journal) for journal in candidates]
if None not in verdicts:
    fail(verdicts[-1])
journal = candidates[verdicts.index(None)]

deadline = time.monotonic() + 25
while (status := get_json("http://reconciler:9100/status") or {}).get("synced") is not True:
    if time.monotonic() > deadline:
        fail("not-healed")
    time.sleep(0.5)
covered = sorted({f"{action} {target}" for action, target in faults(journal["run"])})
print(f"{journal['experiment'].get('title')!r} covered: {', '.join(covered)}; "
      f"the reconciler is synced on {str(status.get('revision'))[:7]}")
PY
