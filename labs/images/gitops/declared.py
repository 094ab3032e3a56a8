"""The desired state of a GitOps lab: how a revision's apps/*.yaml files are read and validated.

One module for both roles of the image: the git server's pre-receive hook (hooks/pre-receive)
refuses a push to the deployed branch whose head fails these rules, and the reconciler rejects a
revision that fails them (one that got in some other way), so the learner meets the same reason
in both places. Standard library plus PyYAML (Debian's python3-yaml).

A revision declares one app per file under ``apps/`` (``.yaml`` or ``.yml``)::

    name: web            # the app's container: one of the lab's apps (APPS, lab_apps)
    running: true        # false: the platform stops it; true again: the platform starts it
    config:              # keys of the app's PUT /config; only these are managed
      version: v1

Ranges of config values are the app's own to enforce (labs/images/target/service.py): a value
it refuses rejects the revision in the reconciler, which reports why in /status.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import yaml

APPS_DIR = "apps"
MAX_FILE_BYTES = 64 * 1024
MAX_FILES = 32
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
APP_KEYS = ("name", "running", "config")


def _text(value: object) -> bool:
    return isinstance(value, str)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# The target service's PUT /config keys (labs/images/target/service.py) and their YAML types.
CONFIG_TYPES = {
    "version": (_text, "a string"),
    "message": (_text, "a string"),
    "delay_ms": (_whole, "a whole number"),
    "error_rate": (_number, "a number"),
    "dependency_timeout_ms": (_whole, "a whole number"),
    "retries": (_whole, "a whole number"),
    "retry_backoff_ms": (_whole, "a whole number"),
    "fallback_quote": (_text, "a string"),
}


class InvalidState(Exception):
    """The declared state of a revision cannot be applied; the message says where and why."""


@dataclass(frozen=True)
class DeclaredApp:
    name: str
    file: str
    running: bool
    config: dict

    def as_dict(self) -> dict:
        return {"file": self.file, "running": self.running, "config": dict(self.config)}


def lab_apps(env: dict[str, str] | None = None, *, seeded: bool = False) -> tuple[str, ...]:
    """The lab's app containers: APPS; with seeded (the git server, which seeds them), else
    SEED_APPS. Empty: any well-formed name is accepted."""
    env = os.environ if env is None else env
    listed = env.get("APPS", "").strip() or (env.get("SEED_APPS", "") if seeded else "")
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def shown(value: object, limit: int = 40) -> str:
    """A value as it appears in a message, cut short: a learner's file must not fill a report."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error (PyYAML
    keeps the last one silently, so `running: false` further down would win unseen)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a key that is not a scalar: the base class refuses it
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {shown(key)} appears twice (first on line {seen[key] + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str, text: str) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InvalidState(f"{path}{where}: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise InvalidState(f"{path}: {error}") from None


def parse_declared_state(
    files: dict[str, str], *, apps: Collection[str] = ()
) -> dict[str, DeclaredApp]:
    """Validates a revision's apps/*.yaml files; raises InvalidState naming the first problem.

    apps: the lab's app containers; a file naming another container is refused. Empty: any
    well-formed name is accepted."""
    if len(files) > MAX_FILES:
        raise InvalidState(f"{APPS_DIR}/ holds {len(files)} files; at most {MAX_FILES} are read")
    known = ", ".join(apps)
    declared: dict[str, DeclaredApp] = {}
    for path in sorted(files):
        data = load_yaml(path, files[path])
        if data is None:
            raise InvalidState(f"{path}: the file is empty")
        if not isinstance(data, dict):
            raise InvalidState(f"{path}: expected a mapping with {', '.join(APP_KEYS)}")
        unknown = sorted(str(key) for key in set(data) - set(APP_KEYS))
        if unknown:
            raise InvalidState(
                f"{path}: unknown key {shown(unknown[0])}; an app has {', '.join(APP_KEYS)}"
            )
        if "name" not in data:
            raise InvalidState(
                f"{path}: 'name' is missing: it names the app's container"
                + (f" ({known})" if apps else ", such as web")
            )
        name = data["name"]
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidState(
                f"{path}: 'name' must be a container name such as web, not {shown(name)}"
            )
        if apps and name not in apps:
            raise InvalidState(
                f"{path}: no app container is named {name!r} in this lab; its apps are {known}"
            )
        if name in declared:
            raise InvalidState(f"{path}: app {name!r} is also declared in {declared[name].file}")
        running = data.get("running", True)
        if not isinstance(running, bool):
            raise InvalidState(f"{path}: 'running' must be true or false, not {shown(running)}")
        config = data.get("config") or {}
        if not isinstance(config, dict):
            raise InvalidState(f"{path}: 'config' must be a mapping, not {shown(config)}")
        for key, value in config.items():
            if key not in CONFIG_TYPES:
                raise InvalidState(
                    f"{path}: unknown config key {shown(key)}; known: {', '.join(CONFIG_TYPES)}"
                )
            is_valid, kind = CONFIG_TYPES[key]
            if not is_valid(value):
                raise InvalidState(f"{path}: config {key} must be {kind}, not {shown(value)}")
        declared[name] = DeclaredApp(name=name, file=path, running=running, config=dict(config))
    return declared


def revision_files(git: Callable[..., bytes], sha: str) -> dict[str, str]:
    """The apps/*.yaml files of a revision, read with git(*args) -> stdout (raises on failure).
    Bounded: a file larger than MAX_FILE_BYTES, too many files or bytes that are not UTF-8
    raise InvalidState."""
    listing = git("ls-tree", "-r", "-z", "--long", sha, "--", f"{APPS_DIR}/").decode(
        errors="replace"
    )
    entries = []
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        kind, size = meta.split()[1], meta.split()[3]
        if kind == "blob" and path.endswith((".yaml", ".yml")):
            entries.append((path, int(size)))
    if len(entries) > MAX_FILES:
        raise InvalidState(f"{APPS_DIR}/ holds {len(entries)} files; at most {MAX_FILES} are read")
    files = {}
    for path, size in entries:
        if size > MAX_FILE_BYTES:
            raise InvalidState(f"{path}: larger than {MAX_FILE_BYTES // 1024} KB")
        try:
            files[path] = git("cat-file", "blob", f"{sha}:{path}").decode()
        except UnicodeDecodeError:
            raise InvalidState(f"{path}: not UTF-8 text") from None
    return files
