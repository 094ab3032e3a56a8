#!/usr/bin/env bash
# Passes when main holds a `git revert` of a commit whose declared web broke the SLO, the
# reconciler had applied that commit, it now runs the head of main, and web meets its SLO.
exec python3 - <<'PY'
import atexit, json, re, shutil, subprocess, sys, tempfile, time, urllib.request

import yaml

REPO = "git://git/platform.git"
SLO = ["slo", "http://web:8080/", "--requests", "10", "--p95", "300"]


def fail(key):
    print(f"FAIL: {key}")
    sys.exit(1)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


work = tempfile.mkdtemp(prefix="check-", dir="/tmp")
atexit.register(shutil.rmtree, work, True)
subprocess.run(["git", "clone", "--quiet", "--bare", REPO, work], check=True)


def git(*args):
    return subprocess.run(
        ["git", "--git-dir", work, *args], capture_output=True, text=True
    ).stdout.strip()


def number(config, key):
    value = config.get(key, 0)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def breaks_slo(revision):
    """True when web's declared config at this revision cannot meet the SLO."""
    try:
        config = dict(yaml.safe_load(git("show", f"{revision}:apps/web.yaml")).get("config") or {})
    except (yaml.YAMLError, AttributeError, TypeError, ValueError):
        return False
    return number(config, "delay_ms") > 300 or number(config, "error_rate") > 0.01


head = git("rev-parse", "main")
history = set(git("rev-list", "main").split())
reverted = set()
for commit in history:
    message = git("log", "-1", "--format=%B", commit)
    for match in re.finditer(r"This reverts commit ([0-9a-f]{40})", message):
        if match.group(1) in history and breaks_slo(match.group(1)):
            reverted.add(match.group(1))
if not reverted:
    fail("no-revert")

events = get_json("http://reconciler:9100/events") or []
applied = {e.get("revision") for e in events if e.get("kind") == "synced-revision"}
if not reverted & applied:
    fail("bad-never-applied")


def synced_on_head():
    status = get_json("http://reconciler:9100/status") or {}
    return status.get("revision") == head and status.get("synced") is True


if not wait_for(synced_on_head, 15):
    fail("not-applied")
measured = subprocess.run(SLO, capture_output=True, text=True)
print(measured.stdout.strip())
if measured.returncode != 0:
    fail("slo-not-met")
print(f"main reverts {', '.join(sorted(sha[:7] for sha in reverted))}; web meets its SLO")
PY
