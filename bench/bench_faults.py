"""How long a platform fault takes: `fault kill api` in the toolbox until the api has stopped.

    .venv/bin/python bench/bench_faults.py [--rounds 10]

The path measured is the real one: the `fault` command, the faults sidecar, a relay attached
to the sidecar (labs.faults.SessionRelay, as `manage.py lab_fault_relay` runs it), Docker's
kill. Needs a Docker engine; builds the lab images first if needed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

import django

django.setup()

from bench.figures import record  # noqa: E402
from labs import faults, runtime, services  # noqa: E402
from labs.images.build import build_lab_images  # noqa: E402
from labs.services.provisioning import _faults_spec, _faults_wait_until_listening  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    images = {r.name: r.reference for r in build_lab_images()}
    session_id = 10**9 + secrets.randbelow(10**6)  # no such row: the labels are all it needs
    labels = {"academy.session": str(session_id), "academy.instance": services.lab_instance()}
    specs = [
        runtime.ContainerSpec(
            name="toolbox",
            image=images["toolbox"],
            tmpfs={"/tmp": runtime.Tmpfs(size=16)},
        ),
        runtime.ContainerSpec(name="api", image=images["target"]),
    ]
    specs.append(_faults_spec(targets=[s.name for s in specs]))
    sandbox = runtime.sandbox_create(labels=labels, containers=specs)
    relay = faults.SessionRelay(
        faults.SessionSandbox(session_id=session_id, containers=sandbox.containers)
    )
    try:
        _faults_wait_until_listening(sandbox)
        relay.start()
        assert relay.attached.wait(10), "the relay did not attach"
        to_stopped, command = [], []
        for _ in range(args.rounds):
            result: dict = {}
            started = time.monotonic()
            thread = threading.Thread(target=_fault_kill, args=(sandbox, result))
            thread.start()
            while _state(labels, "api") != "exited":
                time.sleep(0.005)
            to_stopped.append(time.monotonic() - started)
            thread.join()
            assert result["r"].exit_code == 0, result["r"].output
            command.append(result["at"] - started)
            runtime.container_action(container_id=sandbox.containers["api"], action="restart")
        for name, values in (("kill -> api stopped", to_stopped), ("fault command", command)):
            record(
                f"platform fault: {name}, median",
                statistics.median(values),
                "s",
                notes=f"`fault kill api` in the toolbox, {len(values)} rounds",
            )
            print(
                f"{name}: median {statistics.median(values) * 1000:.0f} ms, "
                f"min {min(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
                f"({len(values)} rounds)"
            )
    finally:
        relay.stop()
        relay.join(5)
        runtime.sandbox_destroy(labels=labels)


def _fault_kill(sandbox: runtime.Sandbox, result: dict) -> None:
    result["r"] = runtime.sandbox_exec(
        container_id=sandbox.containers["toolbox"],
        command=["fault", "kill", "api"],
        user="learner",
        timeout=30,
    )
    result["at"] = time.monotonic()


def _state(labels: dict[str, str], name: str) -> str:
    found = runtime.sandbox_list(labels={**labels, runtime.CONTAINER_LABEL: name})
    return next(r.state for r in found if r.kind == "container")


if __name__ == "__main__":
    main()
