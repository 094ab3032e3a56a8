"""A second Docker engine for the lab host tests: its own socket, data root and exec root
(so its own containerd), no bridge, no iptables rules of its own, its own address pool. It is
a real dockerd, as a second lab host's engine would be; only root can start one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker


@dataclass
class Engine:
    root: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, version="auto", timeout=120)


def engine_start(root: Path, *, address_pool: str = "10.213.0.0/16") -> Engine:
    """Starts dockerd under ``root`` and waits until it answers (60 s at most)."""
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        raise RuntimeError("A second Docker engine needs root and dockerd (Debian's docker.io).")
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / "dockerd.log", "w")  # noqa: SIM115 - dockerd writes to it until stopped
    process = subprocess.Popen(
        [
            "dockerd",
            f"--host=unix://{root}/docker.sock",
            f"--data-root={root}/data",
            f"--exec-root={root}/exec",
            f"--pidfile={root}/dockerd.pid",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--exec-opt=native.cgroupdriver=cgroupfs",
            "--storage-driver=overlay2",
            f"--default-address-pool=base={address_pool},size=24",
            "--log-level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = Engine(root=root, process=process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if engine.client().ping():
                return engine
        except Exception:
            time.sleep(0.3)
    engine_stop(engine)
    raise RuntimeError(f"dockerd did not answer:\n{(root / 'dockerd.log').read_text()[-3000:]}")


def images_copy(references: list[str], *, to: Engine) -> None:
    """Copies images from the default engine into ``to`` (docker save | docker load): the lab
    images are built once, on the first engine."""
    save = subprocess.Popen(["docker", "save", *references], stdout=subprocess.PIPE)
    subprocess.run(
        ["docker", "-H", to.url, "load", "--quiet"],
        stdin=save.stdout,
        check=True,
        capture_output=True,
    )
    if save.wait() != 0:
        raise RuntimeError(f"docker save {references} failed")


def engine_stop(engine: Engine) -> None:
    """Removes what runs on the engine, stops it and deletes its data."""
    if engine.process.poll() is None:
        try:
            client = engine.client()
            for container in client.containers.list(all=True):
                container.remove(force=True)
            client.networks.prune()
        except Exception:
            pass
        os.killpg(engine.process.pid, signal.SIGTERM)
        try:
            engine.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(engine.process.pid, signal.SIGKILL)
            engine.process.wait(timeout=10)
    subprocess.run(["umount", "-R", str(engine.root / "data")], capture_output=True)
    shutil.rmtree(engine.root, ignore_errors=True)
