#!/usr/bin/env bash
# Passes when the reconciler's events hold a drift correction on web, the reconciler is on the
# head of main, and web's /config is what main declares.
exec python3 -I - <<'PY'
from labcheck import Repository, fail, get_json, wait_for

events = get_json("http://reconciler:9100/events") or []
corrected = [e for e in events if e.get("kind") == "drift-corrected" and e.get("app") == "web"]
if not corrected:
    fail("no-drift-corrected")

repo = Repository()
head = repo.git("rev-parse", "main")
declared = repo.declared(head)


def on_head():
    status = get_json("http://reconciler:9100/status") or {}
    return status.get("revision") == head


if declared is None or not wait_for(on_head, 15):
    fail("not-applied")


def web_as_declared():
    config = get_json("http://web:8080/config") or {}
    return all(config.get(key) == value for key, value in declared.items())


if not wait_for(web_as_declared, 10):
    fail("web-differs")
last = corrected[-1]
print(f"the reconciler put back {', '.join(last.get('fields') or [])} on web at {last['time']}")
PY
