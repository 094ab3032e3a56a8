#!/usr/bin/env bash
# Passes when a Chaos Toolkit journal in the learner's home shows a method that killed web
# (through the faults sidecar) and succeeded, a hypothesis that measures web and held after the
# kill, and the reconciler's events show that it, not the experiment, restored web.
exec python3 -I - <<'PY'
import re
import sys

from evidence import unproven_faults, unseen_probes
from labcheck import fault_calls, get_json, journals, when, words

# Whose request logs see a probe's traffic: each app's own.
WITNESSES = {"web": ["web"], "api": ["api"]}


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
    for action, target, start in fault_calls(journal["run"]):
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
    # What the journal claims, held against what the platform itself saw.
    if why := unproven_faults(journal):
        return "fault-not-seen", why
    if why := unseen_probes(journal, WITNESSES):
        return "traffic-not-seen", why
    return None


candidates = [
    (journal, start)
    for journal in journals()
    for action, target, start in fault_calls(journal["run"])
    if action == "kill" and target == "web"
]
if not candidates:
    print("FAIL: no-kill-journal")
    sys.exit(1)
verdicts = [verdict(journal, start) for journal, start in candidates]
if None not in verdicts:
    for line in verdicts[-1] if isinstance(verdicts[-1], tuple) else (verdicts[-1],):
        print(f"FAIL: {line}")
    sys.exit(1)
journal = candidates[verdicts.index(None)][0]
print(f"{journal['experiment'].get('title')!r}: web killed, restored by the reconciler, "
      "hypothesis met after")
PY
