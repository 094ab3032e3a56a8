"""A real server and a real HTTP load generator for the page figures.

The server is uvicorn as the Procfile's web line runs it, in its own process, with the site's
settings plus one minimal view (bench/http_settings.py). The load is locust, headless, in its
own process (gevent stays out of the benchmark), with a fixed number of users asking for one
path with no pause for a fixed time; its CSV statistics are read back. No Django here: the
caller sets up the scratch database and passes its environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.figures import percentile

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Load:
    """What locust measured for one path (times in seconds)."""

    name: str
    requests: int
    failures: int
    per_second: float
    p50: float
    p95: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_start(
    *, env: dict[str, str], log_path: Path, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    """uvicorn with the Procfile's arguments on a free port; returns once it answers.
    ``workers``: uvicorn processes (the Procfile runs one without Redis)."""
    port = free_port()
    env = {**env, "DJANGO_SETTINGS_MODULE": "bench.http_settings"}
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "academy.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws-max-size",
                "65536",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    host = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{host}/bench-bare/", timeout=2) as response:
                if response.status == 200:
                    return server, host
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server_stop(server)
            raise SystemExit(f"the server did not start:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.2)


def server_stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def locust_run(
    *,
    host: str,
    name: str,
    path: str,
    cookie: str = "",
    users: int = 8,
    seconds: int = 15,
    work_dir: Path,
) -> Load:
    """``users`` users ask for ``path`` with no pause for ``seconds``; locust's figures."""
    prefix = work_dir / f"locust-{name.replace(' ', '-').replace('/', '-')}"
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_NAME": name,
        "BENCH_COOKIE": cookie,
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),  # all at once
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--json-file",
        str(prefix),  # locust adds .json
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    with open(f"{prefix}.log", "w") as log:
        subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + 90,
            check=True,
        )
    # The final statistics (the CSV files are written on a timer and can miss the last second).
    entries = json.loads(Path(f"{prefix}.json").read_text())
    entry = next((entry for entry in entries if entry["name"] == name), None)
    if entry is None or not entry["num_requests"]:
        raise SystemExit(f"locust made no request to {path}: see {prefix}.log")
    times: list[float] = []  # locust keeps a histogram: rounded milliseconds -> count
    for milliseconds, count in entry["response_times"].items():
        times += [float(milliseconds) / 1000] * count
    elapsed = max(entry["last_request_timestamp"] - entry["start_time"], 1e-9)
    return Load(
        name=name,
        requests=entry["num_requests"],
        failures=entry["num_failures"],
        per_second=entry["num_requests"] / elapsed,
        p50=percentile(times, 0.5),
        p95=percentile(times, 0.95),
    )
