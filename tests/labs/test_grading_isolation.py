"""Grading never runs what the learner controls with more rights than the learner.

For every lab of content/labs, a session where the learner has planted everything a check run as
root could pick up: Python modules in the home and in the user site, start-up files, git hooks,
git configuration (global, "system" in /tmp, and in each clone, down to a promisor remote that
git would fetch from through a proxy command), attributes naming filter and diff drivers. Each
planted program leaves a file behind when it runs. Every check of every step runs before and
after its solve (the lab's self-test: it must fail, then pass) and once more among the planted
clones; none of the planted programs may run during a check, as root or at all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import Lab, LabSession
from tests.factories import UserFactory

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State

CONTENT_LABS = Path(__file__).resolve().parents[2] / "content" / "labs"
LABS = sorted(path.parent.name for path in CONTENT_LABS.glob("*/lab.yaml"))
MARKS = "/tmp/pwned"
EVIL = "/home/learner/.evil"
MISSING_COMMIT = "0123456789abcdef0123456789abcdef01234567"

# Each planted program writes MARKS/<name>.<uid>.<pid> when it runs.
_COMMON = rf"""
set -u
E={EVIL}
mark='echo "$(id -u)" > "{MARKS}/$(basename "$0").$(id -u).$$"'
"""

PLANT_HOME = (
    _COMMON
    + r"""
mkdir -p "$E/hooks" ~/bin ~/.local/bin ~/.local/lib/python3.11/site-packages
program() { printf '#!/bin/sh\n%s\n%s\n' "$mark" "$2" > "$E/$1"; chmod 0755 "$E/$1"; }
program fsmonitor 'exit 1'
for role in pager textconv clean smudge; do program "$role" 'exec cat "$@"'; done
for role in editor extdiff alias alternaterefs; do program "$role" 'exit 0'; done
for role in ssh askpass credential gitproxy gpg uploadpack packhook bashenv; do
    program "$role" 'exit 1'
done
for hook in applypatch-msg pre-applypatch post-applypatch pre-commit pre-merge-commit \
        prepare-commit-msg commit-msg post-commit pre-rebase post-checkout post-merge pre-push \
        pre-receive update proc-receive post-receive post-update reference-transaction \
        push-to-checkout pre-auto-gc post-rewrite sendemail-validate fsmonitor-watchman \
        p4-changelist p4-prepare-changelist p4-post-changelist p4-pre-submit \
        post-index-change; do
    printf '#!/bin/sh\n%s\ncat >/dev/null 2>&1\nexit 0\n' "$mark" > "$E/hooks/$hook"
    chmod 0755 "$E/hooks/$hook"
done
for tool in git python3 jq curl; do
    for dir in ~/bin ~/.local/bin; do
        printf '#!/bin/sh\n%s\nexec /usr/bin/%s "$@"\n' "$mark" "$tool" > "$dir/$tool"
        chmod 0755 "$dir/$tool"
    done
done

# Modules that record who imported them, then hand over to the real module (so that the
# learner's own python3 keeps working).
cat > "$E/module.py" <<'PY'
import importlib.machinery, importlib.util, os, sys
open("/tmp/pwned/py-%s.%d.%d" % (__name__, os.getuid(), os.getpid()), "w").write("x")
_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    __name__, [p for p in sys.path if os.path.abspath(p or ".") != _here]
)
if _spec is not None and __name__ not in ("sitecustomize", "usercustomize"):
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[__name__] = _module
    _spec.loader.exec_module(_module)
PY
for dir in ~ ~/.local/lib/python3.11/site-packages; do
    for module in labcheck evidence journal json yaml subprocess tempfile shutil \
            sitecustomize usercustomize; do
        cp "$E/module.py" "$dir/$module.py"
    done
done
cp "$E/module.py" ~/.pythonrc.py
for rc in ~/.bashrc ~/.profile; do
    echo "export PYTHONSTARTUP=\$HOME/.pythonrc.py PYTHONPATH=\$HOME BASH_ENV=$E/bashenv" >> "$rc"
done

cat > "$E/git-config" <<EOF
[core]
	hooksPath = $E/hooks
	fsmonitor = $E/fsmonitor
	pager = $E/pager
	editor = $E/editor
	sshCommand = $E/ssh
	askPass = $E/askpass
	attributesFile = $E/attributes
	alternateRefsCommand = $E/alternaterefs
[sequence]
	editor = $E/editor
[alias]
	st = !$E/alias
	lg = !$E/alias
[diff]
	external = $E/extdiff
[diff "evil"]
	textconv = $E/textconv
[filter "evil"]
	clean = $E/clean
	smudge = $E/smudge
[credential]
	helper = $E/credential
[gpg]
	program = $E/gpg
[uploadpack]
	packObjectsHook = $E/packhook
[safe]
	directory = *
EOF
cp "$E/git-config" ~/.gitconfig
cp "$E/git-config" /tmp/evil-git-config  # for root, below
printf '* diff=evil filter=evil\n' > "$E/attributes"
echo planted
"""
)

# After the solves: in each clone of the learner's, hooks, configuration (a promisor remote
# fetched through core.gitProxy when an object is missing) and attributes; a status naming a
# commit that is nowhere, so that a check looks it up.
PLANT_CLONES = (
    _COMMON
    + rf"""
for g in $(find ~ -maxdepth 3 -name .git -type d); do
    w="$(dirname "$g")"
    git config --file "$E/git-config" --list --name-only | sort -u | while read -r key; do
        value="$(git config --file "$E/git-config" --get "$key")"
        git config --file "$g/config" --replace-all "$key" "$value"
    done
    git config --file "$g/config" core.gitProxy "$E/gitproxy"
    git config --file "$g/config" core.repositoryformatversion 1
    git config --file "$g/config" extensions.partialClone evil
    git config --file "$g/config" remote.evil.url git://evil.invalid/x
    git config --file "$g/config" remote.evil.promisor true
    git config --file "$g/config" remote.evil.uploadpack "$E/uploadpack"
    git config --file "$g/config" remote.origin.uploadpack "$E/uploadpack"
    cp "$E"/hooks/* "$g/hooks/"
    mkdir -p "$g/info"
    printf '* diff=evil filter=evil\n' > "$g/info/attributes"
    printf '* diff=evil filter=evil\n' > "$w/.gitattributes"
    echo "clone $w"
done
if [ -e ~/status.json ]; then
    printf '{{"revision": "{MISSING_COMMIT}", "synced": true}}\n' > ~/status.json
fi
"""
)

# What the learner's own git now does in a planted clone: proves the plants are live.
EXERCISE_CLONE = f"""
cd "$1" && git status >/dev/null 2>&1; git cat-file -e "{MISSING_COMMIT}^{{commit}}" 2>/dev/null
true
"""

# Written as root (a stand-in for a system configuration the learner could write).
PLANT_SYSTEM_CONFIG = "cat /tmp/evil-git-config >> /tmp/gitconfig"

# Everything a check runs or reads must be root's and writable by root alone.
NOT_ROOTS = (
    "find /opt/lab /usr/local/bin /usr/local/lib/academy /usr/local/lib/python3.11/dist-packages "
    "/usr/bin/git /usr/bin/jq /usr/bin/curl /usr/bin/bash /usr/bin/env /usr/lib/git-core "
    "/usr/lib/python3.11 /usr/lib/python3/dist-packages -xdev ! -type l "
    r"\( ! -user root -o -perm -o+w -o \( -perm -g+w ! -group root \) \) -print"
)


def _exec(session: LabSession, script: str, *, user: str = "learner", args=()) -> str:
    result = runtime.sandbox_exec(
        container_id=session.sandbox["containers"][session.lab.shell_container],
        command=["bash", "-c", script, "plant", *args],
        user=user,
        timeout=60,
        workdir="/home/learner" if user == "learner" else "/",
    )
    assert result.exit_code == 0, result.output
    return result.output


def _marks(session: LabSession) -> list[str]:
    """The programs that ran since the last look, and forget them."""
    listing = _exec(session, f"ls -A {MARKS}; find {MARKS} -mindepth 1 -delete")
    return sorted(listing.split())


def _wait_ready(session: LabSession, timeout: float = 300) -> LabSession:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state in (State.READY, State.COMPLETED):
            return session
        assert session.is_live, f"session {session.state}: {session.error}"
        time.sleep(0.5)
    raise AssertionError(f"session {session.pk} is still {session.state}")


@pytest.fixture
def synced_labs(lab_images, lab_worker, fault_relay):
    content_sync(root=settings.CONTENT_DIR)


@pytest.mark.parametrize("slug", LABS)
def test_no_check_runs_what_the_learner_planted(synced_labs, slug):
    lab = Lab.objects.get(key=slug)
    steps = list(lab.steps.order_by("number"))
    session = _wait_ready(services.lab_session_start(user=UserFactory(), lab=lab))
    during_checks: dict[str, list[str]] = {}
    try:
        _exec(session, f"mkdir -p {MARKS} && chmod 0777 {MARKS}")
        assert "planted" in _exec(session, PLANT_HOME)
        # The plants work: the learner's own python3 in their home imports the planted module.
        _exec(session, "python3 -c 'import labcheck'")
        assert any(mark.startswith("py-labcheck.1000.") for mark in _marks(session))

        def checked(phase: str, step) -> bool:
            result = services.lab_session_check(session=session, step=step)
            if marks := _marks(session):
                during_checks[f"{phase} {step.key}"] = marks
            return result.passed

        def check_all(phase: str) -> None:
            for step in steps:
                checked(phase, step)

        # The lab's self-test, step by step, among the planted files: each check fails before
        # its solve and passes after it (so this is also every lab's proof that it works).
        for step in steps:
            assert not checked("before its solve", step), f"{step.key} passed before its solve"
            solved = services.lab_session_solve(session=session, step=step)
            _marks(session)  # the learner's own tools ran the plants as the learner: fine
            assert checked("after its solve", step), (
                f"{step.key} failed after its solve:\n" + (solved.output[-3000:])
            )

        clones = [
            line.split(" ", 1)[1]
            for line in _exec(session, PLANT_CLONES).splitlines()
            if line.startswith("clone ")
        ]
        if any("git clone" in step.solve_script for step in steps):
            assert clones, "the solves made no clone to plant in"
        for clone in clones:
            _exec(session, EXERCISE_CLONE, args=[clone])
            seen = _marks(session)
            assert any(mark.startswith("gitproxy.1000.") for mark in seen), seen
            assert any(mark.startswith("fsmonitor.1000.") for mark in seen), seen
        _exec(session, PLANT_SYSTEM_CONFIG, user="root")
        check_all("after solves, among planted clones")

        not_roots = _exec(session, NOT_ROOTS, user="root")
        learner_reads_scripts = runtime.sandbox_exec(
            container_id=session.sandbox["containers"][lab.shell_container],
            command=["ls", "/opt/lab"],
            user="learner",
            timeout=10,
        )
    finally:
        services.lab_session_stop(session=session)

    as_root = {
        check: marks
        for check, marks in during_checks.items()
        if any(mark.rsplit(".", 2)[1] == "0" for mark in marks)
    }
    assert as_root == {}, f"planted programs ran as root: {as_root}"
    assert during_checks == {}, f"planted programs ran during checks: {during_checks}"
    assert not_roots.split() == [], f"not root's, or writable by others: {not_roots}"
    assert learner_reads_scripts.exit_code != 0


def test_a_check_runs_as_root_in_slash_with_its_own_variables_only(lab_worker, tmp_path):
    from tests.labs_tree import write_tiny_lab

    write_tiny_lab(tmp_path, check='id -u; pwd; env; echo "FAIL: missing"; exit 1\n')
    content_sync(root=tmp_path)
    lab = Lab.objects.get(key="tiny-lab")
    session = _wait_ready(services.lab_session_start(user=UserFactory(), lab=lab))
    try:
        result = services.lab_session_check(session=session, step=lab.steps.get(), language="es")
    finally:
        services.lab_session_stop(session=session)

    uid, folder, *variables = result.output.splitlines()
    names = {line.split("=", 1)[0] for line in variables if "=" in line}
    assert (uid, folder) == ("0", "/")
    # bash adds PWD, SHLVL and _; the container's own (HOSTNAME, the image's PATH, ...) are gone.
    assert names <= {"PATH", "LAB_LANGUAGE", "HOME", "LANG", "PWD", "SHLVL", "_"}
    assert "LAB_LANGUAGE=es" in variables and "HOME=/root" in variables
    assert "/opt/chaostoolkit" not in result.output


# A learner's repository whose configuration runs a program whenever git looks up a missing
# object (a promisor remote fetched through core.gitProxy) or reads the index (core.fsmonitor).
HOSTILE_CLONE = r"""
set -e
mkdir -p /tmp/pwned && chmod 0777 /tmp/pwned
printf '#!/bin/sh\necho $(id -u) > /tmp/pwned/$(basename $0).$(id -u)\nexit 1\n' > ~/evil
chmod 0755 ~/evil
git init -q -b main ~/repo && cd ~/repo
git -c user.name=L -c user.email=l@x commit -q --allow-empty -m one
git -c user.name=L -c user.email=l@x commit -q --allow-empty -m two
git config remote.origin.url git://git/platform.git
git config core.fsmonitor ~/evil
git config core.hooksPath ~
git config core.repositoryformatversion 1
git config extensions.partialClone evil
git config remote.evil.url git://evil.invalid/x
git config remote.evil.promisor true
git config core.gitProxy ~/evil
git rev-parse HEAD
"""


def test_safegit_reads_a_copy_of_a_learner_clone_and_runs_nothing_of_it(make_sandbox):
    sandbox = make_sandbox()
    toolbox = sandbox.containers["toolbox"]

    def run(script: str, user: str) -> runtime.ExecResult:
        return runtime.sandbox_exec(
            container_id=toolbox,
            command=["bash", "-c", script],
            user=user,
            timeout=60,
            workdir="/",
        )

    made = run(HOSTILE_CLONE, "learner")
    assert made.exit_code == 0, made.output
    head = made.output.split()[-1]

    refused = run("safegit --git-dir /home/learner/repo/.git log", "root")
    copied = run(
        'c="$(mktemp -d)/c.git"; safegit copy-clone /home/learner/repo "$c" || exit 9; '
        'safegit --git-dir "$c" rev-parse main; safegit --git-dir "$c" config remote.origin.url; '
        f'safegit --git-dir "$c" cat-file -e {MISSING_COMMIT}^{{commit}} 2>/dev/null && echo y; '
        "/usr/bin/python3 -I -c 'from labcheck import Repository as R; "
        'print(R.learner_clone("/home/learner/repo").git("rev-list", "--count", "main"))\'; '
        "ls -A /tmp/pwned",
        "root",
    )
    # The learner's own git, in the same repository, does run the program: the plant is live.
    live = run(f"cd ~/repo; git cat-file -e {MISSING_COMMIT}; ls -A /tmp/pwned", "learner")

    assert refused.exit_code == 2, refused.output
    assert "copy a learner's clone first" in refused.output
    assert copied.exit_code == 0, copied.output
    assert copied.output.split() == [head, "git://git/platform.git", "2"], copied.output
    assert "evil.1000" in live.output, live.output
