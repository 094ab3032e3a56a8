#!/usr/bin/env bash
# Passes when a Chaos Toolkit journal in the learner's home injected a fault into another part of
# the topology than web's container (the reconciler, git, api, or an app's config), completed,
# brought back in its rollbacks what nothing else restores (the reconciler, git), and the
# platform is back to its desired state: the reconciler answers and reports synced.
exec python3 -I - <<'PY'
import time

from evidence import unproven_faults, unseen_probes
from labcheck import fail, fault_calls, get_json, journals

# Nothing restarts these when they stop: the experiment must.
UNATTENDED = ("reconciler", "git")
# Whose request logs see a probe's traffic: each app's own.
WITNESSES = {"web": ["web"], "api": ["api"]}


def faults(runs):
    """(action, target) of each fault that ran and took effect, "config" for drift."""
    return [(action, target) for action, target, _start in fault_calls(runs)]


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
    # What the journal claims, held against what the platform itself saw.
    if why := unproven_faults(journal):
        return "fault-not-seen", why
    if why := unseen_probes(journal, WITNESSES):
        return "traffic-not-seen", why
    return None


candidates = [journal for journal in journals() if covers_more(journal)]
if not candidates:
    fail("no-second-journal")
verdicts = [verdict(journal) for journal in candidates]
if None not in verdicts:
    fail(*(verdicts[-1] if isinstance(verdicts[-1], tuple) else (verdicts[-1],)))
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
