"""The git server of the GitOps labs: the state store the reconciler pulls from.

Standard library only. At start it creates the bare repository GIT_ROOT/<REPO_NAME>.git (the
root filesystem is read-only: GIT_ROOT lives on /tmp) with one commit, the seed: SEED_DIR's
README.md plus apps/<name>.yaml for each name of SEED_APPS, authored by "Platform Team" at a fixed
date, so that every start makes the very same commit (same sha). Then it runs ``git daemon``
with push enabled. The repository lives in memory: a restarted container starts from the seed
again, and a learner's clone, whose history still begins with that commit, can push it back.

History is kept: the repository refuses pushes that are not fast-forwards and branch deletions
(versioned and immutable); a mistake is undone with a new commit, such as a ``git revert``.

A push is also refused when the new head of BRANCH (the deployed branch) does not declare a valid
desired state: YAML errors, a key written twice, unknown keys, wrong types, an app naming no
container of the lab. The pre-receive hook in HOOKS_DIR (hooks/pre-receive, owned by root in the
image) checks it with the reconciler's own rules (declared.py) and prints the reason, which git
shows in the learner's terminal as ``remote: ...`` lines.

Settings (environment): GIT_ROOT (/tmp/git), REPO_NAME (platform), SEED_DIR (/opt/gitops/seed),
SEED_APPS (web), APPS (the lab's app containers; default SEED_APPS), BRANCH (main), HOOKS_DIR
(the hooks folder beside this file), GIT_LISTEN (0.0.0.0), GIT_PORT (9418).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED_AUTHOR = ("Platform Team", "platform@academy.lab")
SEED_DATE = "2025-01-06T09:00:00+00:00"
SEED_MESSAGE = "Declare the desired state of the platform"
HOOKS_DIR = Path(__file__).resolve().parent / "hooks"


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stderr.write(f"{stamp} git-server {message}\n")
    sys.stderr.flush()


def git(*args: str, cwd: Path | None = None, env: dict | None = None) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        # No system or user configuration: the seed commit must come out the same everywhere.
        env={
            **os.environ,
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
    )


def seed_files(seed_dir: Path, apps: list[str]) -> dict[str, bytes]:
    """The seed commit's files: the README and one declaration per app."""
    files = {"README.md": (seed_dir / "README.md").read_bytes()}
    for name in apps:
        path = seed_dir / "apps" / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in (seed_dir / "apps").glob("*.yaml"))
            raise SystemExit(f"SEED_APPS names {name!r}, which has no seed; known: {known}")
        files[f"apps/{name}.yaml"] = path.read_bytes()
    return files


def create_repository(
    *, root: Path, name: str, files: dict[str, bytes], hooks: Path | None = None
) -> Path:
    """A fresh bare repository whose main branch holds one commit with these files; pushes to
    it then run the hooks of the folder hooks, if given."""
    repo = root / f"{name}.git"
    shutil.rmtree(repo, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", "--initial-branch=main", str(repo))
    for key, value in (
        ("receive.denyNonFastForwards", "true"),
        ("receive.denyDeletes", "true"),
        ("gc.auto", "0"),  # no background gc forked by pushes in a small container
    ):
        git("--git-dir", str(repo), "config", key, value)
    author, email = SEED_AUTHOR
    identity = {
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": SEED_DATE,
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": SEED_DATE,
    }
    with tempfile.TemporaryDirectory(dir=root, prefix="seed-") as work:
        work_tree = Path(work)
        for relative, content in files.items():
            path = work_tree / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        git("init", "--quiet", "--initial-branch=main", cwd=work_tree)
        git("add", "--all", cwd=work_tree)
        git("commit", "--quiet", "--message", SEED_MESSAGE, cwd=work_tree, env=identity)
        git("push", "--quiet", str(repo), "main", cwd=work_tree)
    if hooks is not None:  # after the seed: the hooks are for what others push
        git("--git-dir", str(repo), "config", "core.hooksPath", str(hooks))
    return repo


def main() -> None:
    root = Path(os.environ.get("GIT_ROOT", "/tmp/git"))
    name = os.environ.get("REPO_NAME", "platform")
    seed_dir = Path(os.environ.get("SEED_DIR", "/opt/gitops/seed"))
    apps = [a.strip() for a in os.environ.get("SEED_APPS", "web").split(",") if a.strip()]
    listen = os.environ.get("GIT_LISTEN", "0.0.0.0")
    port = os.environ.get("GIT_PORT", "9418")
    hooks = Path(os.environ.get("HOOKS_DIR", "").strip() or HOOKS_DIR)
    repo = create_repository(root=root, name=name, files=seed_files(seed_dir, apps), hooks=hooks)
    log(f"seeded {repo} with {', '.join(apps) or 'no apps'}; serving git://{listen}:{port}/")
    log(f"pushes to {os.environ.get('BRANCH', 'main')} are checked by {hooks}/pre-receive")
    # The daemon itself, not `git daemon`, which would wait for it as a child: this way it is
    # the process that gets the container's signals. It starts its helpers (git-daemon --serve,
    # git-upload-pack) from PATH, as the `git` wrapper would have arranged.
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    os.environ["PATH"] = f"{exec_path}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    os.environ["GIT_EXEC_PATH"] = exec_path
    os.execv(
        f"{exec_path}/git-daemon",
        [
            "git-daemon",
            "--reuseaddr",
            "--verbose",
            "--informative-errors",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={root}",
            f"--listen={listen}",
            f"--port={port}",
            "--init-timeout=10",
            "--timeout=60",
            "--max-connections=16",
            str(root),
        ],
    )


if __name__ == "__main__":
    main()
