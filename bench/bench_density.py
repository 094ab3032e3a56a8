#!/usr/bin/env python3
"""Density: memory per idle lab session, and the most idle sessions this machine holds while
lesson pages stay under p95 200 ms.

    .venv/bin/python bench/bench_density.py [--max-sessions 40] [--step 5] [--users 2]
        [--seconds 10] [--lab first-steady-state] [--reserve-mib 2048]

On a scratch database with the project's content: uvicorn serves the site as the Procfile's web
line runs it, and locust (headless) loads the lesson page with a few signed-in readers (--users).
A stepped ramp: with no session first (the baseline), then ``--step`` more idle sessions of the
lab at a time (provisioned here, as the worker does, and left alone), the lesson page's p95 is
measured again. The ramp stops at --max-sessions, when the p95 reaches 200 ms (--limit-ms), or
when the memory the kernel calls available falls under --reserve-mib. Memory per session is what
the engine reports for the session's containers (docker stats: usage less the page cache),
averaged over all of them (at least a few sessions are started for it, even when the ramp stops
at none), beside the same containers and setup script started with the Docker SDK alone (bench/
raw.py) and left idle as long. Every sandbox it starts is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-density-"))
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-density-{os.getpid()}"  # nobody listens: no task runs
os.environ["LAB_WARM_POOL_SIZE"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ["DJANGO_DEBUG"] = "0"

import django  # noqa: E402

django.setup()

import docker  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import translation  # noqa: E402

from academy.accounts.models import User  # noqa: E402
from academy.courses.models import Lesson  # noqa: E402
from bench.figures import record  # noqa: E402
from bench.loadgen import locust_run, server_start, server_stop  # noqa: E402
from bench.raw import raw_cleanup, raw_sandbox  # noqa: E402
from labs import runtime, services  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402
from labs.services.state import lab_instance  # noqa: E402

MIB = 1024 * 1024
RUN_LABEL = "academy.bench-density"
RUN_ID = str(os.getpid())


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def container_memory(engine: docker.APIClient, container_id: str) -> int:
    """What `docker stats` shows: usage less the inactive page cache (cgroup v1 and v2)."""
    stats = engine.stats(container_id, stream=False, one_shot=True)
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage", 0)
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return max(0, usage - cache)


def sandboxes_memory(sandboxes: list[list[str]]) -> list[int]:
    """Bytes per sandbox (given as its container ids): the sum of its containers."""
    engine = docker.APIClient()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return [
                sum(pool.map(lambda cid: container_memory(engine, cid), ids)) for ids in sandboxes
            ]
    finally:
        engine.close()


def raw_memory(lab: Lab, count: int, settle: float) -> list[int]:
    """The baseline: the same containers and setup with the Docker SDK alone, left idle as
    long as the academy's last ones were."""
    engine = docker.from_env()
    try:
        made = [
            raw_sandbox(engine, lab=lab, label=RUN_LABEL, run_id=RUN_ID, number=number)
            for number in range(count)
        ]
        time.sleep(settle)
        return sandboxes_memory([[c.id for c in raw.containers.values()] for raw in made])
    finally:
        raw_cleanup(engine, label=RUN_LABEL, run_id=RUN_ID)
        engine.close()


def provision(lab: Lab, number: int) -> LabSession:
    user = User.objects.create(username=f"idle-{number}")
    session = LabSession.objects.create(lab=lab, user=user, state=LabSession.State.PROVISIONING)
    services.lab_session_provision(session=session)
    session.refresh_from_db()
    if session.state != LabSession.State.READY:
        raise SystemExit(f"session {session.pk} did not provision: {session.error}")
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sessions", type=int, default=40, help="the ramp's cap (40)")
    parser.add_argument("--step", type=int, default=5, help="sessions added per step (5)")
    parser.add_argument("--users", type=int, default=2, help="lesson page readers (2)")
    parser.add_argument("--seconds", type=int, default=10, help="load time per step (10)")
    parser.add_argument("--lab", default="first-steady-state")
    parser.add_argument("--limit-ms", type=int, default=200, help="the p95 limit (200)")
    parser.add_argument("--reserve-mib", type=int, default=2048, help="stop under this free")
    args = parser.parse_args()
    limit = args.limit_ms / 1000
    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers.")
    settings.LAB_MAX_RUNNING_SESSIONS = args.max_sessions + 10
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    lab = Lab.objects.get(key=args.lab)
    reader = User.objects.create_user("reader", "reader@example.org", "bench-password-1234")
    client = Client()
    client.force_login(reader)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with translation.override("en"):
        lesson = Lesson.objects.published().first().get_absolute_url()
    sessions: list[LabSession] = []
    levels: list[tuple[int, float, int]] = []  # sessions, lesson p95, available bytes
    server, host = server_start(env=dict(os.environ), log_path=scratch / "server.log")
    stopped_by = f"the cap of {args.max_sessions} sessions"
    memory: list[int] = []
    raw: list[int] = []
    try:
        locust_run(host=host, name="warm-up", path=lesson, cookie=cookie, users=1, seconds=2,
                   work_dir=scratch)  # fmt: skip
        print(
            f"lab {lab.key}; lesson page read by {args.users} users for {args.seconds} s a step",
            flush=True,
        )
        print(f"{'idle sessions':>14}{'lesson p95':>12}{'available':>12}", flush=True)
        while True:
            load = locust_run(
                host=host,
                name=f"lesson-{len(sessions)}",
                path=lesson,
                cookie=cookie,
                users=args.users,
                seconds=args.seconds,
                work_dir=scratch,
            )
            free = available_bytes()
            levels.append((len(sessions), load.p95, free))
            print(
                f"{len(sessions):>14}{load.p95 * 1000:>9.0f} ms{free / MIB:>8.0f} MiB", flush=True
            )
            if load.p95 >= limit:
                stopped_by = f"the lesson page's p95 reaching {args.limit_ms} ms"
                break
            if len(sessions) >= args.max_sessions:
                break
            if free < args.reserve_mib * MIB:
                stopped_by = f"available memory under {args.reserve_mib} MiB"
                break
            for _ in range(min(args.step, args.max_sessions - len(sessions))):
                sessions.append(provision(lab, len(sessions)))
        if not sessions:  # the memory per session is measured all the same
            sessions = [provision(lab, number) for number in range(min(args.step, 3))]
            time.sleep(args.seconds)
        memory = sandboxes_memory([list(s.sandbox["containers"].values()) for s in sessions])
        raw = raw_memory(lab, min(len(sessions), 3), args.seconds)
    finally:
        server_stop(server)
        raw_cleanup(docker.from_env(), label=RUN_LABEL, run_id=RUN_ID)
        for session in sessions:
            services.lab_session_stop(session=session)
        left = runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        for sandbox_id in {resource.labels.get("academy.sandbox") for resource in left}:
            if sandbox_id:
                runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
        shutil.rmtree(scratch, ignore_errors=True)

    under = [level for level in levels if level[1] < limit]
    most = max((level[0] for level in under), default=0)
    baseline_p95 = levels[0][1]
    at_most = next((level[1] for level in levels if level[0] == most), baseline_p95)
    print(f"stopped by {stopped_by}")
    containers = len(services.container_specs(lab))
    if memory:
        per_session = sum(memory) / len(memory)
        print(
            f"memory per idle session: {per_session / MIB:.1f} MiB "
            f"({containers} containers, mean of {len(memory)}; min {min(memory) / MIB:.1f}, "
            f"max {max(memory) / MIB:.1f})"
        )
        raw_mean = sum(raw) / len(raw)
        print(
            f"baseline, the same containers + setup with the Docker SDK: {raw_mean / MIB:.1f} MiB"
        )
        record(
            "memory per idle lab session",
            per_session / MIB,
            "MiB",
            baseline="the same containers + setup script run with the Docker SDK, idle",
            baseline_value=raw_mean / MIB,
            notes=f"lab {lab.key}, {containers} containers, docker stats less page cache, "
            f"mean of {len(memory)} (baseline: of {len(raw)})",
        )
    print(f"most idle sessions with the lesson page's p95 under {args.limit_ms} ms: {most}")
    note = f"stepped ramp of {args.step}, stopped by {stopped_by}; {args.users} readers" + (
        f"; p95 was over {args.limit_ms} ms with no session" if not under else ""
    )
    record(f"most idle lab sessions, lesson p95 < {args.limit_ms} ms", most, "sessions", notes=note)
    record(
        f"lesson page p95 with {most} idle sessions",
        at_most,
        "s",
        baseline="the same with no lab session",
        baseline_value=baseline_p95,
        notes=f"{args.users} readers under locust",
    )


if __name__ == "__main__":
    main()
