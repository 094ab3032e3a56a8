#!/usr/bin/env bash
# Passes when the reconciler's events hold a drift correction on web, the reconciler is on the
# head of main, and web's /config is what main declares.
exec python3 - <<'PY'
import atexit, json, shutil, subprocess, sys, tempfile, time, urllib.request

import yaml

REPO = "git://git/platform.git"


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
corrected = [e for e in events if e.get("kind") == "drift-corrected" and e.get("app") == "web"]
if not corrected:
    fail("no-drift-corrected")

work = tempfile.mkdtemp(prefix="check-", dir="/tmp")
atexit.register(shutil.rmtree, work, True)
subprocess.run(["git", "clone", "--quiet", "--bare", REPO, work], check=True)
head = subprocess.run(
    ["git", "--git-dir", work, "rev-parse", "main"], capture_output=True, text=True
).stdout.strip()
text = subprocess.run(
    ["git", "--git-dir", work, "show", f"{head}:apps/web.yaml"], capture_output=True, text=True
).stdout
try:
    declared = dict(yaml.safe_load(text).get("config") or {})
except (yaml.YAMLError, AttributeError, TypeError, ValueError):
    declared = None


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
