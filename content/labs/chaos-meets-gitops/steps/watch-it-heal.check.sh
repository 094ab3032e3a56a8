#!/usr/bin/env bash
# Passes when the reconciler's events hold a restore of web, and web answers again with the
# config that main declares for it.
exec python3 -I - <<'PY'
from labcheck import Repository, fail, get_json, wait_for

events = get_json("http://reconciler:9100/events") or []
restored = [e for e in events if e.get("kind") == "restored" and e.get("app") == "web"]
if not restored:
    fail("no-restore")

declared = Repository().declared("main") or {}


def healed():
    if (get_json("http://web:8080/health") or {}).get("status") != "ok":
        return False
    config = get_json("http://web:8080/config") or {}
    return all(config.get(key) == value for key, value in declared.items())


if not wait_for(healed, 20):
    fail("not-healed")
print(f"the reconciler restored web at {restored[-1]['time']}; web runs as declared")
PY
