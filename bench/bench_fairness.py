#!/usr/bin/env python3
"""Fair under load: one learner floods checks while another starts a lab.

    .venv/bin/python bench/bench_fairness.py [--checks 200] [--lab first-steady-state]

On a scratch database with the project's content and real Celery workers on the real Docker
engine. Learner A has a ready session; N check tasks for it are sent straight to the queue
(bypassing the rate limit and the one-check-in-flight rule, as if a room of people clicked at
once); right after, learner B starts the same lab. Prints B's time to a ready session beside
the same start with no flood, measured in the same run, for two setups:

- a queue per kind, as `make run` serves it (Procfile): one worker process each for
  provisioning (2 slots), checks (2) and housekeeping (1);
- one queue for all work (the setup before): one worker with 2 slots, where B's provisioning
  task waits behind every check sent before it.

Needs a Docker engine and the lab images (`make images`). A few minutes at most.
"""

import argparse
import atexit
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-fair-"))
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
atexit.register(  # the scratch database goes; the workers' logs stay
    lambda: [path.unlink(missing_ok=True) for path in scratch.glob("bench.sqlite3*")]
)
os.environ["LAB_TASK_QUEUE"] = f"bench-fair-{os.getpid()}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from celery import current_app  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from academy.accounts.models import User  # noqa: E402
from bench.figures import record  # noqa: E402
from bench.workers import start_workers, stop_workers  # noqa: E402
from labs import runtime, services  # noqa: E402
from labs.models import CheckResult, Lab, LabSession  # noqa: E402
from labs.services import state  # noqa: E402

logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "no hostname": the file broker
BASE = settings.LAB_TASK_QUEUE
PROCFILE_WORKERS = [  # as in the Procfile: (queues, concurrency)
    ([f"{BASE}.provisioning"], 2),
    ([f"{BASE}.checks"], 2),
    (["celery", BASE, f"{BASE}.housekeeping"], 1),
]
ONE_QUEUE_WORKERS = [([BASE], 2)]


def wait_ready(session: LabSession, timeout: float = 300) -> float:
    """Seconds from now until the session is ready."""
    started = time.perf_counter()
    while session.state != LabSession.State.READY:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"session {session.pk} not ready after {timeout:.0f} s")
        if not session.is_live:
            raise SystemExit(f"session {session.pk} failed: {session.error}")
        time.sleep(0.05)
        session.refresh_from_db()
    return time.perf_counter() - started


def time_to_ready(user: User, lab: Lab) -> float:
    started = time.perf_counter()
    session = services.lab_session_start(user=user, lab=lab)
    wait_ready(session)
    seconds = time.perf_counter() - started
    services.lab_session_stop(session=session)
    return seconds


def purge(queues: list[str]) -> int:
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        return sum(channel.queue_purge(queue) or 0 for queue in queues)


def run_setup(name: str, specs, lab: Lab, checks: int, one_queue: bool) -> dict:
    log_dir = scratch / name.replace(" ", "-")
    log_dir.mkdir()
    # The sender picks the queue: the setup before sent every kind of work to one queue.
    original = state.task_queue
    if one_queue:
        state.task_queue = lambda kind, host=None: BASE
    workers = start_workers(specs, log_dir)
    try:
        flooder = User.objects.create(username=f"flooder-{name[:3]}")
        a = services.lab_session_start(user=flooder, lab=lab)
        wait_ready(a)
        quiet = [time_to_ready(User.objects.create(username=f"quiet-{name[:3]}-0"), lab)]
        step = lab.steps.order_by("number").first()
        queue = state.task_queue("checks")
        before = CheckResult.objects.filter(session=a).count()
        for _ in range(checks):
            current_app.send_task("labs.tasks.check", args=(a.pk, step.pk, "en"), queue=queue)
        started = time.perf_counter()
        b = services.lab_session_start(user=User.objects.create(username=f"b-{name[:3]}"), lab=lab)
        wait_ready(b)
        flooded = time.perf_counter() - started
        ran = CheckResult.objects.filter(session=a).count() - before
        left = purge([queue])
        services.lab_session_stop(session=b)
        services.lab_session_stop(session=a)
        time.sleep(3)  # the checks still running on A's (now gone) sandbox end
        quiet.append(time_to_ready(User.objects.create(username=f"quiet-{name[:3]}-1"), lab))
    finally:
        stop_workers(workers)
        state.task_queue = original
    return {"quiet": quiet, "flooded": flooded, "ran": ran, "left": left}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200, help="check tasks in the flood")
    parser.add_argument("--lab", default="first-steady-state")
    parser.add_argument("--skip-one-queue", action="store_true", help="only the Procfile setup")
    args = parser.parse_args()
    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers.")
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    lab = Lab.objects.get(key=args.lab)
    setups = [("queue per kind", PROCFILE_WORKERS, False)]
    if not args.skip_one_queue:
        setups.append(("one queue", ONE_QUEUE_WORKERS, True))
    print(f"lab {lab.key}; learner A floods {args.checks} checks, learner B starts the lab")
    print(
        f"{'setup':<16} {'B ready, no flood (before/after)':>33} {'B ready, flood':>15} "
        f"{'checks run meanwhile':>21} {'checks left':>12}"
    )
    for name, specs, one_queue in setups:
        result = run_setup(name, specs, lab, args.checks, one_queue)
        before, after = result["quiet"]
        print(
            f"{name:<16} {before:>22.1f} s / {after:>4.1f} s {result['flooded']:>13.1f} s "
            f"{result['ran']:>21} {result['left']:>12}",
            flush=True,
        )
        record(
            f"check flood: learner B ready while A floods, {name}",
            result["flooded"],
            "s",
            baseline="the same start with no flood, same run (mean of before and after)",
            baseline_value=(before + after) / 2,
            notes=f"{args.checks} checks sent, {result['ran']} ran meanwhile, "
            f"{result['left']} left in the queue",
        )
    print(f"(no flood: the same start just before the flood and just after it; logs in {scratch})")


if __name__ == "__main__":
    main()
