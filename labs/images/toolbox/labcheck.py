"""Helpers for lab check scripts written in Python (`exec python3 - <<'PY'` in a .check.sh).

Installed in the toolbox for Debian's python3, which checks run (their PATH is fixed), so a
check says `from labcheck import fail, get_json, ...`. The jq side of the same idea is
journal.jq. Everything here reads; nothing changes the lab.
"""

from __future__ import annotations

import atexit
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

HOME = Path("/home/learner")
FAULTS_URL = "http://faults:7000/v1/faults"
# A change to an app's run-time settings by hand: drift, as far as a reconciler is concerned.
APP_CONFIG = re.compile(r"^http://([a-z][a-z0-9-]*):8080/(config|faults)(\?|$)")


def fail(key: str, *details: str) -> None:
    """Prints `FAIL: key` (shown in the learner's language), then any details, and exits 1."""
    for line in (key, *details):
        print(f"FAIL: {line}")
    sys.exit(1)


def get_json(url: str, timeout: float = 2) -> object:
    """The JSON at url, or None when it does not answer or answers something else."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def wait_for(predicate, seconds: float, interval: float = 0.5):
    """Calls predicate until it returns something true or the time is up; returns its value."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def words(arguments: object) -> list[str]:
    """A process provider's arguments, a list or a command-line string, as a list."""
    if isinstance(arguments, list):
        return [str(word) for word in arguments]
    try:
        return shlex.split(str(arguments or ""))
    except ValueError:
        return str(arguments).split()


class Repository:
    """A bare clone, in a folder removed at exit, of a lab's git repository."""

    def __init__(self, url: str = "git://git/platform.git") -> None:
        self.path = tempfile.mkdtemp(prefix="check-", dir="/tmp")
        atexit.register(shutil.rmtree, self.path, True)
        subprocess.run(["git", "clone", "--quiet", "--bare", url, self.path], check=True)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.path, *args], capture_output=True, text=True
        ).stdout.strip()

    def declared(self, revision: str, app: str = "web") -> dict | None:
        """The `config` that apps/<app>.yaml declares at revision; None when it is unreadable."""
        import yaml

        try:
            data = yaml.safe_load(self.git("show", f"{revision}:apps/{app}.yaml"))
            return dict(data.get("config") or {})
        except (yaml.YAMLError, AttributeError, TypeError, ValueError):
            return None


def journals(home: Path = HOME) -> list[dict]:
    """Chaos Toolkit journals in the learner's home (files the check may read), oldest first."""
    found = []
    for path in home.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("experiment"), dict)
            and isinstance(data.get("run"), list)
        ):
            found.append(data)
    return sorted(found, key=lambda journal: str(journal.get("start") or ""))


def fault_calls(runs: object) -> list[tuple[str, str, datetime | None]]:
    """(action, target, start) of each action among these journal runs that ran and took
    effect: `fault ACTION NAME` (process provider) or a POST to the faults sidecar (HTTP
    provider); action "config" for a change to an app's /config or /faults by hand (drift),
    with curl or the HTTP provider."""
    found = []
    for run in runs or []:
        activity = run.get("activity") or {}
        provider = activity.get("provider") or {}
        output = run.get("output") if isinstance(run.get("output"), dict) else {}
        if activity.get("type") != "action" or run.get("status") != "succeeded":
            continue
        start = when(run.get("start"))
        kind, method = provider.get("type"), str(provider.get("method") or "GET").upper()
        url = str(provider.get("url") or "").rstrip("/")
        if kind == "process":
            program, args = Path(str(provider.get("path"))).name, words(provider.get("arguments"))
            if output.get("status") != 0:
                continue
            if program == "fault" and len(args) >= 2:
                found.append((args[0], args[1], start))
            elif program == "curl" and "PUT" in args:
                for arg in args:
                    if match := APP_CONFIG.match(arg):
                        found.append(("config", match.group(1), start))
        elif kind == "http" and url == FAULTS_URL and method == "POST":
            args = provider.get("arguments")
            if isinstance(args, dict) and output.get("status") == 200:
                found.append((args.get("action"), args.get("target"), start))
        elif (
            kind == "http"
            and method in ("PUT", "POST")
            and (match := APP_CONFIG.match(url))
            and output.get("status") == 200
        ):
            found.append(("config", match.group(1), start))
    return found
