"""The engine's floor: a lab's sandbox made with the Docker SDK alone, as baseline.

The same containers as the academy's (images, limits, capabilities, tmpfs, read-only root, the
/opt/lab volume) on an internal network of their own, the faults sidecar waited for when the lab
has one, and the lab's setup script put in place and run as root: what provisioning does, with
no database, queue, worker or state machine. Everything is labelled with the run's label, so
``raw_cleanup`` removes it all. Import it after django.setup(): the lab's containers and scripts
come from labs.services, as the academy's do.
"""

from __future__ import annotations

import io
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import docker
from docker.types import Mount

from labs.content import FAULTS_CONTAINER
from labs.models import Lab
from labs.services import container_specs
from labs.services.provisioning import _LISTENING, SAFE_PATH, SCRIPTS_DIR


@dataclass(frozen=True)
class RawSandbox:
    containers: dict[str, docker.models.containers.Container]
    seconds: float  # from nothing until the setup has run


def raw_sandbox(
    engine: docker.DockerClient,
    *,
    lab: Lab,
    label: str,
    run_id: str,
    number: int,
    side_by_side: bool = False,
) -> RawSandbox:
    """Network, containers, the faults sidecar listening (when the lab has one), the setup
    script in place and run as root. The containers run one after another, the plain way; with
    ``side_by_side`` each in a thread of its own, as the academy's runtime starts them."""
    labels = {label: run_id}
    prefix = f"{label.replace('.', '-')}-{run_id}-{number}"
    started = time.perf_counter()
    network = engine.networks.create(prefix, driver="bridge", internal=True, labels=labels)
    specs = container_specs(lab)
    run = partial(_raw_container, engine, prefix=prefix, labels=labels, network=network.name)
    if side_by_side:
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            made = list(pool.map(run, specs))
    else:
        made = [run(spec) for spec in specs]
    containers = {spec.name: container for spec, container in zip(specs, made, strict=True)}
    if lab.faults_enabled:
        containers[FAULTS_CONTAINER].exec_run(["python3", "-c", _LISTENING], user="faultd")
    shell = containers[lab.shell_container]
    if lab.setup_script:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            data = lab.setup_script.encode()
            info = tarfile.TarInfo("setup.sh")
            info.size, info.mode = len(data), 0o700
            tar.addfile(info, io.BytesIO(data))
        shell.put_archive(SCRIPTS_DIR, archive.getvalue())
        result = shell.exec_run(
            ["/bin/bash", f"{SCRIPTS_DIR}/setup.sh"],
            user="root",
            environment={"PATH": SAFE_PATH, "HOME": "/root", "LANG": "C.UTF-8"},
            workdir="/",
        )
        if result.exit_code != 0:
            raise SystemExit(f"raw setup failed: {result.output[-500:]!r}")
    return RawSandbox(containers=containers, seconds=time.perf_counter() - started)


def _raw_container(
    engine: docker.DockerClient, spec, *, prefix: str, labels: dict, network: str
) -> docker.models.containers.Container:
    return engine.containers.run(
        spec.image,
        command=list(spec.command) if spec.command is not None else None,
        detach=True,
        name=f"{prefix}-{spec.name}",
        hostname=spec.name,
        user=spec.user,
        environment=dict(spec.env),
        labels=labels,
        network=network,
        cap_drop=["ALL"],
        cap_add=list(spec.cap_add) or None,
        security_opt=["no-new-privileges"],
        init=True,
        read_only=True,
        tmpfs={path: tmpfs.options() for path, tmpfs in spec.tmpfs.items()},
        mounts=[
            Mount(target=path, source=None, type="volume", labels=labels)
            for path in spec.private_dirs
        ],
        mem_limit=f"{spec.memory}m",
        memswap_limit=f"{spec.memory}m",
        nano_cpus=int(spec.cpus * 1e9),
        pids_limit=spec.pids,
        stdin_open=spec.stdin_open,
    )


def raw_cleanup(engine: docker.DockerClient, *, label: str, run_id: str) -> None:
    """Removes every container, network and volume of this run."""
    filters = {"label": f"{label}={run_id}"}
    for container in engine.containers.list(all=True, filters=filters):
        container.remove(force=True, v=True)
    for network in engine.networks.list(filters=filters):
        network.remove()
    for volume in engine.volumes.list(filters=filters):
        volume.remove(force=True)
