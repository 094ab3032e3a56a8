#!/usr/bin/env python3
"""Pages under a real HTTP load: lesson page, lab page, lab session page and its status poll,
each beside a minimal Django view on the same server, in the same run.

    .venv/bin/python bench/bench_http.py [--seconds 15] [--users 8] [--web-workers 1]

On a scratch database with the project's content: uvicorn serves the site as the Procfile's web
line runs it (one process, as without Redis; --web-workers for more), and locust (headless,
bench/requirements.txt) sends the load: N signed-in users, no pause between requests, one path
at a time for a fixed time. Prints requests per second (and as a share of the minimal view's),
p50, p95 and the server's CPU time per request for each path, with the load average: on a shared
machine requests per second move with the neighbours' load, CPU per request much less. The lab
session is a ready row with no containers: the pages read the database only (the engine is not
asked), so no Docker is needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-http-"))
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-http-{os.getpid()}"  # nobody listens: no task runs
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ["DJANGO_DEBUG"] = "0"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from academy.accounts.models import User  # noqa: E402
from academy.courses.models import Lesson  # noqa: E402
from bench.figures import record  # noqa: E402
from bench.http_urls import BARE_PATH  # noqa: E402
from bench.loadgen import Load, locust_run, server_start, server_stop  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402


def prepare() -> tuple[dict[str, str], str]:
    """The content, a signed-in learner with a ready session; the paths and the cookie."""
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    user = User.objects.create_user("bench", "bench@example.org", "bench-password-1234")
    lab = Lab.objects.published().filter(exam_only=False).first()
    session = LabSession.objects.create(
        user=user,
        lab=lab,
        state=LabSession.State.READY,
        ready_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=2),
    )
    client = Client()
    client.force_login(user)
    with translation.override("en"):
        paths = {
            "lesson page": Lesson.objects.published().first().get_absolute_url(),
            "lab page": lab.get_absolute_url(),
            "lab session page": session.get_absolute_url(),
            "status poll (JSON)": f"/en/labs/sessions/{session.pk}/status/",
        }
    return paths, f"sessionid={client.cookies['sessionid'].value}"


def server_cpu_seconds(server) -> float:
    """User and system CPU seconds of the server and its worker processes so far."""
    import psutil  # locust's own dependency (bench/requirements.txt)

    process = psutil.Process(server.pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="load time per path (15)")
    parser.add_argument("--users", type=int, default=8, help="concurrent users (8)")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn processes (1)")
    args = parser.parse_args()
    try:
        measure(args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(args: argparse.Namespace) -> None:
    paths, cookie = prepare()
    server, host = server_start(
        env=dict(os.environ), log_path=scratch / "server.log", workers=args.web_workers
    )
    try:
        # Warm up every path once (templates, first queries), then the baseline, then the pages.
        locust_run(host=host, name="warm-up", path=BARE_PATH, users=1, seconds=2, work_dir=scratch)
        for path in paths.values():
            locust_run(
                host=host,
                name="warm-up",
                path=path,
                cookie=cookie,
                users=1,
                seconds=1,
                work_dir=scratch,
            )
        cpu: dict[str, float] = {}  # the server's CPU seconds per request, by path name

        def run(name: str, path: str) -> Load:
            before = server_cpu_seconds(server)
            load = locust_run(
                host=host,
                name=name,
                path=path,
                cookie=cookie,
                users=args.users,
                seconds=args.seconds,
                work_dir=scratch,
            )
            cpu[name] = (server_cpu_seconds(server) - before) / max(load.requests, 1)
            return load

        bare = run("minimal view", BARE_PATH)
        loads = [run(name, path) for name, path in paths.items()]
    finally:
        server_stop(server)
    load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"uvicorn ({args.web_workers} process(es)) under locust: {args.users} users, no pause, "
        f"{args.seconds} s a path; load average {load_average} at the end"
    )
    print(f"{'path':<24}{'req/s':>9}{'ratio':>7}{'p50':>10}{'p95':>10}{'CPU/req':>11}{'failed':>8}")
    for load in [bare, *loads]:
        print(
            f"{load.name:<24}{load.per_second:>9.1f}{load.per_second / bare.per_second:>7.2f}"
            f"{load.p50 * 1000:>8.0f} ms{load.p95 * 1000:>7.0f} ms"
            f"{cpu[load.name] * 1000:>8.2f} ms{load.failures:>8}"
        )
    baseline = f"minimal Django view, same server ({args.users} users)"
    server_note = f"uvicorn, {args.web_workers} process(es)"
    for load in loads:
        notes = f"{server_note}; {load.requests} requests, {load.failures} failed"
        record(
            f"{load.name}: throughput",
            load.per_second,
            "/s",
            baseline=baseline,
            baseline_value=bare.per_second,
            notes=notes,
        )
        record(
            f"{load.name}: server CPU per request",
            cpu[load.name],
            "s",
            baseline=baseline,
            baseline_value=cpu[bare.name],
            notes=f"{notes}; user and system time of the server's processes (steadier than "
            f"req/s on a shared machine); load average {load_average}",
        )
        for label, value, base in (("p50", load.p50, bare.p50), ("p95", load.p95, bare.p95)):
            record(
                f"{load.name}: {label} under load",
                value,
                "s",
                baseline=baseline,
                baseline_value=base,
                notes=notes,
            )


if __name__ == "__main__":
    main()
