"""Sandboxes: one internal network per session and its containers, all labelled.

Isolation comes in layers, so that no single mistake opens a lab to the world:

* The network is ``internal``: Docker drops, in DOCKER-ISOLATION-STAGE-1, whatever enters or
  leaves the bridge for another subnet, and only the sandbox's own names resolve.
* ``inhibit_ipv4`` leaves the host side of the bridge without an IPv4 address. Docker 20.10
  still gives containers a default route via the network's gateway address, but nobody holds
  that address: nothing is routed, and the host's services are not reachable through it.
* Containers have IPv6 switched off, so they get no link-local path to the host either.
* Bridges are named ``acad-<hex>``: scripts/ensure-docker.sh adds host firewall rules for
  ``acad+`` (INPUT and DOCKER-USER) that reject what a lab with NET_ADMIN could still route.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Literal

import docker.errors
from docker.types import LogConfig, Mount

from labs.runtime.engine import (
    SANDBOX_LABEL,
    RuntimeFailure,
    check_labels,
    client,
    engine_errors,
    label_filters,
)
from labs.runtime.execution import sandbox_put_files

BRIDGE_PREFIX = "acad-"
CONTAINER_LABEL = "academy.container"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_CAPABILITY = re.compile(r"^[A-Z_]+$")
# Capabilities that reach past the container (mounts, modules, raw devices, the kernel's
# clock and logs, eBPF, open_by_handle_at): no lab gets them, whatever it declares.
FORBIDDEN_CAPABILITIES = frozenset(
    {
        "ALL",
        "SYS_ADMIN",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_BOOT",
        "SYS_TIME",
        "SYSLOG",
        "DAC_READ_SEARCH",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "BPF",
        "PERFMON",
    }
)


@dataclass(frozen=True)
class Tmpfs:
    """A size-limited writable folder in memory (charged to the container's memory limit)."""

    size: int  # MiB
    uid: int | None = None  # owner of the folder; None: root
    gid: int | None = None
    executable: bool = False  # Docker mounts tmpfs noexec unless asked

    def options(self) -> str:
        parts = [f"size={self.size}m"]
        parts += [f"uid={self.uid}"] if self.uid is not None else []
        parts += [f"gid={self.gid}"] if self.gid is not None else []
        parts += ["exec"] if self.executable else []
        return ",".join(parts)


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a sandbox. ``name`` is also its hostname and DNS name on the network."""

    name: str
    image: str
    command: Sequence[str] | None = None
    user: str | None = None  # None: the image's default user
    cap_add: Sequence[str] = ()  # added to an empty set: every container drops ALL first
    env: Mapping[str, str] = field(default_factory=dict)
    memory: int = 256  # MiB, swap included (no swap)
    cpus: float = 0.5
    pids: int = 128
    # Everything else is read-only. A folder's mode is the image's (/tmp is 1777 in ours).
    tmpfs: Mapping[str, Tmpfs] = field(default_factory=lambda: {"/tmp": Tmpfs(size=64)})
    # Root-only folders kept as volumes: the archive API cannot write to a read-only root
    # filesystem or to a tmpfs, but it can write to a volume. The learner cannot write there.
    private_dirs: Sequence[str] = ("/opt/lab",)
    workdir: str | None = None
    hostname: str | None = None
    # Keep stdin open, so that the platform can talk to the process (see container_attach).
    stdin_open: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"Container name {self.name!r} must be a DNS label (a-z, 0-9, -).")
        for capability in self.cap_add:
            if not _CAPABILITY.match(capability) or capability in FORBIDDEN_CAPABILITIES:
                raise ValueError(f"Capability {capability!r} cannot be granted to a lab.")
        if self.memory < 16 or self.cpus <= 0 or self.pids < 8:
            raise ValueError("memory (MiB) must be >= 16, cpus > 0 and pids >= 8.")
        for path, tmpfs in self.tmpfs.items():
            if not path.startswith("/") or tmpfs.size < 1:
                raise ValueError(f"tmpfs {path!r} needs an absolute path and a size in MiB.")


@dataclass(frozen=True)
class Sandbox:
    """What the database keeps of a sandbox: plain strings, see ``as_dict`` / ``from_dict``."""

    sandbox_id: str
    network_id: str
    containers: dict[str, str]  # spec name -> container id
    labels: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sandbox:
        return cls(
            sandbox_id=data["sandbox_id"],
            network_id=data["network_id"],
            containers=dict(data["containers"]),
            labels=dict(data["labels"]),
        )


@dataclass(frozen=True)
class LabelledResource:
    kind: Literal["container", "network", "volume"]
    id: str
    name: str
    labels: dict[str, str]
    state: str  # a container's state ("running", "exited", ...); "" for networks and volumes


def sandbox_create(
    *,
    labels: Mapping[str, str],
    containers: Sequence[ContainerSpec],
    files: Mapping[str, Mapping[str, Mapping[str, bytes]]] | None = None,
    side_by_side: bool = False,
) -> Sandbox:
    """Create the network and start every container; on any failure nothing is left behind.

    ``files`` ({container name: {folder: {relative name: content}}}) are copied in as
    ``sandbox_put_files`` copies them (root's, mode 0700), before the container starts: its
    main process never runs without them. Each container is created, given its files and
    started in turn; with ``side_by_side``, each in a thread of its own, all at once: a start
    is mostly the engine waiting (the network endpoint, the mounts, runc), so the sandbox is up
    in about the time of its slowest container. Side by side, no container has had a head
    start when the call returns: the caller waits until the services it needs answer (every
    lab's setup script does).
    """
    labels = check_labels(labels, required=True)
    if not containers:
        raise ValueError("A sandbox needs at least one container.")
    names = [spec.name for spec in containers]
    if len(set(names)) != len(names):
        raise ValueError(f"Container names must be unique in a sandbox: {names}.")
    files = files or {}
    if set(files) - set(names):
        raise ValueError(f"Files for containers the sandbox does not have: {sorted(files)}.")
    sandbox_id = f"{BRIDGE_PREFIX}{secrets.token_hex(5)}"  # also the bridge name: 15 chars max
    labels = {**labels, SANDBOX_LABEL: sandbox_id}
    api = client().api
    try:
        with engine_errors():
            network_id = api.create_network(
                sandbox_id,
                driver="bridge",
                internal=True,
                enable_ipv6=False,
                labels=labels,
                options={
                    "com.docker.network.bridge.name": sandbox_id,
                    "com.docker.network.bridge.inhibit_ipv4": "true",
                    "com.docker.network.bridge.enable_icc": "true",
                },
            )["Id"]
            up = partial(_container_up, sandbox_id=sandbox_id, labels=labels)
            if side_by_side:
                with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                    started = {
                        spec.name: pool.submit(up, spec=spec, files=files.get(spec.name, {}))
                        for spec in containers
                    }
                ids = {name: future.result() for name, future in started.items()}
            else:
                ids = {
                    spec.name: up(spec=spec, files=files.get(spec.name, {})) for spec in containers
                }
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one worth reporting
            sandbox_destroy(labels={SANDBOX_LABEL: sandbox_id})
        raise
    return Sandbox(sandbox_id=sandbox_id, network_id=network_id, containers=ids, labels=labels)


def _container_up(
    *,
    spec: ContainerSpec,
    sandbox_id: str,
    labels: dict[str, str],
    files: Mapping[str, Mapping[str, bytes]],
) -> str:
    """One container of a sandbox created, given its files and started; returns its id."""
    container_id = _container_create(spec=spec, sandbox_id=sandbox_id, labels=labels)
    for folder, content in files.items():
        sandbox_put_files(container_id=container_id, path=folder, files=content)
    client().api.start(container_id)
    return container_id


def _container_create(*, spec: ContainerSpec, sandbox_id: str, labels: dict[str, str]) -> str:
    api = client().api
    host_config = api.create_host_config(
        network_mode=sandbox_id,
        cap_drop=["ALL"],
        cap_add=list(spec.cap_add) or None,
        security_opt=["no-new-privileges"],
        privileged=False,
        init=True,
        read_only=True,
        tmpfs={path: tmpfs.options() for path, tmpfs in spec.tmpfs.items()},
        mounts=[
            # A plain volume: one with mount options (tmpfs, a size) keeps a mount count that an
            # engine restarted with live restore gets wrong, and then refuses to remove it.
            # Only root writes here (the platform's scripts); the learner cannot.
            Mount(target=path, source=None, type="volume", labels=labels)
            for path in spec.private_dirs
        ],
        mem_limit=f"{spec.memory}m",
        memswap_limit=f"{spec.memory}m",
        nano_cpus=int(spec.cpus * 1e9),
        pids_limit=spec.pids,
        # Only sandbox names resolve; an outside name fails in about 2 s instead of 20.
        dns_opt=["timeout:1", "attempts:2"],
        shm_size="16m",
        ipc_mode="private",
        sysctls={
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        },
        # A learner's loop that prints forever must not fill the host's disk.
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"}),
        restart_policy={"Name": "no"},
    )
    networking = api.create_networking_config(
        # types-docker says one EndpointConfig; docker-py takes {network: EndpointConfig}.
        {sandbox_id: api.create_endpoint_config(aliases=[spec.name])}  # type: ignore[arg-type]
    )
    created = api.create_container(
        image=spec.image,
        command=list(spec.command) if spec.command is not None else None,
        name=f"{sandbox_id}-{spec.name}",
        hostname=spec.hostname or spec.name,
        user=spec.user,
        environment=dict(spec.env),
        working_dir=spec.workdir,
        stdin_open=spec.stdin_open,
        labels={**labels, CONTAINER_LABEL: spec.name},
        host_config=host_config,
        networking_config=networking,
    )
    return str(created["Id"])


def sandbox_list(*, labels: Mapping[str, str] | None = None) -> list[LabelledResource]:
    """Containers, networks and volumes carrying all these labels (no labels: every sandbox's)."""
    filters = label_filters(check_labels(labels or {}, required=False))
    api = client().api
    found: list[LabelledResource] = []
    with engine_errors():
        for row in api.containers(all=True, filters=filters):
            found.append(
                LabelledResource(
                    kind="container",
                    id=row["Id"],
                    name=row["Names"][0].lstrip("/"),
                    labels=row.get("Labels") or {},
                    state=row.get("State", ""),
                )
            )
        for row in api.networks(filters=filters):
            found.append(
                LabelledResource(
                    kind="network",
                    id=row["Id"],
                    name=row["Name"],
                    labels=row.get("Labels") or {},
                    state="",
                )
            )
        for row in api.volumes(filters=filters).get("Volumes") or []:
            found.append(
                LabelledResource(
                    kind="volume",
                    id=row["Name"],
                    name=row["Name"],
                    labels=row.get("Labels") or {},
                    state="",
                )
            )
    return found


def sandbox_destroy(*, labels: Mapping[str, str]) -> int:
    """Force-remove every container, network and volume with these labels; returns how many.

    Idempotent: what is already gone is skipped. Labels are required, so that a mistake cannot
    match everything.
    """
    filters = label_filters(check_labels(labels, required=True))
    api = client().api
    removed = 0
    with engine_errors():
        for row in api.containers(all=True, filters=filters):
            removed += _gone_ok(api.remove_container, row["Id"], force=True, v=True)
        for row in api.networks(filters=filters):
            removed += _gone_ok(api.remove_network, row["Id"])
        for row in api.volumes(filters=filters).get("Volumes") or []:
            removed += _gone_ok(api.remove_volume, row["Name"], force=True)
    return removed


def _gone_ok(remove: Callable[..., object], *args: object, **kwargs: object) -> int:
    try:
        remove(*args, **kwargs)
        return 1
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as exc:
        # Two reapers racing: Docker says the removal is already in progress.
        if "already in progress" in str(exc):
            return 0
        raise RuntimeFailure(str(exc)) from exc


@dataclass(frozen=True)
class ContainerState:
    """What the engine says of one sandbox container right now."""

    id: str
    name: str  # the spec's name (``academy.container``), "" if it has none
    labels: dict[str, str]
    status: str  # "running", "paused", "restarting", "exited", "created", "dead", ...
    exit_code: int | None = None  # set once it has stopped
    oom_killed: bool = False  # the kernel killed it for going over its memory limit
    finished_at: str = ""

    @property
    def alive(self) -> bool:
        """Running, or paused or restarting on purpose (a fault): not a broken container."""
        return self.status in ("running", "paused", "restarting")


def container_states(*, labels: Mapping[str, str]) -> dict[str, ContainerState]:
    """Every container with these labels, by container id, with how it is doing.

    One list call to the engine; only containers that are not alive are inspected (for the
    exit code and whether they ran out of memory), so that a watch over many healthy sandboxes
    stays cheap. A container removed while this runs is left out.
    """
    filters = label_filters(check_labels(labels, required=True))
    api = client().api
    states: dict[str, ContainerState] = {}
    with engine_errors():
        for row in api.containers(all=True, filters=filters):
            row_labels = row.get("Labels") or {}
            state = ContainerState(
                id=row["Id"],
                name=row_labels.get(CONTAINER_LABEL, ""),
                labels=row_labels,
                status=row.get("State", ""),
            )
            if not state.alive:
                try:
                    detail = api.inspect_container(row["Id"])["State"]
                except docker.errors.NotFound:
                    continue
                state = ContainerState(
                    id=state.id,
                    name=state.name,
                    labels=state.labels,
                    status=detail.get("Status", state.status),
                    exit_code=detail.get("ExitCode"),
                    oom_killed=bool(detail.get("OOMKilled")),
                    finished_at=detail.get("FinishedAt", ""),
                )
            states[state.id] = state
    return states


def container_start(*, container_id: str) -> None:
    """Starts a stopped sandbox container again, as it was created (a running one is left be)."""
    with engine_errors():
        try:
            client().api.start(container_id)
        except docker.errors.NotFound as exc:
            raise RuntimeFailure(f"Container {container_id} does not exist.") from exc
