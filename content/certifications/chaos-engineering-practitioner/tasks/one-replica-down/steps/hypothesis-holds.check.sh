#!/usr/bin/env bash
# Passes when ~/replica-journal.json is a run of an experiment whose hypothesis measures users
# through the load balancer with a tolerance that can fail, whose method killed exactly one
# replica (and nothing else), and that held before and after; and when the faults sidecar's
# record and the replicas' request logs confirm what the journal claims (evidence.py).
exec python3 -I - <<'PY'
import json
import re
from pathlib import Path

from evidence import unproven_faults, unseen_probes
from labcheck import HOME, fail, fault_calls, read_learner_file, substituted, words

REPLICAS = {"api-1", "api-2", "api-3"}
DISRUPTIONS = ("kill", "pause", "stress", "restart")


def load(name):
    try:
        data = json.loads(read_learner_file(HOME / name))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        fail("no-journal")
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict) \
            or not isinstance(data.get("run"), list):
        fail("no-journal")
    return substituted(data)


def mapping(value):
    return value if isinstance(value, dict) else {}


def fails_on_errors(arguments):
    """curl exits non-zero on an HTTP error only with --fail (-f, also among short flags)."""
    return any(
        word in ("--fail", "--fail-with-body")
        or (re.fullmatch(r"-[a-zA-Z]+", word) is not None and "f" in word)
        for word in arguments
    )


def is_2xx(value):
    return isinstance(value, int) and not isinstance(value, bool) and 200 <= value < 300


def falsifiable_user_probe(probe):
    """A probe through the load balancer whose tolerance fails on errors."""
    provider, tolerance = mapping(probe.get("provider")), probe.get("tolerance")
    if provider.get("type") == "http":
        good = is_2xx(tolerance) or (
            isinstance(tolerance, list) and tolerance and all(map(is_2xx, tolerance))
        )
        return good and str(provider.get("url") or "").startswith("http://lb:8080")
    if provider.get("type") == "process":
        program = Path(str(provider.get("path") or "")).name
        arguments = words(provider.get("arguments"))
        return (
            (program == "slo" or (program == "curl" and fails_on_errors(arguments)))
            and tolerance == 0
            and any(word.startswith("http://lb:8080") for word in arguments)
        )
    return False


journal = load("replica-journal.json")
hypothesis = mapping(journal["experiment"].get("steady-state-hypothesis"))
probes = hypothesis.get("probes") if isinstance(hypothesis.get("probes"), list) else []
if not any(falsifiable_user_probe(mapping(probe)) for probe in probes):
    fail("no-user-probe")
faults = [(action, target) for action, target, _ in fault_calls(journal["run"])]
killed = {target for action, target in faults if action == "kill"}
touched = {target for action, target in faults if action in DISRUPTIONS}
if len(killed) != 1 or not killed <= REPLICAS or touched != killed:
    fail("not-one-replica")
states = mapping(journal.get("steady_states"))
if not (
    journal.get("status") == "completed"
    and mapping(states.get("before")).get("steady_state_met") is True
    and mapping(states.get("after")).get("steady_state_met") is True
):
    fail("not-held")
if why := unproven_faults(journal):
    fail("fault-not-seen", why)
if why := unseen_probes(journal, {"lb": sorted(REPLICAS)}):
    fail("traffic-not-seen", why)
print(f"{next(iter(killed))} was killed; the users' hypothesis held before and after")
PY
