"""How long the lab runtime takes: create a toolbox+target sandbox, exec, destroy.

    .venv/bin/python bench/bench_sandbox.py [--rounds 5] [--execs 30]

Baseline in the same run: the same `true` run with a raw `docker exec` (the Docker SDK's
exec_run) in the same container.

Needs a Docker engine (scripts/ensure-docker.sh); builds the lab images first if needed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import docker

from bench.figures import record
from labs.images.build import build_lab_images
from labs.runtime import (
    ContainerSpec,
    Tmpfs,
    sandbox_create,
    sandbox_destroy,
    sandbox_exec,
)


def specs(images: dict[str, str]) -> list[ContainerSpec]:
    return [
        ContainerSpec(
            name="toolbox",
            image=images["toolbox"],
            tmpfs={
                "/tmp": Tmpfs(size=64),
                "/home/learner": Tmpfs(size=64, uid=1000, gid=1000, executable=True),
            },
        ),
        ContainerSpec(name="target", image=images["target"], env={"ROLE": "dependency"}),
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="sandboxes to create (5)")
    parser.add_argument("--execs", type=int, default=30, help="execs per sandbox (30)")
    args = parser.parse_args()

    images = {result.name: result.reference for result in build_lab_images()}
    create, ready, first, execs, destroy, raw_execs = [], [], [], [], [], []
    engine = docker.from_env()
    for _ in range(args.rounds):
        labels = {"academy.session": f"bench-{uuid.uuid4().hex[:12]}", "academy.lab": "bench"}
        started = time.perf_counter()
        sandbox = sandbox_create(labels=labels, containers=specs(images))
        create.append(time.perf_counter() - started)
        toolbox = sandbox.containers["toolbox"]
        try:
            started = time.perf_counter()
            result = sandbox_exec(
                container_id=toolbox, command=["true"], user="learner", timeout=10
            )
            first.append(time.perf_counter() - started)
            assert result.exit_code == 0, result
            wait = (
                "for i in $(seq 200); do curl -fsS -o /dev/null http://target:8080/health"
                " && exit 0; sleep 0.02; done; exit 1"
            )
            result = sandbox_exec(
                container_id=toolbox, command=["bash", "-c", wait], user="learner", timeout=30
            )
            ready.append(create[-1] + time.perf_counter() - started)
            assert result.exit_code == 0, result
            for _ in range(args.execs):
                started = time.perf_counter()
                result = sandbox_exec(
                    container_id=toolbox, command=["true"], user="learner", timeout=10
                )
                execs.append(time.perf_counter() - started)
                assert result.exit_code == 0, result
                container = engine.containers.get(toolbox)
                started = time.perf_counter()
                raw = container.exec_run(["true"], user="learner")
                raw_execs.append(time.perf_counter() - started)
                assert raw.exit_code == 0, raw
        finally:
            started = time.perf_counter()
            sandbox_destroy(labels=labels)
            destroy.append(time.perf_counter() - started)

    print(f"lab runtime, {args.rounds} sandboxes (toolbox + target), {args.execs} execs each")
    print(f"{'':34}{'median':>11}{'min':>11}{'max':>11}")
    for name, values in [
        ("create (network + 2 containers)", create),
        ("create until target serves", ready),
        ("first exec `true`", first),
        ("exec `true`", execs),
        ("raw docker exec `true` (baseline)", raw_execs),
        ("destroy", destroy),
    ]:
        row = ms(statistics.median(values)), ms(min(values)), ms(max(values))
        print(f"{name:34}{row[0]:>11}{row[1]:>11}{row[2]:>11}")
    engine.close()
    notes = f"{args.rounds} sandboxes (toolbox + target), medians"
    record("sandbox create (network + 2 containers)", statistics.median(create), "s", notes=notes)
    record("sandbox destroy", statistics.median(destroy), "s", notes=notes)
    record(
        "runtime exec `true`, median",
        statistics.median(execs),
        "s",
        baseline="raw docker exec `true`, same container",
        baseline_value=statistics.median(raw_execs),
        notes=f"{len(execs)} execs",
    )


if __name__ == "__main__":
    main()
