"""`manage.py lab ...` as an operator runs it: a separate process, real exit codes."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from academy.courses.services import content_sync
from labs import runtime, services
from tests.conftest import database_env

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manage(lab_worker, lab_images, fault_relay):
    env = {**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "lab", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    content_sync(root=settings.CONTENT_DIR)
    return run


def test_list_start_exec_check_stop(manage):
    listing = manage("list")
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0].split("\t")[0] == "first-steady-state"

    started = manage("start", "first-steady-state", "--user", "cli-learner")
    assert started.returncode == 0, started.stderr
    session = started.stdout.strip().splitlines()[-1]
    assert session.isdigit()

    whoami = manage("exec", session, "--", "id", "-un")
    assert (whoami.returncode, whoami.stdout.strip()) == (0, "learner")
    assert manage("exec", session, "--", "sh", "-c", "exit 7").returncode == 7

    check = manage("check", session, "--language", "es")
    assert check.returncode == 1
    assert "~/health.json todavía no existe" in check.stdout

    manage("exec", session, "--", "sh", "-c", "curl -s http://api:8080/health > ~/health.json")
    check = manage("check", session, "--step", "1")
    assert (check.returncode, check.stdout.split(": ")[-1].strip()) == (0, "PASS")

    assert manage("stop", session).returncode == 0
    mine = {"academy.instance": services.lab_instance(), "academy.session": session}
    assert runtime.sandbox_list(labels=mine) == []


def test_selftest_of_a_lab(manage, fault_relay):
    """The command on one real lab; every lab's own self-test, step by step, runs in
    tests/labs/test_grading_isolation.py, among the files a hostile learner plants."""
    result = manage("selftest", "first-steady-state")

    relay_log = fault_relay.log_path.read_text()
    assert result.returncode == 0, result.stdout + result.stderr + "\nrelay:\n" + relay_log
    assert "before solve FAIL, after solve PASS" in result.stdout
    assert "1 lab(s) passed their self-test" in result.stdout
    mine = {"academy.instance": services.lab_instance(), "academy.user": "lab-selftest"}
    assert runtime.sandbox_list(labels=mine) == []


def test_selftest_fails_when_a_check_cannot_fail(manage, tmp_path):
    from tests.labs_tree import write_tiny_lab

    write_tiny_lab(tmp_path, check="exit 0\n")  # a check that passes before anything is done
    content_sync(root=tmp_path)

    result = manage("selftest", "tiny-lab")

    assert result.returncode != 0
    assert "check passed before solve" in result.stderr
