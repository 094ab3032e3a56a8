#!/usr/bin/env python3
"""Figures for the learning side and the lab path, on a scratch database.

    .venv/bin/python bench/bench_site.py [--requests 50] [--labs 3]

Prints: sync_content (first run, second run), page times through Django's test client
(catalogue, course, lesson), and, when a Docker engine answers, lab start-to-ready through a real
Celery worker, check time and stop time.
"""

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-"))
atexit.register(shutil.rmtree, scratch, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-{os.getpid()}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from bench.figures import record  # noqa: E402
from bench.workers import start_workers, stop_workers  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def pages(requests: int) -> None:
    from academy.courses.models import Course, Lesson

    setup_test_environment()
    client = Client()
    course = Course.objects.published().first()
    lesson = Lesson.objects.published().first()
    for name, url in [
        ("catalogue (es)", "/es/cursos/"),
        ("course page (en)", course.get_absolute_url()),
        ("lesson page (en)", lesson.get_absolute_url()),
    ]:
        client.get(url)  # warm up
        times = [timed(lambda url=url: client.get(url)) for _ in range(requests)]
        record(
            f"GET {name} (test client, one at a time), median",
            statistics.median(times),
            "s",
            notes=f"{requests} requests; under load: see the bench_http figures",
        )
        print(
            f"GET {name:<18} median {ms(statistics.median(times))}, "
            f"p90 {ms(sorted(times)[int(len(times) * 0.9) - 1])} over {requests}"
        )


def labs(rounds: int) -> None:
    from academy.accounts.models import User
    from labs import runtime, services
    from labs.models import Lab, LabSession
    from labs.services.state import task_queues

    if not runtime.engine_ping():
        print("lab figures skipped: no Docker engine answers")
        return
    workers = start_workers([(task_queues(), 2)], scratch, name="bench-site")
    try:
        lab = Lab.objects.get(key="first-steady-state")
        ready, check, stop = [], [], []
        for number in range(rounds):
            user, _ = User.objects.get_or_create(username=f"bench{number}")
            started = time.perf_counter()
            session = services.lab_session_start(user=user, lab=lab)
            while session.state != LabSession.State.READY:
                time.sleep(0.05)
                session.refresh_from_db()
                if not session.is_live:
                    raise SystemExit(f"session failed: {session.error}")
            ready.append(time.perf_counter() - started)
            step = lab.steps.get(number=1)
            started = time.perf_counter()
            services.lab_session_check(session=session, step=step)
            check.append(time.perf_counter() - started)
            started = time.perf_counter()
            services.lab_session_stop(session=session)
            stop.append(time.perf_counter() - started)
        print(
            f"lab start-to-ready (3 containers, via worker) median {ms(statistics.median(ready))}"
            f" (min {ms(min(ready))}, max {ms(max(ready))}) over {rounds}"
        )
        print(f"lab check (one step)                  median {ms(statistics.median(check))}")
        print(f"lab stop (destroy sandbox)            median {ms(statistics.median(stop))}")
    finally:
        stop_workers(workers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--labs", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        first = timed(lambda: call_command("sync_content", stdout=quiet))
        second = timed(lambda: call_command("sync_content", stdout=quiet))
    record("sync_content, first run", first, "s")
    record("sync_content, second run (nothing to do)", second, "s")
    print(f"sync_content, first run  {ms(first)}")
    print(f"sync_content, second run {ms(second)} (nothing to do)")
    pages(args.requests)
    if args.labs:
        labs(args.labs)


if __name__ == "__main__":
    main()
