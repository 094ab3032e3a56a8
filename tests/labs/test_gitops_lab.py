"""The GitOps platform recovers from any sequence of pushes by git alone, on the real engine.

The first test runs the gitops-reconcile lab as a learner gets it (provisioned by the Celery
worker, faults carried out by the platform's relay) and pushes from the learner's terminal:
every kind of bad push is refused with its reason in the push output; a revert of
``running: false`` brings web back; a deleted app file leaves web unmanaged, and said so.
The second runs the image's roles in a sandbox whose git server checks another branch, so that
bad revisions reach the branch the reconciler follows: /status reports each one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from academy.courses.services import content_sync
from labs.models import LabSession
from labs.runtime import ContainerSpec, Tmpfs, sandbox_exec
from tests.conftest import database_env
from tests.labs.test_gitops import BAD_PUSH_IDS, BAD_PUSHES, GIT_ENV, wait_until, web_yaml

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SEED_WEB = web_yaml()  # the seed's apps/web.yaml, as far as the keys it declares go


class Terminal:
    """Commands as the learner runs them in the lab's toolbox."""

    def __init__(self, container_id: str) -> None:
        self.container_id = container_id

    def run(self, script: str, *, stdin: str | None = None, timeout: float = 60):
        return sandbox_exec(
            container_id=self.container_id,
            command=["bash", "-c", script],
            user="learner",
            timeout=timeout,
            environment=GIT_ENV,
            workdir="/home/learner",
            stdin=None if stdin is None else stdin.encode(),
        )

    def ok(self, script: str, **options) -> str:
        result = self.run(script, **options)
        assert result.exit_code == 0, f"{script}\n{result.output}"
        return result.output.strip()

    def json(self, url: str) -> object:
        result = self.run(f"curl -s --max-time 2 {url}")
        try:
            return json.loads(result.output) if result.exit_code == 0 else None
        except ValueError:
            return None

    def status(self) -> dict:
        return self.json("http://reconciler:9100/status") or {}

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.json("http://reconciler:9100/events") or [] if e["kind"] == kind]

    def head(self) -> str:
        return self.ok("git -C ~/platform rev-parse HEAD")

    def synced_on(self, sha: str) -> dict:
        return wait_until(
            lambda: (s := self.status()).get("revision") == sha and s.get("synced") and s,
            timeout=60,
            what=f"the reconciler synced on {sha[:7]}",
        )


@pytest.fixture
def gitops_lab(lab_worker, lab_images, fault_relay):
    """A gitops-reconcile session, started as `manage.py lab start` starts one."""
    content_sync(root=settings.CONTENT_DIR)
    env = {**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "lab", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    started = manage("start", "gitops-reconcile", "--user", "gitops-sequences")
    assert started.returncode == 0, started.stdout + started.stderr
    session = started.stdout.strip().splitlines()[-1]
    try:
        containers = LabSession.objects.get(pk=int(session)).sandbox["containers"]
        yield Terminal(containers["toolbox"])
    finally:
        manage("stop", session)


def test_the_gitops_lab_recovers_from_any_sequence_of_pushes_by_git_alone(gitops_lab):
    lab = gitops_lab
    lab.ok("git clone -q git://git/platform.git ~/platform")
    seed = lab.head()
    lab.synced_on(seed)

    # Each kind of bad push: refused by the git server, the reason in the learner's terminal.
    for (text, reason), kind in zip(BAD_PUSHES, BAD_PUSH_IDS, strict=True):
        lab.ok("cat > ~/platform/apps/web.yaml", stdin=text)
        pushed = lab.run(f"cd ~/platform && git commit -qam '{kind}' && git push origin main")
        assert pushed.exit_code != 0, f"{kind}: {pushed.output}"
        why = [line for line in pushed.output.splitlines() if line.startswith("remote:   apps/")]
        assert why and reason in why[0], f"{kind}: {pushed.output}"
        assert "pre-receive hook declined" in pushed.output, pushed.output
        lab.ok("cd ~/platform && git reset -q --hard origin/main")
    assert lab.ok("git ls-remote git://git/platform.git refs/heads/main").split()[0] == seed
    status = lab.status()
    assert status["revision"] == seed and status["errors"] == [] and status["rejected"] == {}

    # running: false stops web; reverting that commit brings it back, by git alone.
    lab.ok("cat > ~/platform/apps/web.yaml", stdin=SEED_WEB.replace("true", "false", 1))
    lab.ok("cd ~/platform && git commit -qam 'web: stop' && git push -q origin main")
    stopped = lab.synced_on(lab.head())
    assert stopped["apps"]["web"]["observed"]["running"] is False
    assert lab.events("stopped")[-1]["app"] == "web"
    assert lab.run("curl -fs --max-time 1 http://web:8080/health").exit_code != 0
    lab.ok("cd ~/platform && git revert --no-edit HEAD && git push -q origin main")
    revert = lab.head()
    back = lab.synced_on(revert)
    assert back["apps"]["web"]["observed"]["running"] is True
    assert [e["revision"] for e in lab.events("started-app")] == [revert]
    web = json.loads(lab.ok("curl -fs http://web:8080/config"))
    assert web["message"] == "Deployed from git", "the started web got its declared config"

    # Deleting the app's file: web is no longer managed, left running, and /status says so.
    lab.ok("cd ~/platform && git rm -q apps/web.yaml && git commit -qm unmanage && git push -q")
    unmanaged = lab.synced_on(lab.head())
    assert unmanaged["apps"] == {}
    assert unmanaged["unmanaged"]["web"]["since"] == lab.head()
    assert lab.events("unmanaged")[-1]["app"] == "web"
    assert lab.ok("curl -fs http://web:8080/health")
    # Its file back: managed again.
    lab.ok("cd ~/platform && git revert --no-edit HEAD && git push -q origin main")
    managed = lab.synced_on(lab.head())
    assert managed["unmanaged"] == {} and managed["apps"]["web"]["synced"] is True
    assert lab.events("restored") == [], "nothing here was a restore after a failure"


def test_a_bad_revision_that_gets_in_anyway_is_reported_in_status(make_sandbox, lab_images):
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
            # The git server checks pushes to release: main, which the reconciler follows, is
            # open to anything, as if the reconciler were pointed at an unchecked branch.
            gitops("git", {"ROLE": "git-server", "SEED_APPS": "web", "BRANCH": "release"}),
            gitops("reconciler", {"ROLE": "reconciler", "APPS": "web", "FAULTS_URL": ""}),
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
    lab = Terminal(sandbox.containers["toolbox"])
    lab.ok("git clone -q git://git/platform.git ~/platform")
    good = lab.head()
    lab.synced_on(good)

    # The image's own hook (root's, in the git container) checks the branch it is told to.
    lab.ok("cat > ~/platform/apps/web.yaml", stdin=BAD_PUSHES[1][0])
    lab.ok("cd ~/platform && git commit -qam 'duplicate key'")
    refused = lab.run("cd ~/platform && git push origin HEAD:release")
    assert refused.exit_code != 0 and "appears twice" in refused.output, refused.output

    for text, reason in (BAD_PUSHES[1], BAD_PUSHES[6]):  # a duplicate key, no such container
        lab.ok("cat > ~/platform/apps/web.yaml", stdin=text)
        lab.ok("cd ~/platform && git commit -qam bad --allow-empty && git push -q origin main")
        bad = lab.head()
        status = wait_until(
            lambda bad=bad: (s := lab.status()).get("rejected", {}).get(bad) and s,
            timeout=30,
            what=f"{bad[:7]} rejected",
        )
        assert status["revision"] == good and status["head"] == bad
        assert status["synced"] is False and status["ready"] is False
        assert reason in status["errors"][0]["message"] and reason in status["rejected"][bad]
    # Fixed by a commit: applied, and the errors are gone.
    lab.ok("cat > ~/platform/apps/web.yaml", stdin=web_yaml(version="v5"))
    lab.ok("cd ~/platform && git commit -qam fix && git push -q origin main")
    fixed = lab.synced_on(lab.head())
    assert fixed["errors"] == []
    assert json.loads(lab.ok("curl -fs http://web:8080/config"))["version"] == "v5"
