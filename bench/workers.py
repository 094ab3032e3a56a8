"""Real Celery workers for the benchmarks: started on the given queues, each with its log file,
and stopped with their process groups. No Django here: the workers read their settings from the
environment the benchmark set up before calling."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_workers(
    specs: list[tuple[list[str], int]], log_dir: Path, *, name: str = "bench"
) -> list[subprocess.Popen]:
    """One worker per (queues, concurrency); returns once every one says it is ready."""
    workers = []
    for number, (queues, concurrency) in enumerate(specs):
        log_path = log_dir / f"worker-{number}.log"
        with open(log_path, "w") as log:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "academy",
                    "worker",
                    "--queues",
                    ",".join(queues),
                    "--concurrency",
                    str(concurrency),
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"{name}{number}-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker.log_path = log_path
        workers.append(worker)
    deadline = time.monotonic() + 60
    for worker in workers:
        while "ready." not in worker.log_path.read_text():
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"a worker did not start:\n{worker.log_path.read_text()}")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
