#!/usr/bin/env bash
# Passes when the rollbacks of the run in ~/replica-journal.json restarted every replica its
# method killed (confirmed by the faults sidecar's record, evidence.py), and the load balancer
# now sees the three replicas up.
exec python3 -I - <<'PY'
import json

from evidence import unproven_faults
from labcheck import HOME, fail, fault_calls, get_json, read_learner_file, substituted, wait_for

REPLICAS = {"api-1", "api-2", "api-3"}

try:
    journal = json.loads(read_learner_file(HOME / "replica-journal.json"))
except (OSError, ValueError, UnicodeDecodeError, RecursionError):
    fail("no-journal")
if not isinstance(journal, dict) or not isinstance(journal.get("experiment"), dict) \
        or not isinstance(journal.get("run"), list):
    fail("no-journal")
journal = substituted(journal)
rollbacks = journal.get("rollbacks") if isinstance(journal.get("rollbacks"), list) else []
killed = {t for a, t, _ in fault_calls(journal["run"]) if a == "kill" and t in REPLICAS}
restarted = {t for a, t, _ in fault_calls(rollbacks) if a == "restart"}
if not killed:
    fail("nothing-killed")
if killed - restarted:
    fail("no-rollback")
if why := unproven_faults(journal):
    fail("fault-not-seen", why)


def all_up():
    servers = (get_json("http://lb:9000/servers") or {}).get("servers") or []
    up = {s.get("server") for s in servers if isinstance(s, dict) and s.get("status") == "UP"}
    return REPLICAS <= up


if not wait_for(all_up, 20):
    fail("replicas-down")
print(f"the rollbacks restarted {', '.join(sorted(killed))}; all three replicas are up")
PY
