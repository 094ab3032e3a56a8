#!/usr/bin/env python3
"""Lab time-to-ready (cold and from the warm pool) and check latency, each beside the same work
done with the Docker SDK alone, in the same run.

    .venv/bin/python bench/bench_ready.py [--rounds 20] [--checks 10] [--lab first-steady-state]

On a scratch database with the project's content and real Celery workers (provisioning 2 slots,
checks 2, as the Procfile runs them) on the real Docker engine:

- cold: a learner starts the lab with no warm pool; seconds from lab_session_start until the
  session is ready (the queue, the worker, the sandbox, the root-only scripts, the setup);
- warm: the lab's warm pool is filled first (not timed), then each start takes a pooled one;
- raw: the same containers (images, limits, capabilities, tmpfs, the per-sandbox internal
  network, the /opt/lab volume), the same setup script put in place and run as root, with the
  Docker SDK and nothing else: the engine's floor;
- check: one step's check through the checks queue and worker until its result is stored, and
  the service alone (lab_session_check, as the worker runs it), beside a raw `docker exec` of the
  same check script in the same container.

Prints p50 and p95 of each. Everything it starts is removed at the end (the academy's sandboxes
by their instance label, the raw ones by a label of this run).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-ready-"))
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-ready-{os.getpid()}"
os.environ["LAB_WARM_POOL_SIZE"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

import docker  # noqa: E402
from celery import current_app  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from academy.accounts.models import User  # noqa: E402
from bench.figures import p50, p95, record  # noqa: E402
from bench.raw import raw_cleanup, raw_sandbox  # noqa: E402
from bench.workers import start_workers, stop_workers  # noqa: E402
from labs import runtime, services  # noqa: E402
from labs.models import CheckResult, Lab, LabSession  # noqa: E402
from labs.services.grading import CHECK_WORKDIR, check_environment  # noqa: E402
from labs.services.provisioning import SCRIPTS_DIR  # noqa: E402
from labs.services.state import lab_instance  # noqa: E402

logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "no hostname": the file broker
BASE = settings.LAB_TASK_QUEUE
QUEUES = [BASE, f"{BASE}.provisioning", f"{BASE}.checks", f"{BASE}.housekeeping"]
# No housekeeping worker: a warm start asks it to refill the pool, which would provision (or
# end) pooled sandboxes while the next start is timed; the pool is filled here, between rounds.
WORKERS = [([f"{BASE}.provisioning"], 2), ([f"{BASE}.checks"], 2)]
RUN_LABEL = "academy.bench-ready"
RUN_ID = str(os.getpid())
State = LabSession.State


def wait_ready(session: LabSession, timeout: float = 300) -> None:
    started = time.perf_counter()
    while session.state != State.READY:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"session {session.pk} not ready after {timeout:.0f} s")
        if not session.is_live:
            raise SystemExit(f"session {session.pk} failed: {session.error}")
        time.sleep(0.02)
        session.refresh_from_db()


# --- The academy --------------------------------------------------------------------------------


def cold_starts(lab: Lab, rounds: int) -> list[float]:
    times = []
    for number in range(rounds):
        user = User.objects.create(username=f"cold-{number}")
        started = time.perf_counter()
        session = services.lab_session_start(user=user, lab=lab)
        wait_ready(session)
        times.append(time.perf_counter() - started)
        services.lab_session_stop(session=session)
    return times


def warm_starts(lab: Lab, rounds: int, batch: int) -> list[float]:
    """Fills the pool ``batch`` at a time (not timed), then starts from it."""
    times: list[float] = []
    number = 0
    while len(times) < rounds:
        size = min(batch, rounds - len(times))
        Lab.objects.filter(pk=lab.pk).update(warm_pool_size=size)
        services.pool_refill()
        pooled = LabSession.objects.live().pooled().filter(lab=lab)
        deadline = time.monotonic() + 600
        while pooled.filter(state=State.READY).count() < size:
            if pooled.filter(state=State.FAILED).exists() or time.monotonic() > deadline:
                raise SystemExit("the warm pool did not fill")
            time.sleep(0.2)
        taken = []
        for _ in range(size):
            user = User.objects.create(username=f"warm-{number}")
            number += 1
            started = time.perf_counter()
            session = services.lab_session_start(user=user, lab=lab)
            wait_ready(session)
            times.append(time.perf_counter() - started)
            if session.state != State.READY or session.user_id != user.pk:
                raise SystemExit("a warm start did not get a pooled session")
            taken.append(session)
        Lab.objects.filter(pk=lab.pk).update(warm_pool_size=0)
        for session in taken:
            services.lab_session_stop(session=session)
    return times


def checks(lab: Lab, count: int) -> tuple[list[float], list[float], list[float]]:
    """The first step's check on one ready session: through the queue and worker, the service
    alone, and a raw docker exec of the same script in the same container."""
    user = User.objects.create(username="checker")
    session = services.lab_session_start(user=user, lab=lab)
    wait_ready(session)
    step = lab.steps.order_by("number").first()
    container_id = session.sandbox["containers"][step.check_container or lab.shell_container]
    engine = docker.from_env()
    container = engine.containers.get(container_id)
    queued, service, raw = [], [], []
    try:
        for _ in range(count):
            before = CheckResult.objects.filter(session=session).count()
            started = time.perf_counter()
            current_app.send_task(
                "labs.tasks.check", args=(session.pk, step.pk, "en"), queue=f"{BASE}.checks"
            )
            while CheckResult.objects.filter(session=session).count() == before:
                if time.perf_counter() - started > 120:
                    raise SystemExit("a queued check did not finish in 120 s")
                time.sleep(0.01)
            queued.append(time.perf_counter() - started)
            while session.state == State.CHECKING:  # the worker moves it back after storing
                time.sleep(0.01)
                session.refresh_from_db()
            started = time.perf_counter()
            services.lab_session_check(session=session, step=step)
            service.append(time.perf_counter() - started)
            started = time.perf_counter()
            container.exec_run(
                ["/bin/bash", f"{SCRIPTS_DIR}/steps/{step.key}.check.sh"],
                user="root",
                environment=check_environment("en"),
                workdir=CHECK_WORKDIR,
            )
            raw.append(time.perf_counter() - started)
    finally:
        engine.close()
        services.lab_session_stop(session=session)
    return queued, service, raw


# --- The engine's floor: the same sandbox with the Docker SDK alone (bench/raw.py) --------------


def raw_starts(lab: Lab, rounds: int) -> list[float]:
    engine = docker.from_env()
    times = []
    try:
        for number in range(rounds):
            sandbox = raw_sandbox(engine, lab=lab, label=RUN_LABEL, run_id=RUN_ID, number=number)
            times.append(sandbox.seconds)
            raw_cleanup(engine, label=RUN_LABEL, run_id=RUN_ID)
    finally:
        raw_cleanup(engine, label=RUN_LABEL, run_id=RUN_ID)
        engine.close()
    return times


# --- The run -------------------------------------------------------------------------------------


def purge() -> None:
    with current_app.connection_for_write() as connection:
        for queue in QUEUES:
            with contextlib.suppress(Exception):  # a queue nobody declared: nothing to purge
                connection.default_channel.queue_purge(queue)


def line(name: str, values: list[float]) -> str:
    return (
        f"{name:<58} p50 {p50(values) * 1000:8.0f} ms   p95 {p95(values) * 1000:8.0f} ms"
        f"   ({len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="starts of each kind (20)")
    parser.add_argument("--checks", type=int, default=10, help="checks of each kind (10)")
    parser.add_argument("--batch", type=int, default=5, help="warm pool filled this many at once")
    parser.add_argument("--lab", default="first-steady-state")
    args = parser.parse_args()
    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers.")
    room = max(args.batch, 2) + 10
    settings.LAB_MAX_RUNNING_SESSIONS = room
    os.environ["LAB_MAX_RUNNING_SESSIONS"] = str(room)  # the workers' too
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    Lab.objects.update(warm_pool_size=0)  # only this benchmark fills a pool, only this lab's
    lab = Lab.objects.get(key=args.lab)
    print(f"lab {lab.key}: {len(services.container_specs(lab))} containers", flush=True)
    workers = start_workers(WORKERS, scratch, name="ready")
    try:
        raw = raw_starts(lab, args.rounds)
        print(line("raw docker SDK: same containers + setup script", raw), flush=True)
        cold = cold_starts(lab, args.rounds)
        print(line("academy, cold: start until ready", cold), flush=True)
        warm = warm_starts(lab, args.rounds, max(1, args.batch))
        print(line("academy, warm pool: start until ready", warm), flush=True)
        queued, service, raw_check = checks(lab, args.checks)
        print(line("raw docker exec of the check script", raw_check))
        print(line("check service (lab_session_check, as the worker runs it)", service))
        print(line("check through the queue and worker, until stored", queued), flush=True)
    finally:
        stop_workers(workers)
        purge()
        left = runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        for sandbox_id in {resource.labels.get("academy.sandbox") for resource in left}:
            if sandbox_id:
                runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
        shutil.rmtree(scratch, ignore_errors=True)

    raw_name = "raw docker SDK run of the same containers + setup script"
    notes = f"lab {lab.key}, {args.rounds} starts each"
    for kind, values in (("cold", cold), ("warm pool", warm)):
        for label, pick in (("p50", p50), ("p95", p95)):
            record(
                f"lab time-to-ready {kind}, {label}",
                pick(values),
                "s",
                baseline=raw_name,
                baseline_value=pick(raw),
                notes=notes,
            )
    notes = f"lab {lab.key}, first step, {args.checks} checks each"
    raw_name = "raw docker exec of the same check script"
    for kind, values in (("through queue + worker", queued), ("service call", service)):
        for label, pick in (("p50", p50), ("p95", p95)):
            record(
                f"check latency {kind}, {label}",
                pick(values),
                "s",
                baseline=raw_name,
                baseline_value=pick(raw_check),
                notes=notes,
            )


if __name__ == "__main__":
    main()
