"""What a check and a start wait for, against the real engine: the verdict is stored with the
check over and does not wait for the journals; a sandbox's containers are made side by side, with
their root-only files in place before they start, and a failure anywhere leaves nothing behind."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models.signals import post_save

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import CheckResult, Lab, LabSession
from labs.runtime import ContainerSpec, RuntimeFailure, sandbox_create, sandbox_list
from tests.factories import UserFactory
from tests.labs.conftest import lab_specs, run, unique_labels
from tests.labs.test_services import wait_for
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.docker
State = LabSession.State


# --- A check: the verdict first, then the journals ------------------------------------------------


@pytest.fixture
def tiny_lab(tmp_path, lab_images) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


@pytest.mark.django_db(transaction=True)
def test_the_verdict_is_stored_with_the_check_over_and_the_journals_follow(lab_worker, tiny_lab):
    session = services.lab_session_start(user=UserFactory(), lab=tiny_lab)
    session = wait_for(session, State.READY)
    seen: list[tuple[str, object]] = []

    def at_commit(sender, instance, created, **kwargs):
        if created:  # what anyone reading the database sees once the verdict is there
            transaction.on_commit(
                lambda: seen.append(
                    LabSession.objects.values_list("state", "journals_collected_at").get(
                        pk=instance.session_id
                    )
                )
            )

    post_save.connect(at_commit, sender=CheckResult, dispatch_uid="test-verdict-commit")
    try:
        step = tiny_lab.steps.get()
        failed = services.lab_session_check(session=session, step=step)
        assert services.lab_session_solve(session=session, step=step).exit_code == 0
        passed = services.lab_session_check(session=session, step=step)
    finally:
        post_save.disconnect(sender=CheckResult, dispatch_uid="test-verdict-commit")
        services.lab_session_stop(session=session)

    assert (failed.passed, passed.passed) == (False, True)
    # Never a stored verdict beside a session still checking (the web's in-flight marker takes
    # a stored result for a check that is over), and the last step's verdict completes the lab
    # in the same commit.
    assert [state for state, _ in seen] == [State.READY, State.COMPLETED]
    # The journals were read after the verdict of the first check, before the second one.
    first_read, second_read = (read for _, read in seen)
    assert first_read is None and second_read is not None
    session.refresh_from_db()
    assert session.journals_collected_at > second_read


# --- A start: side by side, files in before the start, nothing left on failure -------------------


def test_files_are_in_place_before_the_container_starts(lab_images):
    labels = unique_labels()
    toolbox = ContainerSpec(
        name="toolbox",
        image=lab_images["toolbox"],
        user="root",
        # The main process reads the file the moment it starts.
        command=["sh", "-c", "cat /opt/lab/probe/hello.txt > /tmp/seen 2>&1; exec sleep 600"],
    )
    others = [spec for spec in lab_specs(lab_images) if spec.name != "toolbox"]
    sandbox = sandbox_create(
        labels=labels,
        containers=[toolbox, *others],
        files={"toolbox": {"/opt/lab": {"probe/hello.txt": b"hello from the platform\n"}}},
        side_by_side=True,
    )
    try:
        assert set(sandbox.containers) == {"toolbox", "target", "dependency"}
        assert run(sandbox, "cat /tmp/seen", user="root").output == "hello from the platform\n"
        modes = run(sandbox, "stat -c '%U %a' /opt/lab/probe /opt/lab/probe/hello.txt", user="root")
        assert modes.output.split("\n")[:2] == ["root 700", "root 700"]
        denied = run(sandbox, "cat /opt/lab/probe/hello.txt", user="learner")
        assert denied.exit_code != 0 and "from the platform" not in denied.output
        running = {
            resource.name.rsplit("-", 1)[-1]: resource.state
            for resource in sandbox_list(labels=labels)
            if resource.kind == "container"
        }
        assert running == {"toolbox": "running", "target": "running", "dependency": "running"}
    finally:
        runtime.sandbox_destroy(labels=labels)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        # A name that climbs out of the folder: refused in the container's own thread.
        ({"toolbox": {"/opt/lab": {"../../etc/profile.d/evil.sh": b"echo owned\n"}}}, ValueError),
        # A read-only folder the archive API cannot write to.
        ({"toolbox": {"/usr/local/bin": {"evil": b"echo owned\n"}}}, RuntimeFailure),
        # Files for a container the sandbox does not have: refused before anything is made.
        ({"nobody": {"/opt/lab": {"x": b"x"}}}, ValueError),
    ],
)
def test_files_that_cannot_go_in_leave_nothing_behind(lab_images, files, error):
    labels = unique_labels()
    with pytest.raises(error):
        sandbox_create(
            labels=labels, containers=lab_specs(lab_images), files=files, side_by_side=True
        )
    assert sandbox_list(labels=labels) == []


def test_a_container_that_cannot_be_made_leaves_nothing_behind(lab_images):
    labels = unique_labels()
    broken = ContainerSpec(name="broken", image="academy/no-such-image-for-tests:latest")
    with pytest.raises(RuntimeFailure):
        sandbox_create(
            labels=labels, containers=[*lab_specs(lab_images), broken], side_by_side=True
        )
    # The others were made (and maybe started) beside it: all gone, with their network.
    assert sandbox_list(labels=labels) == []
