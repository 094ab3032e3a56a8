#!/usr/bin/env bash
# Passes when main has a commit after the seed that declares a new version or message for web,
# the reconciler has applied the head of main, and web's /config is what main declares.
exec python3 -I - <<'PY'
from labcheck import Repository, fail, get_json, wait_for

repo = Repository()
head = repo.git("rev-parse", "main")
seed = repo.git("rev-list", "--max-parents=0", "main").split()[0]
if head == seed:
    fail("no-commit")
now, before = repo.declared(head) or {}, repo.declared(seed) or {}
if all(now.get(key) == before.get(key) for key in ("version", "message")):
    fail("version-unchanged")


def applied():
    status = get_json("http://reconciler:9100/status")
    return status if status and status.get("revision") == head else None


if not wait_for(applied, 15):
    status = get_json("http://reconciler:9100/status") or {}
    fail("not-applied", *(f"reconciler: {e['message']}" for e in status.get("errors", [])))


def web_as_declared():
    config = get_json("http://web:8080/config") or {}
    return all(config.get(key) == value for key, value in now.items())


if not wait_for(web_as_declared, 10):
    fail("web-differs")
print(f"main is at {head[:7]}; web runs version {now.get('version')!r} as declared")
PY
