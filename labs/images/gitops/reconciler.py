"""The reconciler of the GitOps labs: a small software agent in the spirit of Argo CD and Flux.

Standard library plus PyYAML (Debian's python3-yaml). Every RECONCILE_INTERVAL seconds it

1. pulls: fetches BRANCH of REPO_URL into a bare mirror of its own and reads the declared state
   at the branch's head, one YAML file per app under ``apps/``::

       name: web            # the app's container; its HTTP API is APP_URL with {name}
       running: true        # false: the reconciler stops it (through the faults sidecar)
       config:              # keys of the target service's PUT /config; only these are managed
         version: v1
         delay_ms: 0

2. validates the new revision with the rules of declared.py (YAML, no key written twice, known
   keys, types, names of the lab's app containers: the git server's pre-receive hook refuses a
   push that breaks them, so a revision that fails them here got in some other way) and applies
   it to every running app that answers (PUT /config with the declared keys) as a whole: if an
   app refuses a value, the apps already changed are put back and the revision is rejected; the
   last good revision stays in force and the error is reported in /status, as Flux's
   Ready=False does. A revision waits for an app that does not answer only while that app should
   come back by itself (the revision in force declares it running); an app declared stopped
   until now is started by the platform once the revision is applied, then given its config;

3. reconciles continuously against the last good revision: config drift is put back; a declared
   running app that does not answer /health HEALTH_FAILURES times in a row (checked every second
   once it fails) is restarted by the platform through the lab's faults sidecar (POST
   FAULTS_URL/v1/faults {"action": "restart", "target": name}; event ``restored``); one declared
   ``running: false`` is stopped the same way ("kill"; event ``stopped``), and started again
   ("restart"; event ``started-app``) by the revision that declares it running again, such as a
   ``git revert`` of the stop.

No pruning: an app whose file is deleted (or no longer names it) is no longer managed. It is left
as it is, running or stopped; nothing corrects its drift or restarts it. The event ``unmanaged``
says so, and /status lists it under ``unmanaged`` until a file declares it again. (Argo CD and
Flux delete such objects only when pruning is switched on; here an app is a container of the
lab, which the reconciler cannot delete. To stop an app by git, declare ``running: false``.)

HTTP API on STATUS_PORT (9100): GET /status (revision, last fetch, synced, apps declared versus
observed, unmanaged apps, errors, rejected revisions), GET /events[?since=SEQ] (a bounded list,
newest last), GET /health. Every event is also printed as one line on stdout. Memory is bounded:
MAX_EVENTS events, each message cut at MAX_MESSAGE characters, the last MAX_REJECTED rejected
revisions and MAX_UNMANAGED unmanaged apps.

Settings (environment): REPO_URL (git://git/platform.git), BRANCH (main), RECONCILE_INTERVAL
(3 s), APP_URL (http://{name}:8080), FAULTS_URL (http://faults:7000; empty: no restores),
LISTEN_HOST (0.0.0.0), STATUS_PORT (9100), WORK_DIR (/tmp/reconciler), HEALTH_FAILURES (2),
RESTART_COOLDOWN (15 s), HTTP_TIMEOUT (2 s), MAX_EVENTS (200), APPS (the lab's app containers,
comma-separated; unset: any well-formed name, and the git server's check of SEED_APPS is the
only one).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from declared import (  # one module for the rules, shared with the git server's hook
    DeclaredApp,
    InvalidState,
    lab_apps,
    parse_declared_state,
    revision_files,
)

WAIT_BEFORE_REPORTING = 3  # passes a revision may wait for an app before it is an error
# Passes the first revision may wait, right after a start, for an app to answer before it is
# applied all the same (the platform then starts what does not answer).
FIRST_REVISION_PATIENCE = 10
MAX_REJECTED = 20  # rejected revisions remembered (and reported); older ones are forgotten
MAX_MESSAGE = 1000  # characters of an event's message
MAX_UNMANAGED = 32  # apps reported as no longer managed; older ones are forgotten


@dataclass(frozen=True)
class Settings:
    repo_url: str = "git://git/platform.git"
    branch: str = "main"
    interval: float = 3.0
    app_url: str = "http://{name}:8080"
    faults_url: str = "http://faults:7000"
    listen_host: str = "0.0.0.0"
    status_port: int = 9100
    work_dir: Path = Path("/tmp/reconciler")
    health_failures: int = 2
    restart_cooldown: float = 15.0
    http_timeout: float = 2.0
    max_events: int = 200
    apps: tuple[str, ...] = ()  # the lab's app containers; empty: any well-formed name

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str, default: str) -> str:
            return env.get(name, default).strip()

        return cls(
            repo_url=get("REPO_URL", cls.repo_url),
            branch=get("BRANCH", cls.branch),
            interval=max(0.5, float(get("RECONCILE_INTERVAL", "3"))),
            app_url=get("APP_URL", cls.app_url),
            faults_url=get("FAULTS_URL", cls.faults_url).rstrip("/"),
            listen_host=get("LISTEN_HOST", cls.listen_host),
            status_port=int(get("STATUS_PORT", "9100")),
            work_dir=Path(get("WORK_DIR", str(cls.work_dir))),
            health_failures=max(1, int(get("HEALTH_FAILURES", "2"))),
            restart_cooldown=float(get("RESTART_COOLDOWN", "15")),
            http_timeout=float(get("HTTP_TIMEOUT", "2")),
            max_events=max(10, int(get("MAX_EVENTS", "200"))),
            apps=lab_apps(env),
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def config_changes(declared: dict, observed: dict) -> dict:
    """{key: {"from": observed, "to": declared}} for each declared key that differs."""
    return {
        key: {"from": observed.get(key), "to": value}
        for key, value in declared.items()
        if key not in observed or observed[key] != value
    }


# --- Git: the state store -------------------------------------------------------------------


class SourceError(Exception):
    pass


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    author: str


class GitSource:
    """A bare mirror of one branch, fetched again on each pull."""

    def __init__(self, *, url: str, branch: str, mirror: Path) -> None:
        self.url, self.branch, self.mirror = url, branch, mirror
        self.ref = f"refs/remotes/origin/{branch}"

    def _git_bytes(self, *args: str, timeout: float = 15) -> bytes:
        try:
            done = subprocess.run(
                ["git", "--git-dir", str(self.mirror), *args],
                capture_output=True,
                timeout=timeout,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            )
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} took more than {timeout:g} s") from None
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace")
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            raise SourceError(lines[-1] if lines else f"git {args[0]} failed")
        return done.stdout

    def _git(self, *args: str, timeout: float = 15) -> str:
        return self._git_bytes(*args, timeout=timeout).decode(errors="replace")

    def fetch(self) -> str:
        """Fetches the branch; returns the sha of its head."""
        if not (self.mirror / "HEAD").exists():
            self.mirror.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare")
        try:
            self._git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--force",
                self.url,
                f"+refs/heads/{self.branch}:{self.ref}",
            )
        except SourceError as error:
            raise SourceError(f"cannot fetch {self.branch} from {self.url}: {error}") from None
        return self._git("rev-parse", "--verify", f"{self.ref}^{{commit}}").strip()

    def commit(self, sha: str) -> Commit:
        line = self._git("log", "-1", "--format=%s%x00%an", sha).strip()
        subject, _, author = line.partition("\0")
        return Commit(sha=sha, subject=subject, author=author)

    def declared_files(self, sha: str) -> dict[str, str]:
        return revision_files(self._git_bytes, sha)


# --- The running system ---------------------------------------------------------------------


class Unreachable(Exception):
    pass


def http_json(method: str, url: str, body: object = None, timeout: float = 2.0) -> tuple[int, dict]:
    """(status, JSON body) of a request; raises Unreachable when no HTTP answer comes."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(str(reason) or type(reason).__name__) from None
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        parsed = {"error": raw[:200].decode(errors="replace")}
    return status, parsed if isinstance(parsed, dict) else {"value": parsed}


class Apps:
    """The apps' own HTTP API (the target service): health and config."""

    def __init__(self, *, url_template: str, timeout: float) -> None:
        self.url_template, self.timeout = url_template, timeout

    def url(self, name: str, path: str) -> str:
        return self.url_template.replace("{name}", name).rstrip("/") + path

    def healthy(self, name: str) -> bool:
        try:
            status, _body = http_json("GET", self.url(name, "/health"), timeout=self.timeout)
        except Unreachable:
            return False
        return status == 200

    def config(self, name: str) -> dict:
        status, body = http_json("GET", self.url(name, "/config"), timeout=self.timeout)
        if status != 200:
            raise Unreachable(f"GET /config answered {status}")
        return body

    def put_config(self, name: str, values: dict) -> tuple[int, dict]:
        return http_json("PUT", self.url(name, "/config"), values, timeout=self.timeout)


class Platform:
    """The lab's faults sidecar: the platform restarts or stops a container when asked."""

    def __init__(self, *, url: str) -> None:
        self.url = url

    def request(self, action: str, target: str) -> tuple[bool, str]:
        if not self.url:
            return False, "no faults sidecar is configured (FAULTS_URL is empty)"
        try:
            status, body = http_json(
                "POST",
                f"{self.url}/v1/faults",
                {"action": action, "target": target},
                timeout=30,
            )
        except Unreachable as error:
            return False, f"the faults sidecar does not answer at {self.url}: {error}"
        if status == 200:
            return True, "done"
        return False, str(body.get("error") or f"HTTP {status}")


# --- Events ---------------------------------------------------------------------------------


class Events:
    """A bounded journal of what the reconciler did; each event is also one line on stdout."""

    def __init__(self, *, limit: int) -> None:
        self._lock = threading.Lock()
        self._events: deque[dict] = deque(maxlen=limit)
        self._seq = 0

    def add(self, kind: str, message: str, **fields) -> dict:
        with self._lock:
            self._seq += 1
            if len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 3] + "..."
            event = {"seq": self._seq, "time": now_iso(), "kind": kind, "message": message}
            event.update(fields)
            self._events.append(event)
        sys.stdout.write(f"{event['time']} {kind}: {message}\n")
        sys.stdout.flush()
        return event

    def since(self, seq: int = 0) -> list[dict]:
        with self._lock:
            return [dict(event) for event in self._events if event["seq"] > seq]


def short(sha: str | None) -> str:
    return sha[:7] if sha else "none"


def describe_changes(changes: dict) -> str:
    return ", ".join(
        f"{key} {json.dumps(change['from'])} -> {json.dumps(change['to'])}"
        for key, change in changes.items()
    )


# --- The reconciler -------------------------------------------------------------------------


class Pending(Exception):
    """A revision cannot be applied yet (an app does not answer): try again next time."""


class Refused(Exception):
    """An app refused a declared value: the revision is rejected."""


@dataclass
class Observed:
    healthy: bool | None = None
    config: dict | None = None
    failures: int = 0  # health checks failed in a row
    restart_requested_at: float | None = None  # monotonic
    last_restored: str | None = None  # wall-clock time of the last restart the platform did
    # Declared running by a new revision while it was declared stopped (or did not answer when
    # the revision came): if it does not answer, the platform starts it at once.
    starting: bool = False


@dataclass
class Reconciler:
    settings: Settings
    source: GitSource = field(init=False)
    apps: Apps = field(init=False)
    platform: Platform = field(init=False)
    events: Events = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.source = GitSource(url=s.repo_url, branch=s.branch, mirror=s.work_dir / "mirror.git")
        self.apps = Apps(url_template=s.app_url, timeout=s.http_timeout)
        self.platform = Platform(url=s.faults_url)
        self.events = Events(limit=s.max_events)
        self._lock = threading.Lock()
        self.revision: str | None = None  # the last good revision, in force
        self.commit: Commit | None = None
        self.declared: dict[str, DeclaredApp] = {}
        self.head: str | None = None  # the branch's head at the last successful fetch
        self.last_fetch: str | None = None
        self.last_fetch_ok: bool | None = None
        self.last_sync: str | None = None
        self.rejected: dict[str, str] = {}  # sha -> why; a rejected revision is not retried
        # Apps whose file is gone: no longer managed, left as they are (see the module's doc).
        self.unmanaged: dict[str, dict] = {}
        self.observed: dict[str, Observed] = {}
        self.conditions: dict[str, str] = {}  # what is wrong now, by source
        self.last_error: dict | None = None
        self.waiting = 0  # passes in a row that could not apply the head revision yet
        self.loops = 0

    # -- conditions ---------------------------------------------------------------------------

    def _fail(self, key: str, message: str, **fields) -> None:
        """An error condition; reported as an event when it is new or its message changed."""
        with self._lock:
            if self.conditions.get(key) == message:
                return
            self.conditions[key] = message
        event = self.events.add("error", message, source=key, **fields)
        with self._lock:
            self.last_error = {"time": event["time"], "message": message, "source": key}

    def _clear(self, key: str) -> None:
        with self._lock:
            message = self.conditions.pop(key, None)
        if message is not None:
            self.events.add("recovered", f"resolved: {message}", source=key)

    # -- one pass -----------------------------------------------------------------------------

    def reconcile_once(self) -> None:
        self.loops += 1
        head = self._pull()
        if head and head != self.revision and head not in self.rejected:
            self._try_revision(head)
        if head and (head == self.revision or head not in self.rejected):
            self._clear("revision")
        if head and head == self.revision:
            self.waiting = 0
            self._clear("apply")
        for app in list(self.declared.values()):
            self._reconcile_app(app)

    def _pull(self) -> str | None:
        try:
            head = self.source.fetch()
        except SourceError as error:
            with self._lock:
                self.last_fetch, self.last_fetch_ok = now_iso(), False
            self._fail("fetch", str(error))
            return None
        with self._lock:
            self.last_fetch, self.last_fetch_ok, self.head = now_iso(), True, head
        self._clear("fetch")
        return head

    def _try_revision(self, sha: str) -> None:
        try:
            commit = self.source.commit(sha)
            files = self.source.declared_files(sha)
            declared = parse_declared_state(files, apps=self.settings.apps)
            changes, absent = self._apply(declared)
        except SourceError as error:
            self._fail("fetch", f"cannot read revision {short(sha)}: {error}")
            return
        except (InvalidState, Refused) as error:
            with self._lock:
                self.rejected[sha] = str(error)
                while len(self.rejected) > MAX_REJECTED:  # the oldest goes first
                    del self.rejected[next(iter(self.rejected))]
            self._fail(
                "revision",
                f"revision {short(sha)} not applied ({short(self.revision)} stays in force): "
                f"{error}",
                revision=sha,
            )
            return
        except Pending as error:
            # Right after a start an app may not listen yet: report only a wait that lasts.
            self.waiting += 1
            if self.waiting >= WAIT_BEFORE_REPORTING:
                self._fail("apply", f"revision {short(sha)} waits: {error}", revision=sha)
            return
        self.waiting = 0
        self._clear("apply")
        previous, before = self.revision, self.declared
        released = {name: app for name, app in before.items() if name not in declared}
        with self._lock:
            self.revision, self.commit, self.declared = sha, commit, declared
            self.last_sync = now_iso()
            for name, app in declared.items():
                observed = self.observed.setdefault(name, Observed())
                was = before.get(name)
                if app.running and (was is None or not was.running):
                    # Declared running now, and it was not: no cooldown of an earlier stop, and
                    # if it was declared stopped (or did not answer just now), start it at once.
                    observed.restart_requested_at, observed.failures = None, 0
                    observed.starting = name in absent or (was is not None and not was.running)
                self.unmanaged.pop(name, None)
            for name in set(self.observed) - set(declared):
                del self.observed[name]
            for name, app in released.items():
                self.conditions.pop(f"app:{name}", None)  # its event below says why
                self.unmanaged[name] = {"file": app.file, "since": sha, "time": self.last_sync}
            while len(self.unmanaged) > MAX_UNMANAGED:  # with no APPS, names are many
                del self.unmanaged[next(iter(self.unmanaged))]
        summary = "; ".join(f"{name}: {describe_changes(c)}" for name, c in changes.items())
        if absent:
            summary += "; " if summary else ""
            summary += "; ".join(
                f"{name} does not answer: the platform starts it, then its config is applied"
                for name in absent
            )
        self.events.add(
            "synced-revision",
            f"applied {short(sha)} ({commit.subject!r} by {commit.author})"
            + (f": {summary}" if summary else ": nothing to change"),
            revision=sha,
            previous=previous,
            subject=commit.subject,
            author=commit.author,
            changes=changes,
            waiting_for=absent,
        )
        for name, app in released.items():
            self.events.add(
                "unmanaged",
                f"{name} is no longer declared in {short(sha)} (it was in {app.file}): the "
                "reconciler no longer manages it and leaves it as it is (no pruning); nothing "
                f"corrects its drift or restarts it until a file declares {name} again",
                app=name,
                revision=sha,
                file=app.file,
            )

    def _apply(self, declared: dict[str, DeclaredApp]) -> tuple[dict, list[str]]:
        """Applies a revision to every running app that answers, all or nothing; returns the
        changes and the apps that did not answer (their config waits until they do)."""
        changes, undo, absent = {}, [], []
        try:
            for app in declared.values():
                if not app.running or not app.config:
                    continue
                try:
                    observed = self.apps.config(app.name)
                except Unreachable as error:
                    if self._expected_to_answer(app.name):
                        raise Pending(f"{app.name} does not answer ({error})") from None
                    absent.append(app.name)
                    continue
                diff = config_changes(app.config, observed)
                if not diff:
                    self._observe(app.name, healthy=True, config=observed)
                    continue
                try:
                    status, body = self.apps.put_config(app.name, app.config)
                except Unreachable as error:
                    raise Pending(f"{app.name} does not answer ({error})") from None
                if status == 400:
                    reason = body.get("error") or "refused"
                    raise Refused(f"{app.name} refused {app.file}: {reason}")
                if status != 200:
                    raise Pending(f"{app.name} answered HTTP {status} to PUT /config")
                undo.append((app.name, {key: observed.get(key) for key in diff}))
                changes[app.name] = diff
                self._observe(app.name, healthy=True, config=body)
        except (Pending, Refused):
            for name, values in reversed(undo):  # put back what this attempt changed
                # Unreachable: the drift loop puts the last good revision back when it answers.
                with contextlib.suppress(Unreachable):
                    self.apps.put_config(name, values)
            raise
        return changes, absent

    def _expected_to_answer(self, name: str) -> bool:
        """Whether a revision waits for an app that does not answer. It waits while the app
        should come back by itself: the revision in force declares it running (the platform
        restores it), or the reconciler has just started. It does not wait for an app that is
        stopped on purpose (declared not running, or not declared at all): nothing would bring
        that one back before the revision is applied, so the revision is applied and the
        platform starts the app."""
        if self.revision is None:
            return self.waiting < FIRST_REVISION_PATIENCE
        in_force = self.declared.get(name)
        return in_force is not None and in_force.running

    def _observe(self, name: str, **values) -> None:
        with self._lock:
            observed = self.observed.setdefault(name, Observed())
            for key, value in values.items():
                setattr(observed, key, value)

    def _reconcile_app(self, app: DeclaredApp) -> None:
        observed = self.observed.setdefault(app.name, Observed())
        healthy = self.apps.healthy(app.name)
        if not app.running:
            self._observe(app.name, healthy=healthy, config=None, failures=0)
            if healthy:
                self._platform_act(app, "kill", observed)
            else:
                self._clear(f"app:{app.name}")
            return
        if not healthy:
            if observed.starting:  # declared stopped until this revision: no need to wait
                self._observe(app.name, healthy=False)
                self._platform_act(app, "start", observed)
                return
            self._observe(app.name, healthy=False, failures=observed.failures + 1)
            if observed.failures >= self.settings.health_failures:
                self._platform_act(app, "restart", observed)
            return
        self._observe(app.name, healthy=True, failures=0, starting=False)
        try:
            current = self.apps.config(app.name)
            diff = config_changes(app.config, current)
            if diff:
                status, body = self.apps.put_config(app.name, app.config)
                if status != 200:
                    self._fail(
                        f"app:{app.name}",
                        f"{app.name} refuses its declared config ({app.file}): "
                        f"{body.get('error') or status}",
                    )
                    self._observe(app.name, config=current)
                    return
                current = body
                self.events.add(
                    "drift-corrected",
                    f"{app.name} had drifted from {short(self.revision)}; put back "
                    f"{describe_changes(diff)}",
                    app=app.name,
                    revision=self.revision,
                    changes=diff,
                    fields=sorted(diff),
                )
        except Unreachable as error:
            self._fail(f"app:{app.name}", f"{app.name}: {error}")
            return
        self._observe(app.name, config=current)
        self._clear(f"app:{app.name}")

    def _platform_act(self, app: DeclaredApp, action: str, observed: Observed) -> None:
        """Restarts, starts ("start": a restart of a stopped container) or stops ("kill") an
        app through the platform, at most once per cooldown."""
        now = time.monotonic()
        last = observed.restart_requested_at
        if last is not None and now - last < self.settings.restart_cooldown:
            return
        self._observe(app.name, restart_requested_at=now)
        ok, message = self.platform.request("restart" if action == "start" else action, app.name)
        if not ok and action in ("restart", "start") and "paused" in message:
            ok, message = self.platform.request("unpause", app.name)
        if not ok:
            verb = {"kill": "stop"}.get(action, action)
            self._fail(f"app:{app.name}", f"cannot {verb} {app.name}: {message}")
            return
        self._clear(f"app:{app.name}")
        if action == "kill":
            self.events.add(
                "stopped",
                f"{app.name} is declared not running in {app.file}: the platform stopped it",
                app=app.name,
                revision=self.revision,
            )
            return
        if action == "start":
            self._observe(app.name, starting=False)
            self.events.add(
                "started-app",
                f"{app.name} is declared running in {app.file} ({short(self.revision)}) and "
                "was not running: the platform started it",
                app=app.name,
                revision=self.revision,
            )
            return
        failures = observed.failures
        event = self.events.add(
            "restored",
            f"{app.name} did not answer /health {failures} times in a row; the platform "
            "restarted it",
            app=app.name,
            revision=self.revision,
            failed_checks=failures,
        )
        self._observe(app.name, failures=0, last_restored=event["time"])  # the same moment

    # -- reporting ----------------------------------------------------------------------------

    def status(self) -> dict:
        with self._lock:
            apps = {}
            for name, app in self.declared.items():
                observed = self.observed.get(name) or Observed()
                config = observed.config or {}
                if app.running:
                    in_sync = bool(observed.healthy) and not config_changes(app.config, config)
                else:
                    in_sync = observed.healthy is False
                apps[name] = {
                    "file": app.file,
                    "declared": {"running": app.running, "config": dict(app.config)},
                    "observed": {
                        "running": observed.healthy,
                        "config": {key: config[key] for key in app.config if key in config}
                        if observed.config is not None
                        else None,
                    },
                    "synced": in_sync,
                    "last_restored": observed.last_restored,
                }
            synced = (
                self.revision is not None
                and self.last_fetch_ok is True
                and self.head == self.revision
                and all(app["synced"] for app in apps.values())
            )
            return {
                "repo": self.settings.repo_url,
                "branch": self.settings.branch,
                "revision": self.revision,
                "subject": self.commit.subject if self.commit else None,
                "author": self.commit.author if self.commit else None,
                "head": self.head,
                "last_fetch": self.last_fetch,
                "last_fetch_ok": self.last_fetch_ok,
                "last_sync": self.last_sync,
                "interval_seconds": self.settings.interval,
                "synced": synced,
                "ready": not self.conditions,
                "errors": [
                    {"source": key, "message": message}
                    for key, message in sorted(self.conditions.items())
                ],
                "last_error": dict(self.last_error) if self.last_error else None,
                "rejected": dict(self.rejected),
                "apps": apps,
                "unmanaged": {name: dict(info) for name, info in self.unmanaged.items()},
            }

    # -- running ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.events.add(
            "started",
            f"reconciling {self.settings.branch} of {self.settings.repo_url} every "
            f"{self.settings.interval:g} s",
        )
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.reconcile_once()
            except Exception as error:  # one bad pass must not end the agent
                self._fail("reconciler", f"internal error: {type(error).__name__}: {error}")
            else:
                self._clear("reconciler")
            stop.wait(max(0.2, self._next_pass_in() - (time.monotonic() - started)))

    def _next_pass_in(self) -> float:
        """The interval; sooner while an app fails its health checks, to restore it sooner."""
        with self._lock:
            failing = any(observed.failures for observed in self.observed.values())
        return min(self.settings.interval, 1.0) if failing else self.settings.interval


def make_handler(reconciler: Reconciler) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "academy-reconciler/1"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/status":
                self.reply(200, reconciler.status())
            elif url.path == "/events":
                try:
                    since = int(query.get("since", ["0"])[0])
                except ValueError:
                    self.reply(400, {"error": "since must be an event's seq number"})
                    return
                self.reply(200, reconciler.events.since(since))
            elif url.path == "/health":
                self.reply(200, {"status": "ok"})
            elif url.path == "/":
                self.reply(200, {"endpoints": ["/status", "/events", "/events?since=SEQ"]})
            else:
                self.reply(404, {"error": "not found"})

        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body, indent=2).encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass  # stdout carries events only: one line per thing the reconciler did

    return Handler


def main() -> None:
    settings = Settings.from_environment()
    reconciler = Reconciler(settings)
    server = ThreadingHTTPServer(
        (settings.listen_host, settings.status_port), make_handler(reconciler)
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    reconciler.run(threading.Event())


if __name__ == "__main__":
    main()
