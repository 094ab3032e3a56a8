"""Helpers for lab check scripts written in Python (`exec python3 - <<'PY'` in a .check.sh).

Installed in the toolbox for Debian's python3, which checks run (their PATH is fixed), so a
check says `from labcheck import fail, get_json, ...`. The jq side of the same idea is
journal.jq. Everything here reads; nothing changes the lab.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shlex
import shutil
import stat
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


def _root_only_folder() -> str:
    """A new folder only root can read, removed at exit."""
    path = tempfile.mkdtemp(prefix="check-", dir="/tmp")
    atexit.register(shutil.rmtree, path, True)
    return path


class Repository:
    """A bare clone, in a folder removed at exit, of a lab's git repository.

    Every git command goes through safegit (a clean environment, no configuration, hooks or
    drivers but git's own), on a repository root owns: the learner's clones are copied first.
    """

    def __init__(self, url: str = "git://git/platform.git") -> None:
        self.path = _root_only_folder()
        subprocess.run(["safegit", "clone", "--quiet", "--bare", url, self.path], check=True)

    @classmethod
    def learner_clone(cls, path: str) -> Repository | None:
        """A root-only copy of a clone the learner made (its objects, refs and origin URL, never
        its configuration or hooks; see safegit), or None when path holds no clone."""
        copy = f"{_root_only_folder()}/clone.git"
        if subprocess.run(["safegit", "copy-clone", path, copy], capture_output=True).returncode:
            return None
        repository = cls.__new__(cls)
        repository.path = copy
        return repository

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["safegit", "--git-dir", self.path, *args], capture_output=True, text=True
        ).stdout.strip()

    def declared(self, revision: str, app: str = "web") -> dict | None:
        """The `config` that apps/<app>.yaml declares at revision; None when it is unreadable."""
        import yaml

        try:
            data = yaml.safe_load(self.git("show", "--no-textconv", f"{revision}:apps/{app}.yaml"))
            return dict(data.get("config") or {})
        except (yaml.YAMLError, AttributeError, TypeError, ValueError):
            return None


# Chaos Toolkit's substitution (chaostoolkit-lib's `substitute`, string.Template's rules).
PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?P<braced>[_a-z][_a-z0-9]*)\})",
    re.IGNORECASE | re.ASCII,
)
MAX_VALUE = 256  # characters of a value put in a string: a hostile journal cannot blow up
MAX_NAMES = 100


SECRET_MASK = "***"


def variables(journal: dict, mask_secrets: bool = False) -> dict:
    """What `${name}` stood for when `chaos run` ran the journal's experiment: its configuration,
    then the first scope of its secrets that has the name. A configuration value from the
    environment ({"type": "env", "key", "default"}) counts as its default, since the journal
    does not record the shell's environment; with no default (or from Vault, or a dynamic
    probe) the name is left out and stays as written. May hold secrets: never print them, or
    ask for ``mask_secrets`` (each secret's value is then SECRET_MASK)."""
    experiment = journal.get("experiment") if isinstance(journal, dict) else None
    experiment = experiment if isinstance(experiment, dict) else {}
    configuration = experiment.get("configuration")
    configuration = configuration if isinstance(configuration, dict) else {}
    found: dict = {}
    for key, value in list(configuration.items())[:MAX_NAMES]:
        if isinstance(value, dict) and "type" in value:
            if value.get("type") == "env" and "default" in value:
                found[key] = value["default"]
            elif value.get("type") not in ("env", "probe", "vault"):
                found[key] = value
        else:
            found[key] = value
    scopes = experiment.get("secrets")
    for scope in list(scopes.values() if isinstance(scopes, dict) else [])[:MAX_NAMES]:
        if not isinstance(scope, dict) or "type" in scope:
            continue
        for key, value in list(scope.items())[:MAX_NAMES]:
            unknown = isinstance(value, dict) and value.get("type") in ("env", "vault")
            if key not in configuration and key not in found and not unknown:
                found[key] = SECRET_MASK if mask_secrets else value
    return found


def substitute(value: object, names: dict, depth: int = 0) -> object:
    """The value as `chaos run` substituted it: `$$`, `$name`, `${name}` (a string that is only
    `${name}` takes the value's own type), inside objects and lists too; one pass."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group("braced") in names:
            found = names[whole.group("braced")]
            return found[:MAX_VALUE] if isinstance(found, str) else found

        def replace(match: re.Match) -> str:
            if match.group("escaped"):
                return "$"
            name = match.group("named") or match.group("braced")
            return str(names[name])[:MAX_VALUE] if name in names else match.group(0)

        return PLACEHOLDER.sub(replace, value)
    if depth > 20:
        return value
    if isinstance(value, dict):
        return {key: substitute(item, names, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, names, depth + 1) for item in value]
    return value


def _substituted_activity(activity: object, names: dict) -> object:
    if not isinstance(activity, dict) or not isinstance(activity.get("provider"), dict):
        return activity
    provider = dict(activity["provider"])
    for key in ("url", "arguments") if provider.get("type") == "http" else ("arguments",):
        if key in provider:
            provider[key] = substitute(provider[key], names)
    return {**activity, "provider": provider}


def substituted(journal: dict, mask_secrets: bool = False) -> dict:
    """The journal with its activities' providers as `chaos run` ran them (url and arguments
    substituted), in the experiment, the runs, the rollbacks and the steady states. Match on
    it; print only what ``mask_secrets`` gives (a check's output is stored and shown)."""
    names = variables(journal, mask_secrets)
    if not names or not isinstance(journal.get("experiment"), dict):
        return journal

    def runs(items: object) -> object:
        if not isinstance(items, list):
            return items
        return [
            {**run, "activity": _substituted_activity(run.get("activity"), names)}
            if isinstance(run, dict)
            else run
            for run in items
        ]

    def state(value: object) -> object:
        if isinstance(value, dict) and "probes" in value:
            return {**value, "probes": runs(value["probes"])}
        return value

    def activities(items: object) -> object:
        if not isinstance(items, list):
            return items
        return [_substituted_activity(item, names) for item in items]

    journal = dict(journal)
    experiment = dict(journal["experiment"])
    for key in ("method", "rollbacks"):
        if key in experiment:
            experiment[key] = activities(experiment[key])
    hypothesis = experiment.get("steady-state-hypothesis")
    if isinstance(hypothesis, dict):
        probes = activities(hypothesis.get("probes"))
        experiment["steady-state-hypothesis"] = {**hypothesis, "probes": probes}
    journal["experiment"] = experiment
    for key in ("run", "rollbacks"):
        if key in journal:
            journal[key] = runs(journal[key])
    states = journal.get("steady_states")
    if isinstance(states, dict):
        states = {key: state(value) for key, value in states.items()}
        if isinstance(states.get("during"), list):
            states["during"] = [state(value) for value in states["during"]]
        journal["steady_states"] = states
    return journal


LEARNER_FILE_MAX_BYTES = 256 * 1024


def read_learner_file(path: Path, limit: int = LEARNER_FILE_MAX_BYTES, home: Path = HOME) -> str:
    """A file of the learner's, read as the learner could read it: never through a symbolic
    link (root would follow one to a file the learner may not see), only a regular file the
    learner owns, at most ``limit`` bytes. Raises OSError (or ValueError when too large)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != home.stat().st_uid:
            raise OSError(f"{path} is not a regular file of the learner's")
        if st.st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data.decode()


def journals(home: Path = HOME) -> list[dict]:
    """Chaos Toolkit journals in the learner's home (files the check may read), oldest first,
    each as `chaos run` ran it (see ``substituted``): `${name}` in a provider counts as the
    value it stood for. Secrets are in too: print nothing of a provider as it is here."""
    found = []
    for path in sorted(home.glob("*.json"))[:200]:
        try:
            data = json.loads(read_learner_file(path, home=home))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("experiment"), dict)
            and isinstance(data.get("run"), list)
        ):
            found.append(substituted(data))
    return sorted(found, key=lambda journal: str(journal.get("start") or ""))


def fault_calls(runs: object) -> list[tuple[str, str, datetime | None]]:
    """(action, target, start) of each action among these journal runs (from ``journals``, so
    substituted) that ran and took effect: `fault ACTION NAME` (process provider) or a POST to
    the faults sidecar (HTTP provider); action "config" for a change to an app's /config or
    /faults by hand (drift), with curl or the HTTP provider."""
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
