"""The gitops lab image (labs/images/gitops): the git server and the reconciler, for real.

The local tests run both roles as processes on loopback: git_server.py seeds a bare repository
and runs a real ``git daemon``, the real target service (labs/images/target/service.py) plays
web, and the reconciler pulls, applies, corrects drift and asks a stand-in for the faults
sidecar to restart web when it stops answering. The stand-in is not under test: it only plays
the platform's part, starting the service again when asked. The git server runs the image's
pre-receive hook, so bad pushes to main are refused; ``unchecked_lab`` lets them through, to
see what the reconciler does with a bad revision that got in anyway. The reconciler's
transitions are also tested without processes, on stand-ins for git, the apps and the platform.

The test marked ``docker`` runs the image's two roles in a lab sandbox on the real engine;
tests/labs/test_gitops_lab.py runs the sequences of pushes in a real lab session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labs.images.build import IMAGES_DIR

GITOPS_DIR = IMAGES_DIR / "gitops"
SERVICE = IMAGES_DIR / "target" / "service.py"
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test Learner",
    "GIT_AUTHOR_EMAIL": "learner@example.org",
    "GIT_COMMITTER_NAME": "Test Learner",
    "GIT_COMMITTER_EMAIL": "learner@example.org",
    "LC_ALL": "C",
}


def load(name: str):
    """A module of the image, imported from its file (the image folder is not a package; its
    modules import declared.py as the image runs them, from their own folder)."""
    if str(GITOPS_DIR) not in sys.path:
        sys.path.append(str(GITOPS_DIR))
    spec = importlib.util.spec_from_file_location(f"gitops_{name}", GITOPS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reconciler_module = load("reconciler")
git_server_module = load("git_server")
declared_module = load("declared")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], *, timeout: float = 20, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.1)


def get_json(url: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def put_json(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- The pieces, as local processes ------------------------------------------------------------


class Service:
    """The real target service on a free port; can be stopped and started again."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_dir / "web.log", "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVICE)],
                env={**os.environ, "PORT": str(self.port), "DEPENDENCY_URL": "", "ROLE": "service"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: get_json(f"{self.url}/health"), what="the service to listen")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def config(self) -> dict:
        return get_json(f"{self.url}/config") or {}


class FakePlatform:
    """Stands in for the faults sidecar and the platform behind it: restart starts the
    service again, kill stops it; every request is recorded."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.requests: list[dict] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                platform.requests.append(body)
                if body.get("target") != "web":
                    self.answer(403, {"error": f"{body.get('target')!r} is not a target"})
                    return
                if body.get("action") == "restart":
                    platform.service.stop()
                    platform.service.start()
                elif body.get("action") == "kill":
                    platform.service.stop()
                self.answer(200, {**body, "ok": True})

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LocalLab:
    """A git server, web, a stand-in platform and the reconciler, on loopback.

    checked_branch: the branch whose pushes the git server checks (its BRANCH). The reconciler
    follows main; another branch here lets a bad revision reach main, as if the reconciler
    followed a branch that nothing checks."""

    def __init__(self, tmp_path: Path, *, checked_branch: str = "main") -> None:
        self.tmp_path = tmp_path
        self.checked_branch = checked_branch
        self.git_port = free_port()
        self.repo_url = f"git://127.0.0.1:{self.git_port}/platform.git"
        self.status_url = f"http://127.0.0.1:{free_port()}"
        self.web = Service(tmp_path)
        self.platform = FakePlatform(self.web)
        self.processes: list[subprocess.Popen] = []
        self.clone = tmp_path / "clone"

    def _spawn(self, script: str, env: dict, log: str) -> subprocess.Popen:
        with open(self.tmp_path / log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, str(GITOPS_DIR / script)],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def start(self) -> None:
        # The image's hook, run by this test's Python (the image runs it with its own).
        hooks = self.tmp_path / "hooks"
        hooks.mkdir()
        (hooks / "pre-receive").write_text(
            f"#!/bin/sh\nexec {sys.executable} -I {GITOPS_DIR / 'hooks' / 'pre-receive'}\n"
        )
        (hooks / "pre-receive").chmod(0o755)
        self._spawn(
            "gitops.py",
            {
                "ROLE": "git-server",
                "BRANCH": self.checked_branch,
                "HOOKS_DIR": str(hooks),
                "GIT_ROOT": str(self.tmp_path / "served"),
                "GIT_LISTEN": "127.0.0.1",
                "GIT_PORT": str(self.git_port),
                "SEED_DIR": str(GITOPS_DIR / "seed"),
                "SEED_APPS": "web",
            },
            "git.log",
        )
        wait_until(self.remote_head, what="the git server")
        self.web.start()
        port = self.status_url.rsplit(":", 1)[1]
        self._spawn(
            "reconciler.py",
            {
                "REPO_URL": self.repo_url,
                "APP_URL": self.web.url,
                "FAULTS_URL": self.platform.url,
                "LISTEN_HOST": "127.0.0.1",
                "STATUS_PORT": port,
                "WORK_DIR": str(self.tmp_path / "reconciler"),
                "RECONCILE_INTERVAL": "0.5",
                "RESTART_COOLDOWN": "3",
                "HTTP_TIMEOUT": "1",
                "APPS": "web",
            },
            "reconciler.log",
        )
        wait_until(lambda: (self.status() or {}).get("synced"), what="the first sync")
        git("clone", "--quiet", self.repo_url, str(self.clone))

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        self.web.stop()
        self.platform.close()

    def remote_head(self) -> str:
        done = subprocess.run(
            ["git", "ls-remote", self.repo_url, "refs/heads/main"],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV},
        )
        return done.stdout.split("\t")[0] if done.returncode == 0 else ""

    def status(self) -> dict | None:
        return get_json(f"{self.status_url}/status")

    def events(self, kind: str | None = None) -> list[dict]:
        events = get_json(f"{self.status_url}/events") or []
        return [event for event in events if kind is None or event["kind"] == kind]

    def commit_and_push(self, text: str, message: str, path: str = "apps/web.yaml") -> str:
        (self.clone / path).write_text(text)
        git("add", path, cwd=self.clone)
        git("commit", "--quiet", "--all", "--message", message, cwd=self.clone)
        git("push", "--quiet", "origin", "main", cwd=self.clone)
        return git("rev-parse", "HEAD", cwd=self.clone)

    def try_push(self, text: str, message: str) -> subprocess.CompletedProcess:
        """Commits web.yaml with this text and pushes; the push's result, refused or not."""
        (self.clone / "apps" / "web.yaml").write_text(text)
        git("commit", "--quiet", "--all", "--message", message, cwd=self.clone)
        return subprocess.run(
            ["git", "push", "origin", "main"],
            cwd=self.clone,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            timeout=30,
        )

    def wait_applied(self, sha: str) -> dict:
        return wait_until(
            lambda: (s := self.status()) and s["revision"] == sha and s["synced"] and s,
            what=f"revision {sha[:7]} applied",
        )


WEB_YAML = """\
name: web
running: {running}
config:
  version: {version}
  message: {message}
  delay_ms: 0
  error_rate: {error_rate}
"""


def web_yaml(*, version="v1", message="Deployed from git", error_rate="0.0", running="true") -> str:
    return WEB_YAML.format(version=version, message=message, error_rate=error_rate, running=running)


@pytest.fixture
def lab(tmp_path) -> Iterator[LocalLab]:
    lab = LocalLab(tmp_path)
    try:
        lab.start()
        yield lab
    finally:
        lab.close()


@pytest.fixture
def unchecked_lab(tmp_path) -> Iterator[LocalLab]:
    """A lab whose git server lets anything reach main: what the reconciler does with a bad
    revision that got in anyway."""
    lab = LocalLab(tmp_path, checked_branch="release")
    try:
        lab.start()
        yield lab
    finally:
        lab.close()


# --- The reconciler, for real -----------------------------------------------------------------


def test_the_seed_is_applied_and_reported(lab):
    status = lab.status()
    head = lab.remote_head()
    assert status["revision"] == head == status["head"]
    assert status["author"] == "Platform Team"
    assert status["ready"] is True and status["errors"] == []
    web = status["apps"]["web"]
    assert web["declared"]["config"]["message"] == "Deployed from git"
    assert web["observed"] == {"running": True, "config": web["declared"]["config"]}
    assert lab.web.config()["message"] == "Deployed from git"
    [synced] = lab.events("synced-revision")
    assert synced["revision"] == head
    assert synced["changes"] == {"web": {"message": {"from": "", "to": "Deployed from git"}}}


def test_a_pushed_commit_is_applied(lab):
    sha = lab.commit_and_push(web_yaml(version="v2", message="Shipped"), "web: ship v2")
    lab.wait_applied(sha)
    config = lab.web.config()
    assert (config["version"], config["message"]) == ("v2", "Shipped")
    event = lab.events("synced-revision")[-1]
    assert event["revision"] == sha and event["subject"] == "web: ship v2"
    assert event["author"] == "Test Learner"
    assert event["changes"]["web"] == {
        "version": {"from": "v1", "to": "v2"},
        "message": {"from": "Deployed from git", "to": "Shipped"},
    }


def test_drift_is_corrected_with_the_fields_it_changed(lab):
    assert put_json(f"{lab.web.url}/config", {"message": "by hand", "retries": 3}) == 200
    event = wait_until(lambda: lab.events("drift-corrected"), what="a drift correction")[0]
    assert event["app"] == "web" and event["fields"] == ["message"]
    assert event["changes"] == {"message": {"from": "by hand", "to": "Deployed from git"}}
    config = lab.web.config()
    assert config["message"] == "Deployed from git"
    assert config["retries"] == 3, "a key the repository does not declare is not managed"


def test_invalid_yaml_is_not_applied_and_the_last_good_state_is_kept(unchecked_lab):
    lab = unchecked_lab
    good = lab.remote_head()
    bad = lab.commit_and_push("name: web\nconfig: [version: v9\n", "broken")
    status = wait_until(
        lambda: (s := lab.status()) and s["head"] == bad and s["errors"] and s, what="an error"
    )
    assert status["revision"] == good
    assert status["synced"] is False and status["ready"] is False
    assert "apps/web.yaml line" in status["errors"][0]["message"]
    assert bad in status["rejected"]
    assert lab.events("error")[-1]["revision"] == bad
    time.sleep(1.5)  # three more passes: the rejected revision is not applied later either
    assert lab.status()["revision"] == good
    assert lab.web.config()["version"] == "v1"
    # Drift is still corrected, against the last good revision.
    put_json(f"{lab.web.url}/config", {"message": "by hand"})
    wait_until(lambda: lab.events("drift-corrected"), what="a drift correction")
    assert lab.web.config()["message"] == "Deployed from git"
    # A fix is a new commit: applied, and the error is gone.
    fixed = lab.commit_and_push(web_yaml(version="v3"), "fix the file")
    status = lab.wait_applied(fixed)
    assert status["errors"] == [] and lab.web.config()["version"] == "v3"
    assert lab.events("recovered")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (web_yaml().replace("delay_ms: 0", "colour: blue"), "unknown config key 'colour'"),
        (web_yaml().replace("delay_ms: 0", "delay_ms: soon"), "delay_ms must be a whole number"),
        (web_yaml(running="yes please"), "'running' must be true or false"),
        (web_yaml(error_rate="2"), "web refused apps/web.yaml: error_rate must be from"),
        (web_yaml() + "running: false\n", "the key 'running' appears twice (first on line 2)"),
        (web_yaml().replace("name: web", "name: db"), "no app container is named 'db'"),
        (web_yaml().replace("name: web\n", ""), "'name' is missing"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "not-a-boolean",
        "refused-by-the-service",
        "duplicate-key",
        "no-such-container",
        "no-name",
    ],
)
def test_invalid_declared_state_is_not_applied(unchecked_lab, text, reason):
    lab = unchecked_lab
    good = lab.remote_head()
    bad = lab.commit_and_push(text.replace("version: v1", "version: v-bad"), "bad change")
    status = wait_until(
        lambda: (s := lab.status()) and s["errors"] and s, what="the revision to be rejected"
    )
    assert reason in status["errors"][0]["message"]
    assert status["revision"] == good and status["head"] == bad
    assert lab.web.config()["version"] == "v1", "nothing of the bad revision is applied"


def test_an_app_that_stops_answering_is_restarted_through_the_platform(lab):
    put_json(f"{lab.web.url}/config", {"message": "lost on restart"})
    lab.web.stop()
    restored = wait_until(lambda: lab.events("restored"), what="a restore")[0]
    assert restored["app"] == "web" and restored["failed_checks"] >= 2
    assert {"action": "restart", "target": "web"} in lab.platform.requests
    # The restarted service starts from its built-in defaults: the declared config comes back.
    wait_until(
        lambda: lab.web.config().get("message") == "Deployed from git", what="declared config"
    )
    status = wait_until(lambda: (s := lab.status()) and s["synced"] and s, what="synced")
    assert status["apps"]["web"]["last_restored"] == restored["time"]


def test_an_app_declared_not_running_is_stopped(lab):
    sha = lab.commit_and_push(web_yaml(running="false"), "web: stop")
    wait_until(lambda: lab.events("stopped"), what="web to be stopped")
    assert {"action": "kill", "target": "web"} in lab.platform.requests
    status = wait_until(
        lambda: (s := lab.status()) and s["synced"] and s, what="synced while stopped"
    )
    assert status["revision"] == sha
    assert status["apps"]["web"]["observed"]["running"] is False
    assert get_json(f"{lab.web.url}/health") is None


BAD_PUSHES = [
    ("name: web\nconfig: [version: v9\n", "apps/web.yaml line 3: expected ',' or ']'"),
    (web_yaml() + "running: false\n", "the key 'running' appears twice (first on line 2)"),
    (web_yaml().replace("delay_ms: 0", "colour: blue"), "unknown config key 'colour'"),
    (web_yaml().replace("running: true", "replicas: 2"), "unknown key 'replicas'"),
    (web_yaml().replace("delay_ms: 0", "delay_ms: soon"), "delay_ms must be a whole number"),
    (web_yaml(running="yes please"), "'running' must be true or false"),
    (web_yaml().replace("name: web", "name: db"), "no app container is named 'db'"),
    (web_yaml().replace("name: web\n", ""), "'name' is missing"),
]
BAD_PUSH_IDS = [
    "yaml-error",
    "duplicate-key",
    "unknown-config-key",
    "unknown-key",
    "wrong-type",
    "not-a-boolean",
    "no-such-container",
    "no-name",
]


@pytest.mark.parametrize(("text", "reason"), BAD_PUSHES, ids=BAD_PUSH_IDS)
def test_a_push_that_breaks_the_desired_state_is_refused_with_its_reason(lab, text, reason):
    good = lab.remote_head()
    done = lab.try_push(text, "a bad change")
    assert done.returncode != 0
    [why] = [line for line in done.stderr.splitlines() if line.startswith("remote:   apps/")]
    assert reason in why, done.stderr
    assert "remote: Push refused:" in done.stderr and "pre-receive hook declined" in done.stderr
    assert f"main stays at {good[:7]}" in done.stderr
    assert lab.remote_head() == good, "the git server kept main where it was"
    status = lab.status()
    assert status["revision"] == good and status["errors"] == [] and status["rejected"] == {}
    # The learner's way out is git: undo the commit, push both; the new head is valid.
    git("revert", "--no-edit", "HEAD", cwd=lab.clone)
    git("push", "--quiet", "origin", "main", cwd=lab.clone)
    reverted = git("rev-parse", "HEAD", cwd=lab.clone)
    assert lab.remote_head() == reverted
    lab.wait_applied(reverted)


def test_only_the_deployed_branch_is_checked(lab):
    (lab.clone / "apps" / "web.yaml").write_text("name: web\nconfig: [unfinished\n")
    git("commit", "--quiet", "--all", "--message", "work in progress", cwd=lab.clone)
    git("push", "--quiet", "origin", "HEAD:refs/heads/wip", cwd=lab.clone)
    assert lab.status()["errors"] == []


def test_an_app_declared_not_running_comes_back_when_the_stop_is_reverted(lab):
    stop_sha = lab.commit_and_push(web_yaml(running="false"), "web: stop")
    wait_until(lambda: lab.events("stopped"), what="web to be stopped")
    wait_until(lambda: (s := lab.status()) and s["synced"] and s, what="synced while stopped")
    assert get_json(f"{lab.web.url}/health") is None
    git("revert", "--no-edit", "HEAD", cwd=lab.clone)
    git("push", "--quiet", "origin", "main", cwd=lab.clone)
    revert = git("rev-parse", "HEAD", cwd=lab.clone)
    status = lab.wait_applied(revert)
    assert status["apps"]["web"]["observed"]["running"] is True
    [started] = lab.events("started-app")
    assert started["app"] == "web" and started["revision"] == revert
    assert lab.platform.requests[-1] == {"action": "restart", "target": "web"}
    assert lab.events("restored") == [], "a start on purpose is not a restore"
    synced = lab.events("synced-revision")[-1]
    assert synced["revision"] == revert and synced["waiting_for"] == ["web"]
    # The started service began from its built-in defaults; the declared config is back.
    assert lab.web.config()["message"] == "Deployed from git"
    assert stop_sha != revert


def test_a_deleted_app_file_leaves_the_app_unmanaged_and_says_so(lab):
    git("rm", "--quiet", "apps/web.yaml", cwd=lab.clone)
    git("commit", "--quiet", "--message", "web: no longer managed here", cwd=lab.clone)
    git("push", "--quiet", "origin", "main", cwd=lab.clone)
    sha = git("rev-parse", "HEAD", cwd=lab.clone)
    status = lab.wait_applied(sha)
    assert status["apps"] == {}
    assert status["unmanaged"]["web"]["file"] == "apps/web.yaml"
    assert status["unmanaged"]["web"]["since"] == sha
    [event] = lab.events("unmanaged")
    assert event["app"] == "web" and event["revision"] == sha
    assert "no longer manages it" in event["message"] and "no pruning" in event["message"]
    assert lab.platform.requests == [], "not pruned: web was neither stopped nor restarted"
    assert (get_json(f"{lab.web.url}/health") or {}).get("status") == "ok"
    # Unmanaged: a change by hand stays.
    assert put_json(f"{lab.web.url}/config", {"message": "by hand"}) == 200
    time.sleep(1.5)  # three passes of the reconciler
    assert lab.web.config()["message"] == "by hand"
    assert lab.events("drift-corrected") == []
    # The file back: managed again, and the drift is corrected.
    git("revert", "--no-edit", "HEAD", cwd=lab.clone)
    git("push", "--quiet", "origin", "main", cwd=lab.clone)
    status = lab.wait_applied(git("rev-parse", "HEAD", cwd=lab.clone))
    assert status["unmanaged"] == {} and "web" in status["apps"]
    assert lab.web.config()["message"] == "Deployed from git"


def test_the_git_server_refuses_to_rewrite_history(lab):
    lab.commit_and_push(web_yaml(version="v2"), "v2")
    done = subprocess.run(
        ["git", "push", "--force", "origin", "HEAD~1:main"],
        cwd=lab.clone,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "non-fast-forward" in done.stderr


def test_a_lost_git_server_keeps_the_last_good_state_in_force(lab):
    good = lab.status()["revision"]
    git_server = lab.processes[0]
    stop(git_server)
    status = wait_until(lambda: (s := lab.status()) and s["errors"] and s, what="a fetch error")
    assert "cannot fetch main" in status["errors"][0]["message"]
    assert status["last_fetch_ok"] is False and status["synced"] is False
    assert status["revision"] == good
    put_json(f"{lab.web.url}/config", {"message": "by hand"})
    wait_until(lambda: lab.events("drift-corrected"), what="drift corrected from the cache")


# --- The declared-state parser, the reconciler's bounds and the seed ----------------------------


def test_parse_declared_state_accepts_partial_configs_and_reports_lines():
    parse = reconciler_module.parse_declared_state
    apps = parse({"apps/web.yaml": "name: web\nconfig:\n  version: v2\n"})
    assert apps["web"].running is True and apps["web"].config == {"version": "v2"}
    with pytest.raises(reconciler_module.InvalidState, match=r"apps/a.yaml line 3: .*'\\t'"):
        parse({"apps/a.yaml": "name: web\nconfig:\n\tversion: v2\n"})
    with pytest.raises(reconciler_module.InvalidState, match=r"also declared in apps/a\.yaml"):
        parse({"apps/a.yaml": "name: web\n", "apps/b.yaml": "name: web\n"})
    with pytest.raises(reconciler_module.InvalidState, match="must be a number"):
        parse({"apps/a.yaml": "name: web\nconfig: {error_rate: true}\n"})


def test_parse_declared_state_refuses_duplicates_and_other_containers():
    parse = declared_module.parse_declared_state
    invalid = declared_module.InvalidState
    with pytest.raises(invalid, match=r"a.yaml line 4: the key 'version' appears twice"):
        parse({"apps/a.yaml": "name: web\nconfig:\n  version: v1\n  version: v2\n"})
    with pytest.raises(invalid, match=r"no app container is named 'api'.*apps are web$"):
        parse({"apps/a.yaml": "name: api\n"}, apps=("web",))
    assert set(parse({"apps/a.yaml": "name: api\n"}, apps=("web", "api"))) == {"api"}
    with pytest.raises(invalid, match=r"'name' is missing: it names the app's container \(web\)"):
        parse({"apps/a.yaml": "running: true\n"}, apps=("web",))
    long_value = "x" * 5000
    with pytest.raises(invalid) as error:
        parse({"apps/a.yaml": f"name: web\nconfig:\n  delay_ms: {long_value}\n"})
    assert len(str(error.value)) < 200, "a learner's value is cut short in the message"
    lab_apps = declared_module.lab_apps
    assert lab_apps({"SEED_APPS": "web,api"}, seeded=True) == ("web", "api")
    assert lab_apps({"SEED_APPS": "web,api"}) == (), "the reconciler reads APPS only"
    assert lab_apps({"APPS": "web", "SEED_APPS": "web,api"}, seeded=True) == ("web",)


def test_the_reconciler_keeps_its_memory_bounded(tmp_path):
    class BadSource:
        def commit(self, sha):
            return reconciler_module.Commit(sha=sha, subject="bad", author="someone")

        def declared_files(self, sha):
            return {"apps/web.yaml": "name: web\nconfig: {colour: " + "x" * 3000 + "}\n"}

    settings = reconciler_module.Settings(work_dir=tmp_path, max_events=10, faults_url="")
    reconciler = reconciler_module.Reconciler(settings)
    reconciler.source = BadSource()
    shas = [f"{n:07x}".ljust(40, "0") for n in range(40)]
    for sha in shas:
        reconciler._try_revision(sha)
    status = reconciler.status()
    assert list(status["rejected"]) == shas[-reconciler_module.MAX_REJECTED :]
    events = reconciler.events.since(0)
    assert len(events) == 10 and events[-1]["revision"] == shas[-1]
    long = reconciler.events.add("error", "y" * 5000)
    assert len(long["message"]) == reconciler_module.MAX_MESSAGE
    assert status["errors"][0]["source"] == "revision"


# --- The reconciler's transitions, without processes -----------------------------------------


class Revisions:
    """The state store: revisions by sha, and the branch's head."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, str]] = {}
        self.head: str | None = None

    def push(self, sha: str, files: dict[str, str]) -> None:
        self.files[sha], self.head = files, sha

    def fetch(self) -> str:
        return self.head

    def commit(self, sha: str):
        return reconciler_module.Commit(sha=sha, subject=f"change {sha[:7]}", author="someone")

    def declared_files(self, sha: str) -> dict[str, str]:
        return self.files[sha]


class Containers:
    """The apps (up or not, with a config) and the platform that stops and starts them."""

    def __init__(self, *names: str) -> None:
        self.up = dict.fromkeys(names, True)
        self.configs = {name: {} for name in names}
        self.requests: list[tuple[str, str]] = []

    # The apps' API
    def healthy(self, name: str) -> bool:
        return self.up.get(name, False)

    def config(self, name: str) -> dict:
        if not self.up.get(name):
            raise reconciler_module.Unreachable("connection refused")
        return dict(self.configs[name])

    def put_config(self, name: str, values: dict) -> tuple[int, dict]:
        self.config(name)  # a stopped app does not answer
        self.configs[name].update(values)
        return 200, dict(self.configs[name])

    # The platform
    def request(self, action: str, target: str) -> tuple[bool, str]:
        self.requests.append((action, target))
        if action == "kill":
            self.up[target] = False
        elif action == "restart":
            self.up[target], self.configs[target] = True, {}  # back with its defaults
        return True, "done"


def app_file(*, running: bool = True, version: str = "v1") -> dict[str, str]:
    flag = "true" if running else "false"
    return {"apps/web.yaml": f"name: web\nrunning: {flag}\nconfig:\n  version: {version}\n"}


def reconciler_on(tmp_path, revisions: Revisions, containers: Containers):
    settings = reconciler_module.Settings(work_dir=tmp_path, apps=("web",), restart_cooldown=60)
    reconciler = reconciler_module.Reconciler(settings)
    reconciler.source, reconciler.apps, reconciler.platform = revisions, containers, containers
    return reconciler


def kinds(reconciler) -> list[str]:
    return [event["kind"] for event in reconciler.events.since(0)]


def test_a_reverted_stop_starts_the_app_at_once(tmp_path):
    revisions, containers = Revisions(), Containers("web")
    reconciler = reconciler_on(tmp_path, revisions, containers)
    revisions.push("a" * 40, app_file())
    reconciler.reconcile_once()
    revisions.push("b" * 40, app_file(running=False))
    reconciler.reconcile_once()
    assert containers.requests == [("kill", "web")] and not containers.up["web"]
    revisions.push("c" * 40, app_file())  # the revert
    reconciler.reconcile_once()
    # Applied at once although web does not answer, and web started in the same pass, inside
    # the cooldown of its stop.
    assert reconciler.revision == "c" * 40
    assert containers.requests == [("kill", "web"), ("restart", "web")]
    assert kinds(reconciler)[-2:] == ["synced-revision", "started-app"]
    assert reconciler.events.since(0)[-2]["waiting_for"] == ["web"]
    reconciler.reconcile_once()  # the next pass gives the started app its declared config
    assert containers.configs["web"] == {"version": "v1"}
    assert reconciler.status()["synced"] is True
    assert "restored" not in kinds(reconciler)


def test_a_revision_waits_for_an_app_the_platform_restores(tmp_path):
    revisions, containers = Revisions(), Containers("web")
    reconciler = reconciler_on(tmp_path, revisions, containers)
    revisions.push("a" * 40, app_file())
    reconciler.reconcile_once()
    containers.up["web"] = False  # killed: declared running, so the platform brings it back
    revisions.push("b" * 40, app_file(version="v2"))
    reconciler.reconcile_once()
    assert reconciler.revision == "a" * 40, "the new revision waits for web to answer"
    assert containers.requests == []  # one failed check yet: HEALTH_FAILURES is 2
    reconciler.reconcile_once()
    assert containers.requests == [("restart", "web")] and "restored" in kinds(reconciler)
    reconciler.reconcile_once()
    assert reconciler.revision == "b" * 40 and containers.configs["web"] == {"version": "v2"}


def test_the_first_revision_waits_for_a_stopped_app_only_so_long(tmp_path):
    revisions, containers = Revisions(), Containers("web")
    containers.up["web"] = False  # stopped before the reconciler started
    reconciler = reconciler_on(tmp_path, revisions, containers)
    revisions.push("a" * 40, app_file())
    for _ in range(reconciler_module.FIRST_REVISION_PATIENCE):
        reconciler.reconcile_once()
    assert reconciler.revision is None and containers.requests == []
    reconciler.reconcile_once()
    assert reconciler.revision == "a" * 40
    assert containers.requests == [("restart", "web")] and "started-app" in kinds(reconciler)


def test_a_deleted_file_releases_the_app_and_its_errors(tmp_path):
    revisions, containers = Revisions(), Containers("web")
    reconciler = reconciler_on(tmp_path, revisions, containers)
    revisions.push("a" * 40, app_file())
    reconciler.reconcile_once()
    reconciler.conditions["app:web"] = "web: something was wrong"
    revisions.push("b" * 40, {})
    reconciler.reconcile_once()
    status = reconciler.status()
    assert status["apps"] == {} and status["errors"] == [] and status["synced"] is True
    assert status["unmanaged"] == {
        "web": {"file": "apps/web.yaml", "since": "b" * 40, "time": status["last_sync"]}
    }
    containers.configs["web"] = {"version": "by hand"}
    containers.up["web"] = False
    reconciler.reconcile_once()
    assert containers.requests == [] and containers.configs["web"] == {"version": "by hand"}
    revisions.push("c" * 40, app_file())  # the file back; web is down, and nothing restores it
    reconciler.reconcile_once()
    assert reconciler.status()["unmanaged"] == {}
    assert containers.requests == [("restart", "web")] and kinds(reconciler)[-1] == "started-app"


def test_the_seed_commit_is_the_same_on_every_start(tmp_path):
    files = git_server_module.seed_files(GITOPS_DIR / "seed", ["web", "api"])
    assert set(files) == {"README.md", "apps/web.yaml", "apps/api.yaml"}
    shas = []
    for folder in ("one", "two"):
        repo = git_server_module.create_repository(root=tmp_path / folder, name="p", files=files)
        shas.append(git("--git-dir", str(repo), "rev-parse", "main"))
        assert git("--git-dir", str(repo), "log", "-1", "--format=%an") == "Platform Team"
    assert shas[0] == shas[1]
    # Every seed is a valid declared state.
    declared = reconciler_module.parse_declared_state(
        {path: data.decode() for path, data in files.items() if path.startswith("apps/")}
    )
    assert set(declared) == {"web", "api"}


# --- The image, in a lab sandbox on the real engine ------------------------------------------


@pytest.mark.docker
def test_the_image_roles_in_a_sandbox(make_sandbox, lab_images):
    from labs.runtime import ContainerSpec, Tmpfs, sandbox_exec

    def gitops(name: str, env: dict) -> ContainerSpec:
        return ContainerSpec(
            name=name, image=lab_images["gitops"], env=env, memory=96, cpus=0.25, pids=64
        )

    sandbox = make_sandbox(
        [
            ContainerSpec(
                name="toolbox",
                image=lab_images["toolbox"],
                memory=128,
                pids=64,
                tmpfs={
                    "/tmp": Tmpfs(size=16),
                    "/home/learner": Tmpfs(size=16, uid=1000, gid=1000, executable=True),
                },
            ),
            gitops("git", {"ROLE": "git-server", "SEED_APPS": "web"}),
            gitops("reconciler", {"ROLE": "reconciler"}),
            ContainerSpec(
                name="web",
                image=lab_images["target"],
                env={"DEPENDENCY_URL": ""},
                memory=64,
                pids=32,
                tmpfs={"/tmp": Tmpfs(size=8)},
            ),
        ]
    )

    def learner(script: str, timeout: float = 60):
        return sandbox_exec(
            container_id=sandbox.containers["toolbox"],
            command=["bash", "-c", script],
            user="learner",
            timeout=timeout,
            environment=GIT_ENV,
            workdir="/home/learner",
        )

    synced = (
        "(for i in $(seq 200); do curl -fs http://reconciler:9100/status | jq -e "
        "--arg h \"$(git -C ~/platform rev-parse HEAD)\" '.synced and .revision == $h' "
        ">/dev/null && exit 0; sleep 0.2; done; curl -s http://reconciler:9100/status; exit 1)"
    )
    result = learner(f"git clone -q git://git/platform.git ~/platform && {synced}")
    assert result.exit_code == 0, result.output
    result = learner(
        "cd ~/platform && sed -i 's/^  version: .*/  version: v2/' apps/web.yaml"
        f" && git commit -qam v2 && git push -q && {synced} && curl -s http://web:8080/config"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["version"] == "v2"
    # Both roles run as the image's unprivileged user, with no capabilities.
    for name in ("git", "reconciler"):
        result = sandbox_exec(
            container_id=sandbox.containers[name],
            command=["sh", "-c", "id -un; grep CapEff /proc/1/status /proc/self/status"],
            user="",
            timeout=10,
        )
        assert result.output.splitlines()[0] == "gitops", result.output
        assert result.output.count("0000000000000000") == 2, result.output
