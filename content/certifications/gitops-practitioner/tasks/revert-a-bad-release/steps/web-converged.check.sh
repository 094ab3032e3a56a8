#!/usr/bin/env bash
# Passes when the reconciler reports the last commit of main applied and synced, web's /config
# is what that commit declares, and web meets its SLO measured now.
exec python3 -I - <<'PY'
import subprocess

from labcheck import Repository, fail, get_json, wait_for

SLO = ["slo", "http://web:8080/", "--requests", "10", "--p95", "300"]
repo = Repository()
head = repo.git("rev-parse", "main")
declared = repo.declared(head)


def synced_on_head():
    status = get_json("http://reconciler:9100/status") or {}
    return status.get("revision") == head and status.get("synced") is True


if declared is None or not wait_for(synced_on_head, 15):
    fail("not-applied")


def web_as_declared():
    config = get_json("http://web:8080/config") or {}
    return all(config.get(key) == value for key, value in declared.items())


if not wait_for(web_as_declared, 10):
    fail("web-differs")
measured = subprocess.run(SLO, capture_output=True, text=True, timeout=20)
print(measured.stdout.strip()[-500:])
if measured.returncode != 0:
    fail("slo-not-met")
print(f"the reconciler runs {head[:7]}; web meets its SLO")
PY
