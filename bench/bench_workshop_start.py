#!/usr/bin/env python3
"""A room presses Start at once: 30 attendees, time until every one has a ready lab.

    .venv/bin/python bench/bench_workshop_start.py [--attendees 30] [--lab first-steady-state]

On a scratch database with the project's content and real Celery workers (as the Procfile
runs them: provisioning with 2 slots, housekeeping with 1) on the real Docker engine. Three
figures, measured in the same run:

- raw `docker run`: the lab's containers (same images, limits and per-sandbox network) for
  every attendee, all started at once with the Docker CLI: the engine's floor, no academy;
- without pre-warming: a room whose workshop is not within WORKSHOP_PREWARM_MINUTES, so no warm
  pool waits; every attendee POSTs the lab's Start (the real view, from one NAT address) at once;
- with pre-warming: the workshop's beat round (workshops_tick) warms one sandbox per place
  first (its time is printed too), then the same room presses Start at once.

Prints figures, asserts nothing about time. Everything it starts is removed at the end (the
academy's sandboxes by their instance label, the raw containers by a label of this run).
LAB_MAX_RUNNING_SESSIONS is raised to fit the room, so that the queue does not decide.
30 sandboxes of three containers on two cores is heavy: a few minutes.
"""

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-room-"))
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-room-{os.getpid()}"
os.environ["LAB_WARM_POOL_SIZE"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from academy.accounts.models import User  # noqa: E402
from academy.workshops import ending, services  # noqa: E402
from academy.workshops.models import Workshop  # noqa: E402
from academy.workshops.selectors import course_labs  # noqa: E402
from bench.figures import record  # noqa: E402
from bench.workers import start_workers, stop_workers  # noqa: E402
from labs import runtime  # noqa: E402
from labs import services as lab_services  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402
from labs.services.state import lab_instance  # noqa: E402

logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "no hostname": the file broker
BASE = settings.LAB_TASK_QUEUE
WORKERS = [([f"{BASE}.provisioning"], 2), (["celery", BASE, f"{BASE}.housekeeping"], 1)]
ROOM_ADDRESS = "203.0.113.7"
RUN_LABEL = f"academy.bench-room={os.getpid()}"
State = LabSession.State


# --- The engine's floor: raw docker run ----------------------------------------------------------


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {result.stderr.strip()[-300:]}")
    return result.stdout.strip()


def raw_sandbox(number: int, lab: Lab) -> None:
    """The lab's containers as `docker run` starts them: its network, limits and images."""
    network = f"bench-room-{os.getpid()}-{number}"
    docker("network", "create", "--internal", "--label", RUN_LABEL, network)
    for spec in lab_services.container_specs(lab):
        args = [
            "run",
            "--detach",
            "--init",
            "--label",
            RUN_LABEL,
            "--network",
            network,
            "--network-alias",
            spec.name,
            "--memory",
            f"{spec.memory}m",
            "--cpus",
            str(spec.cpus),
            "--pids-limit",
            str(spec.pids),
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ]
        for cap in spec.cap_add:
            args += ["--cap-add", cap]
        for name, value in spec.env.items():
            args += ["--env", f"{name}={value}"]
        for path, tmpfs in spec.tmpfs.items():
            args += ["--tmpfs", f"{path}:size={tmpfs.size}m"]
        docker(*args, spec.image)


def raw_cleanup() -> None:
    ids = docker("ps", "--all", "--quiet", "--filter", f"label={RUN_LABEL}").split()
    if ids:
        docker("rm", "--force", *ids)
    networks = docker("network", "ls", "--quiet", "--filter", f"label={RUN_LABEL}").split()
    if networks:
        docker("network", "rm", *networks)


def time_raw(count: int, lab: Lab) -> float:
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda number: raw_sandbox(number, lab), range(count)))
        return time.perf_counter() - started
    finally:
        raw_cleanup()


# --- The academy: the room presses Start ---------------------------------------------------------


def room(*, title: str, lab: Lab, count: int, starts_in: timedelta, by: User) -> Workshop:
    now = timezone.now()
    workshop = services.workshop_create(
        created_by=by,
        title=title,
        language="en",
        starts_at=now + starts_in,
        ends_at=now + starts_in + timedelta(hours=2),
        time_zone="UTC",
        course=lab_course(lab),
        labs=[lab],
        capacity=count,
    )
    for number in range(count):
        services.attendee_join(workshop=workshop, display_name=f"{title} {number + 1}")
    return workshop


def lab_course(lab: Lab):
    from academy.courses.models import Course

    for course in Course.objects.published():
        if lab in course_labs(course=course):
            return course
    raise SystemExit(f"{lab.key} practises no published course")


def press_start_at_once(workshop: Workshop, lab: Lab) -> float:
    """Every attendee POSTs the lab's Start from one address at the same moment; seconds until
    every one of them has a ready session."""
    users = [attendee.user for attendee in workshop.attendees.select_related("user")]
    with translation.override("en"):
        url = reverse("labs:start", kwargs={"lab_slug": lab.slug})
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    gate = threading.Barrier(len(clients) + 1)
    codes: list[int] = []

    def press(client: Client) -> None:
        gate.wait()
        try:
            codes.append(client.post(url, REMOTE_ADDR=ROOM_ADDRESS).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    refused = [code for code in codes if code != 302]
    if refused:
        raise SystemExit(f"{len(refused)} starts were refused: {refused[:5]}")
    sessions = LabSession.objects.filter(user__in=users, lab=lab)
    while sessions.filter(state=State.READY).count() < len(users):
        if sessions.filter(state=State.FAILED).exists():
            raise SystemExit(
                f"a session failed: {sessions.filter(state=State.FAILED).first().error}"
            )
        if time.perf_counter() - started > 900:
            raise SystemExit("not all ready after 15 minutes")
        time.sleep(0.1)
    return time.perf_counter() - started


def wait_pool(lab: Lab, count: int) -> float:
    started = time.perf_counter()
    pooled = LabSession.objects.live().pooled().filter(lab=lab)
    while pooled.filter(state=State.READY).count() < count:
        if time.perf_counter() - started > 900:
            raise SystemExit(f"the warm pool has {pooled.filter(state=State.READY).count()}")
        time.sleep(0.2)
    return time.perf_counter() - started


def end_and_wait(workshop: Workshop) -> None:
    services.workshop_end(workshop=workshop)
    deadline = time.monotonic() + 300
    while LabSession.objects.live().exists() or runtime.sandbox_list(
        labels={"academy.instance": lab_instance()}
    ):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=30)
    parser.add_argument("--lab", default="first-steady-state")
    args = parser.parse_args()
    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers.")
    setup_test_environment()  # the test client's host is allowed
    settings.LAB_MAX_RUNNING_SESSIONS = args.attendees + 10
    os.environ["LAB_MAX_RUNNING_SESSIONS"] = str(args.attendees + 10)  # the workers' too
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    lab = Lab.objects.get(key=args.lab)
    instructor = User.objects.create(username="bench-instructor", is_staff=True)
    count = args.attendees
    print(f"lab {lab.key}: {count} attendees press Start at once (2 provisioning slots)")
    raw = time_raw(count, lab)
    print(f"{'raw docker run of the same containers, all at once':<55} {raw:>7.1f} s", flush=True)
    workers = start_workers(WORKERS, scratch, name="room")
    try:
        cold = room(
            title="Cold", lab=lab, count=count, starts_in=timedelta(minutes=40), by=instructor
        )
        seconds = press_start_at_once(cold, lab)
        print(f"{'academy, no warm pool: all ready':<55} {seconds:>7.1f} s", flush=True)
        baseline = "raw docker run of the same containers, all at once"
        record(
            f"burst of {count} lab starts, all ready: no warm pool",
            seconds,
            "s",
            baseline=baseline,
            baseline_value=raw,
            notes=f"lab {lab.key}, 2 provisioning slots",
        )
        end_and_wait(cold)
        warm = room(
            title="Warm", lab=lab, count=count, starts_in=timedelta(minutes=10), by=instructor
        )
        ending.workshops_tick()  # the beat's round: the pre-warm plan asks for the pool
        warming = wait_pool(lab, count)
        print(f"{'academy, warming the pool beforehand (not in the next)':<55} {warming:>7.1f} s")
        seconds = press_start_at_once(warm, lab)
        print(f"{'academy, pre-warmed: all ready':<55} {seconds:>7.1f} s", flush=True)
        record(
            f"burst of {count} lab starts, all ready: pre-warmed pool",
            seconds,
            "s",
            baseline=baseline,
            baseline_value=raw,
            notes=f"lab {lab.key}; warming the pool beforehand took {warming:.1f} s",
        )
        end_and_wait(warm)
    finally:
        stop_workers(workers)
        raw_cleanup()
        left = runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        for sandbox_id in {resource.labels.get("academy.sandbox") for resource in left}:
            if sandbox_id:
                runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
