#!/usr/bin/env bash
# Passes when main has a commit after the seed that declares a new version or message for web,
# the reconciler has applied the head of main, and web's /config is what main declares.
exec python3 - <<'PY'
import atexit, json, shutil, subprocess, sys, tempfile, time, urllib.request

import yaml

REPO = "git://git/platform.git"


def fail(key, *details):
    print(f"FAIL: {key}")
    for detail in details:
        print(f"FAIL: {detail}")
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


work = tempfile.mkdtemp(prefix="check-", dir="/tmp")
atexit.register(shutil.rmtree, work, True)
subprocess.run(["git", "clone", "--quiet", "--bare", REPO, work], check=True)


def git(*args):
    return subprocess.run(
        ["git", "--git-dir", work, *args], capture_output=True, text=True
    ).stdout.strip()


def declared(revision):
    try:
        data = yaml.safe_load(git("show", f"{revision}:apps/web.yaml"))
        return dict(data.get("config") or {})
    except (yaml.YAMLError, AttributeError, TypeError, ValueError):
        return None


head = git("rev-parse", "main")
seed = git("rev-list", "--max-parents=0", "main").split()[0]
if head == seed:
    fail("no-commit")
now, before = declared(head) or {}, declared(seed) or {}
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
