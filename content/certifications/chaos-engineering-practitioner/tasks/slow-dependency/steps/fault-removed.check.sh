#!/usr/bin/env bash
# Passes when the rollbacks of the run in ~/latency-journal.json deleted, through chaostoxi,
# every toxic its method created (confirmed by the proxy's own event log, evidence.py), and
# the proxy `dependency` is enabled with no toxic left.
exec python3 -I - <<'PY'
import json

from evidence import unproven_toxics
from labcheck import HOME, fail, get_json, read_learner_file, substituted, wait_for


def mapping(value):
    return value if isinstance(value, dict) else {}


try:
    journal = json.loads(read_learner_file(HOME / "latency-journal.json"))
except (OSError, ValueError, UnicodeDecodeError, RecursionError):
    fail("no-journal")
if not isinstance(journal, dict) or not isinstance(journal.get("experiment"), dict) \
        or not isinstance(journal.get("run"), list):
    fail("no-journal")
journal = substituted(journal)


def toxics(runs, func):
    found = set()
    for run in runs if isinstance(runs, list) else []:
        run = mapping(run)
        provider = mapping(mapping(run.get("activity")).get("provider"))
        arguments = mapping(provider.get("arguments"))
        if (
            run.get("status") == "succeeded"
            and run.get("output") is True
            and provider.get("module") == "chaostoxi.toxic.actions"
            and provider.get("func") == func
        ):
            found.add((str(arguments.get("for_proxy")), str(arguments.get("toxic_name"))))
    return found


created = toxics(journal["run"], "create_toxic")
if not created:
    fail("no-toxic")
if created - toxics(journal.get("rollbacks"), "delete_toxic"):
    fail("no-rollback")
if why := unproven_toxics(journal):
    fail("toxic-not-seen", why)


def clean():
    proxy = mapping(get_json("http://proxy:8474/proxies/dependency", timeout=5))
    return proxy.get("enabled") is True and proxy.get("toxics") == []


if not wait_for(clean, 5):
    fail("toxic-left")
print(f"the rollbacks removed {', '.join(sorted(name for _, name in created))}; the proxy is clean")
PY
