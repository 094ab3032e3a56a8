"""Fixtures for tests against the real Docker engine (marked ``docker``).

With no engine, those tests fail with a message saying how to start one; setting
ACADEMY_SKIP_DOCKER_TESTS=1 skips them instead, on purpose and visibly.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from labs.images.build import build_lab_images
from labs.runtime import (
    ContainerSpec,
    Sandbox,
    Tmpfs,
    engine_ping,
    sandbox_create,
    sandbox_destroy,
    sandbox_exec,
)

SKIP_VARIABLE = "ACADEMY_SKIP_DOCKER_TESTS"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if engine_ping():
        return
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"no Docker engine, and {SKIP_VARIABLE}=1 asks to skip the Docker tests")
    pytest.fail(
        "No Docker engine answers (DOCKER_HOST, or /var/run/docker.sock). Start one with "
        "`sudo scripts/ensure-docker.sh`, or set ACADEMY_SKIP_DOCKER_TESTS=1 to skip the "
        "tests marked `docker` on purpose.",
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def _docker_marked_tests_need_the_engine(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("docker_engine")


@pytest.fixture(scope="session")
def lab_images(docker_engine) -> dict[str, str]:
    """Image references by name ("base", "toolbox", "target"), built once per test session."""

    def progress(line: str) -> None:
        print(f"[build_lab_images] {line}", file=sys.__stderr__, flush=True)

    return {result.name: result.reference for result in build_lab_images(progress=progress)}


def lab_specs(images: dict[str, str], *, toolbox_caps: Sequence[str] = ()) -> list[ContainerSpec]:
    """A learner's toolbox, a service and the service's dependency, with small limits."""
    return [
        ContainerSpec(
            name="toolbox",
            image=images["toolbox"],
            cap_add=toolbox_caps,
            memory=128,
            cpus=0.5,
            pids=64,
            tmpfs={
                "/tmp": Tmpfs(size=16),
                "/home/learner": Tmpfs(size=16, uid=1000, gid=1000, executable=True),
            },
        ),
        ContainerSpec(
            name="target",
            image=images["target"],
            env={"DEPENDENCY_URL": "http://dependency:8080/data", "DEPENDENCY_TIMEOUT": "1"},
            memory=64,
            pids=32,
            tmpfs={"/tmp": Tmpfs(size=8)},
        ),
        ContainerSpec(
            name="dependency",
            image=images["target"],
            env={"ROLE": "dependency"},
            memory=64,
            pids=32,
            tmpfs={"/tmp": Tmpfs(size=8)},
        ),
    ]


def unique_labels() -> dict[str, str]:
    expires = datetime.now(UTC) + timedelta(minutes=30)
    return {
        "academy.session": f"pytest-{uuid.uuid4().hex[:12]}",
        "academy.user": "pytest",
        "academy.lab": "runtime-tests",
        "academy.expires": expires.isoformat(timespec="seconds"),
    }


@pytest.fixture
def make_sandbox(lab_images) -> Iterator[Callable[..., Sandbox]]:
    """Create sandboxes with unique labels; every one is destroyed after the test."""
    created: list[dict[str, str]] = []

    def make(containers: list[ContainerSpec] | None = None) -> Sandbox:
        labels = unique_labels()
        created.append(labels)
        sandbox = sandbox_create(labels=labels, containers=containers or lab_specs(lab_images))
        wait_until_serving(sandbox)
        return sandbox

    yield make
    for labels in created:
        sandbox_destroy(labels=labels)


@pytest.fixture
def sandbox(make_sandbox) -> Sandbox:
    return make_sandbox()


def wait_until_serving(sandbox: Sandbox) -> None:
    """Wait until the HTTP services of the sandbox answer (they start in well under a second)."""
    if "toolbox" not in sandbox.containers:
        return
    for name in ("target", "dependency"):
        if name not in sandbox.containers:
            continue
        result = sandbox_exec(
            container_id=sandbox.containers["toolbox"],
            command=[
                "bash",
                "-c",
                f"for i in $(seq 100); do curl -fsS http://{name}:8080/health && exit 0;"
                " sleep 0.1; done; exit 1",
            ],
            user="learner",
            timeout=30,
        )
        assert result.exit_code == 0, f"{name} never answered: {result.output}"


def run(
    sandbox: Sandbox,
    script: str,
    *,
    container: str = "toolbox",
    user: str | None = None,
    timeout: float = 20,
    **kwargs,
):
    """Run a bash script in a container of the sandbox, as its image's user by default."""
    return sandbox_exec(
        container_id=sandbox.containers[container],
        command=["bash", "-c", script],
        user=user or ("learner" if container == "toolbox" else "app"),
        timeout=timeout,
        **kwargs,
    )
