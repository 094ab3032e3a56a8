#!/usr/bin/env bash
# Passes when main holds a `git revert` of a commit whose declared web broke the SLO, the
# reconciler had applied that commit, it now runs the head of main, and web meets its SLO.
exec python3 -I - <<'PY'
import re
import subprocess

from labcheck import Repository, fail, get_json, wait_for

SLO = ["slo", "http://web:8080/", "--requests", "10", "--p95", "300"]
repo = Repository()


def number(config, key):
    value = config.get(key, 0)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def breaks_slo(revision):
    """True when web's declared config at this revision cannot meet the SLO."""
    config = repo.declared(revision)
    if config is None:
        return False
    return number(config, "delay_ms") > 300 or number(config, "error_rate") > 0.01


head = repo.git("rev-parse", "main")
history = set(repo.git("rev-list", "main").split())
reverted = set()
for commit in history:
    message = repo.git("log", "-1", "--format=%B", commit)
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
