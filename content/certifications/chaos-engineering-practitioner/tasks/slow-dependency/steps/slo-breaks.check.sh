#!/usr/bin/env bash
# Passes when ~/latency-journal.json is a run of an experiment whose hypothesis measures the
# api's quotes with a tolerance that can fail, was met before the fault, whose method added a
# latency toxic of 1000 ms or more to the proxy `dependency` through chaostoxi, and that
# deviated after it; and when the proxy's own event log and the api's request log confirm what
# the journal claims (evidence.py).
exec python3 -I - <<'PY'
import json
import re
from pathlib import Path

from evidence import unproven_faults, unproven_toxics, unseen_probes
from labcheck import HOME, fail, read_learner_file, substituted, words


def mapping(value):
    return value if isinstance(value, dict) else {}


def number(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


try:
    journal = json.loads(read_learner_file(HOME / "latency-journal.json"))
except (OSError, ValueError, UnicodeDecodeError, RecursionError):
    fail("no-journal")
if not isinstance(journal, dict) or not isinstance(journal.get("experiment"), dict) \
        or not isinstance(journal.get("run"), list):
    fail("no-journal")
journal = substituted(journal)


def fails_on_errors(arguments):
    """curl exits non-zero on an HTTP error only with --fail (-f, also among short flags)."""
    return any(
        word in ("--fail", "--fail-with-body")
        or (re.fullmatch(r"-[a-zA-Z]+", word) is not None and "f" in word)
        for word in arguments
    )


def is_2xx(value):
    return number(value) is not None and isinstance(value, int) and 200 <= value < 300


def falsifiable_quote_probe(probe):
    provider, tolerance = mapping(probe.get("provider")), probe.get("tolerance")
    if provider.get("type") == "http":
        good = is_2xx(tolerance) or (
            isinstance(tolerance, list) and tolerance and all(map(is_2xx, tolerance))
        )
        return good and str(provider.get("url") or "").startswith("http://api:8080/api/quote")
    if provider.get("type") == "process":
        program, arguments = Path(str(provider.get("path") or "")).name, words(provider.get("arguments"))
        return (
            (program == "slo" or (program == "curl" and fails_on_errors(arguments)))
            and tolerance == 0
            and any(w.startswith("http://api:8080/api/quote") for w in arguments)
        )
    return False


hypothesis = mapping(journal["experiment"].get("steady-state-hypothesis"))
probes = hypothesis.get("probes") if isinstance(hypothesis.get("probes"), list) else []
if not any(falsifiable_quote_probe(mapping(probe)) for probe in probes):
    fail("no-slo-probe")
states = mapping(journal.get("steady_states"))
if mapping(states.get("before")).get("steady_state_met") is not True:
    fail("before-not-met")
latency = []
for run in journal["run"]:
    run = mapping(run)
    provider = mapping(mapping(run.get("activity")).get("provider"))
    arguments = mapping(provider.get("arguments"))
    if (
        run.get("status") == "succeeded"
        and run.get("output") is True
        and provider.get("type") == "python"
        and provider.get("module") == "chaostoxi.toxic.actions"
        and provider.get("func") == "create_toxic"
        and arguments.get("for_proxy") == "dependency"
        and arguments.get("toxic_type") == "latency"
        and (number(mapping(arguments.get("attributes")).get("latency")) or 0) >= 1000
        and (number(arguments.get("toxicity", 1)) or 0) > 0
    ):
        latency.append(arguments.get("toxic_name"))
if not latency:
    fail("no-latency-toxic")
if journal.get("deviated") is not True or mapping(states.get("after")).get("steady_state_met") \
        is not False:
    fail("did-not-deviate")
if why := unproven_faults(journal):
    fail("fault-not-seen", why)
if why := unproven_toxics(journal):
    fail("toxic-not-seen", why)
if why := unseen_probes(journal, {"api": ["api"]}):
    fail("traffic-not-seen", why)
print("the latency toxic broke the hypothesis, as the proxy's and the api's records confirm")
PY
