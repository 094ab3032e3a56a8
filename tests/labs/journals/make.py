"""Journals of real `chaos run` runs, for tests/labs/test_journal.py.

    .venv/bin/python -m tests.labs.journals.make     # (re)writes tests/labs/journals/*.json

Each experiment in experiments/ runs with the Chaos Toolkit of the lab toolbox image
(academy/toolbox:latest: chaostoolkit 1.19.0, chaostoolkit-lib 1.44.0, chaostoolkit-addons,
chaostoolkit-toxiproxy) in a container with no network: the real target service
(labs/images/target/service.py) plays "api" on a loopback address, beside stand-ins for the
faults sidecar and Toxiproxy (fakes.py). Names the experiments use but nothing serves ("lb",
"dependency") do not resolve, as a container that is down would not answer.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPERIMENTS = HERE / "experiments"
SERVICE = HERE.parents[2] / "labs" / "images" / "target" / "service.py"
IMAGE = "academy/toolbox:latest"
HOSTS = {"api": "127.0.0.2", "faults": "127.0.0.3", "toxiproxy": "127.0.0.4"}
# `chaos run` options by experiment; the others run with none.
OPTIONS = {
    "aborted": "--no-validation",  # its method refers to an activity nobody defined
    "continuous-pause": "--hypothesis-strategy continuously --hypothesis-frequency 1",
    "kill-deviated": "--rollback-strategy always",
}


def experiment_names() -> list[str]:
    return sorted(path.stem for path in EXPERIMENTS.glob("*.json"))


def _bundle(name: str) -> bytes:
    files = {
        "fakes.py": (HERE / "fakes.py").read_bytes(),
        "run.sh": (HERE / "run.sh").read_bytes(),
        "service.py": SERVICE.read_bytes(),
        "experiment.json": (EXPERIMENTS / f"{name}.json").read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for filename, content in files.items():
            entry = tarfile.TarInfo(filename)
            entry.size, entry.mode = len(content), 0o644
            tar.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


def run_experiment(name: str, *, image: str = IMAGE) -> dict:
    """Runs experiments/NAME.json with `chaos run` in the toolbox image; returns its journal."""
    hosts = [f"--add-host={host}:{address}" for host, address in HOSTS.items()]
    command = [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        *hosts,
        "--env",
        f"CHAOS_OPTIONS={OPTIONS.get(name, '')}",
        image,
        "bash",
        "-c",
        "mkdir -p /tmp/h && tar -x -C /tmp/h && bash /tmp/h/run.sh",
    ]
    done = subprocess.run(command, input=_bundle(name), capture_output=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: no journal\n{done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)


def main() -> int:
    for name in sys.argv[1:] or experiment_names():
        journal = run_experiment(name)
        (HERE / f"{name}.json").write_text(json.dumps(journal, indent=2) + "\n")
        print(f"{name}: {journal['status']}, deviated: {journal['deviated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
