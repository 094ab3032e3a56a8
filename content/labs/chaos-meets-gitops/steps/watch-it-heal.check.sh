#!/usr/bin/env bash
# Passes when the reconciler's events hold a restore of web, and web answers again with the
# config that main declares for it.
exec python3 - <<'PY'
import atexit, json, shutil, subprocess, sys, tempfile, time, urllib.request

import yaml


def fail(key):
    print(f"FAIL: {key}")
    sys.exit(1)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


events = get_json("http://reconciler:9100/events") or []
restored = [e for e in events if e.get("kind") == "restored" and e.get("app") == "web"]
if not restored:
    fail("no-restore")

work = tempfile.mkdtemp(prefix="check-", dir="/tmp")
atexit.register(shutil.rmtree, work, True)
subprocess.run(["git", "clone", "--quiet", "--bare", "git://git/platform.git", work], check=True)
text = subprocess.run(
    ["git", "--git-dir", work, "show", "main:apps/web.yaml"], capture_output=True, text=True
).stdout
try:
    declared = dict(yaml.safe_load(text).get("config") or {})
except (yaml.YAMLError, AttributeError, TypeError, ValueError):
    declared = {}


def healed():
    if (get_json("http://web:8080/health") or {}).get("status") != "ok":
        return False
    config = get_json("http://web:8080/config") or {}
    return all(config.get(key) == value for key, value in declared.items())


if not wait_for(healed, 20):
    fail("not-healed")
print(f"the reconciler restored web at {restored[-1]['time']}; web runs as declared")
PY
