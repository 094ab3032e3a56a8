#!/usr/bin/env python3
"""Lab time-to-ready (cold and from the warm pool) and check latency, each beside the same work
done with the Docker SDK alone, in the same run.

    .venv/bin/python bench/bench_ready.py [--rounds 20] [--checks 10] [--lab first-steady-state]
                                          [--redis auto|on|off] [--idle-seconds 10]

On a scratch database with the project's content and real Celery workers (provisioning 2 slots,
checks 2, as the Procfile runs them) on the real Docker engine, with the broker `make run` uses
(CELERY_BROKER_URL, the filesystem by default):

- cold: a learner starts the lab with no warm pool; seconds from lab_session_start until the
  session is ready (the queue, the worker, the sandbox, the root-only scripts, the setup);
- warm: the lab's warm pool is filled first (not timed), then each start takes a pooled one;
- raw: the same containers (images, limits, capabilities, tmpfs, the per-sandbox internal
  network, the /opt/lab volume), the same setup script put in place and run as root, with the
  Docker SDK and nothing else: the engine's floor. Made one after another (the figures'
  baseline), and side by side as the academy's runtime makes them (printed, and recorded);
- check: the learner's Check, from the POST to the check view (the rate limits, the in-flight
  marker, the queue, the worker) until the verdict is stored, and until the lab page, polling the
  status view as static/js/lab.js does (at once, then every 200 ms, later every second, while a
  check is pending), shows it; the service alone (lab_session_check, as the worker runs it) until
  the verdict is stored and until it returns (the journals it reads after the verdict); beside a raw
  `docker exec` of the same check script in the same container. Each check starts once the previous
  one is over, journals included, as a learner who reads a verdict before clicking again;
- idle: the CPU the checks worker uses while nothing comes, waiting on its broker.

With Redis (`redis-server` on PATH, --redis auto; or on), the cold starts, the checks through
the queue and the idle worker are measured again with a Redis of this run's own as the broker
(the production path: delivery is pushed, not polled), in a second process.

Prints p50 and p95 of each. Everything it starts is removed at the end (the academy's sandboxes
by their instance label, the raw ones by a label of this run, the Redis server).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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
from django.db import connection, transaction  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import translation  # noqa: E402

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
# static/js/lab.js: the page reads the status at once after a Check, then every 200 ms for the
# first 3 s of the check, then every second while it is pending.
PAGE_POLL_SECONDS = 0.2
PAGE_POLL_QUICK_FOR = 3.0
PAGE_POLL_SLOW_SECONDS = 1.0
State = LabSession.State


def broker_name() -> str:
    url = current_app.conf.broker_url or ""
    if url.startswith("filesystem"):
        interval = (current_app.conf.broker_transport_options or {}).get("polling_interval")
        return f"filesystem broker, polled every {interval or 1.0:g} s"
    return f"{url.partition(':')[0]} broker"


def wait_ready(session: LabSession, timeout: float = 300) -> None:
    started = time.perf_counter()
    while session.state != State.READY:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"session {session.pk} not ready after {timeout:.0f} s")
        if not session.is_live:
            raise SystemExit(f"session {session.pk} failed: {session.error}")
        time.sleep(0.005)
        session.refresh_from_db()


# --- The academy --------------------------------------------------------------------------------


def cold_starts(lab: Lab, rounds: int, prefix: str = "cold") -> list[float]:
    times = []
    for number in range(rounds):
        user = User.objects.create(username=f"{prefix}-{number}")
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


class PagePoll(threading.Thread):
    """The lab page after a Check: reads the status view at once, then every second, until it
    shows a result of ``step_number`` newer than ``after``; ``seconds`` from ``started``."""

    def __init__(self, client: Client, url: str, step_number: int, after: int, started: float):
        super().__init__(daemon=True)
        self.client, self.url, self.step_number, self.after = client, url, step_number, after
        self.started = started
        self.seconds: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                status = self.client.get(self.url).json()
                if any(
                    step["number"] == self.step_number
                    and step["result"]
                    and step["result"]["id"] > self.after
                    for step in status["steps"]
                ):
                    self.seconds = time.perf_counter() - self.started
                    return
                quick = time.perf_counter() - self.started < PAGE_POLL_QUICK_FOR
                self.stop.wait(PAGE_POLL_SECONDS if quick else PAGE_POLL_SLOW_SECONDS)
        finally:
            connection.close()  # this thread's own


def check_over(session: LabSession, journals_before, timeout: float = 15) -> None:
    """Until the worker is done with the check: the verdict is stored, the journals it reads
    afterwards too, and the session is no longer checking."""
    deadline = time.monotonic() + timeout
    while True:
        session.refresh_from_db()
        if session.state != State.CHECKING and session.journals_collected_at != journals_before:
            return
        if time.monotonic() > deadline:  # the journals could not be read: go on all the same
            return
        time.sleep(0.01)


def checks(lab: Lab, count: int, *, queued_only: bool = False) -> dict[str, list[float]]:
    """The first step's check on one ready session: from the POST to the check view until the
    verdict is stored and until the page shows it; the service alone, until the verdict is
    stored and until it returns; and a raw docker exec of the same script in the same
    container."""
    user = User.objects.create(username="checker")
    session = services.lab_session_start(user=user, lab=lab)
    wait_ready(session)
    step = lab.steps.order_by("number").first()
    container_id = session.sandbox["containers"][step.check_container or lab.shell_container]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    with translation.override("en"):
        check_url = reverse("labs:check", kwargs={"session_id": session.pk, "number": step.number})
        status_url = reverse("labs:status", kwargs={"session_id": session.pk})
    stored_at: list[float] = []  # when a result this process makes is committed

    def stamp(sender, instance, created, **kwargs):
        if created:
            transaction.on_commit(lambda: stored_at.append(time.perf_counter()))

    post_save.connect(stamp, sender=CheckResult, dispatch_uid="bench-ready-stored")
    engine = docker.from_env()
    container = engine.containers.get(container_id)
    figures: dict[str, list[float]] = {
        key: [] for key in ("queued", "shown", "service_stored", "service", "raw")
    }
    page_client = Client(HTTP_HOST="127.0.0.1")
    page_client.force_login(user)
    results = CheckResult.objects.filter(session=session)
    try:
        for _ in range(count):
            time.sleep(0.2)  # the learner reads the verdict before clicking again
            after = results.order_by("-pk").values_list("pk", flat=True).first() or 0
            session.refresh_from_db()
            journals_before = session.journals_collected_at
            started = time.perf_counter()
            response = client.post(check_url)
            # The page polls once the POST has answered, beside this thread's watch.
            page = PagePoll(page_client, status_url, step.number, after, started)
            page.start()
            if response.status_code != 202 or response.json().get("pending"):
                raise SystemExit(f"the check was not queued: {response.status_code} {response}")
            while not results.filter(pk__gt=after).exists():
                if time.perf_counter() - started > 120:
                    raise SystemExit("a queued check did not finish in 120 s")
                time.sleep(0.002)
            figures["queued"].append(time.perf_counter() - started)
            page.join(timeout=120)
            page.stop.set()
            if page.seconds is None:
                raise SystemExit("the page never showed the verdict")
            figures["shown"].append(page.seconds)
            check_over(session, journals_before)
            if queued_only:
                continue
            stored_at.clear()
            started = time.perf_counter()
            services.lab_session_check(session=session, step=step)
            figures["service"].append(time.perf_counter() - started)
            figures["service_stored"].append(stored_at[0] - started)
            started = time.perf_counter()
            container.exec_run(
                ["/bin/bash", f"{SCRIPTS_DIR}/steps/{step.key}.check.sh"],
                user="root",
                environment=check_environment("en"),
                workdir=CHECK_WORKDIR,
            )
            figures["raw"].append(time.perf_counter() - started)
    finally:
        post_save.disconnect(sender=CheckResult, dispatch_uid="bench-ready-stored")
        engine.close()
        services.lab_session_stop(session=session)
    return figures


def idle_cpu(worker: subprocess.Popen, seconds: float) -> float:
    """Percent of one CPU the worker's processes (its process group) use over ``seconds``."""
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == worker.pid:  # its process group
                    total += int(fields[11]) + int(fields[12])
        return total / tick

    time.sleep(2)  # the last task's ack and clean-up
    before, started = used(), time.monotonic()
    time.sleep(seconds)
    return (used() - before) / (time.monotonic() - started) * 100


# --- The engine's floor: the same sandbox with the Docker SDK alone (bench/raw.py) --------------


def raw_starts(lab: Lab, rounds: int, *, side_by_side: bool = False) -> list[float]:
    engine = docker.from_env()
    times = []
    try:
        for number in range(rounds):
            sandbox = raw_sandbox(
                engine,
                lab=lab,
                label=RUN_LABEL,
                run_id=RUN_ID,
                number=number,
                side_by_side=side_by_side,
            )
            times.append(sandbox.seconds)
            raw_cleanup(engine, label=RUN_LABEL, run_id=RUN_ID)
    finally:
        raw_cleanup(engine, label=RUN_LABEL, run_id=RUN_ID)
        engine.close()
    return times


# --- Redis as the broker, in a second process -----------------------------------------------------


def redis_start(folder: Path) -> tuple[subprocess.Popen, str]:
    """A Redis of this run's own, on a free loopback port, writing nothing to disk."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(folder / "redis.log", "w")  # noqa: SIM115 (the server's, until it stops)
    command = [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return server, f"redis://127.0.0.1:{port}/0"
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"redis-server did not start: {(folder / 'redis.log').read_text()}")
        time.sleep(0.1)


def redis_run(args: argparse.Namespace) -> None:
    """This benchmark again in a second process, with a Redis of its own as the broker."""
    server, url = redis_start(scratch)
    try:
        counts = ["--rounds", str(args.rounds), "--checks", str(args.checks)]
        counts += ["--idle-seconds", str(args.idle_seconds)]
        python = [sys.executable, "-P"] if sys.flags.safe_path else [sys.executable]
        ran = subprocess.run(
            [*python, __file__, "--redis-child", *counts, "--lab", args.lab],
            env={**os.environ, "CELERY_BROKER_URL": url},
        )
        if ran.returncode != 0:  # the first part's figures are recorded already
            raise SystemExit(f"the run with Redis as the broker failed (exit {ran.returncode})")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


# --- The run -------------------------------------------------------------------------------------


def purge() -> None:
    with current_app.connection_for_write() as broker:
        for queue in QUEUES:
            with contextlib.suppress(Exception):  # a queue nobody declared: nothing to purge
                broker.default_channel.queue_purge(queue)


def line(name: str, values: list[float]) -> str:
    return (
        f"{name:<62} p50 {p50(values) * 1000:8.0f} ms   p95 {p95(values) * 1000:8.0f} ms"
        f"   ({len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="starts of each kind (20)")
    parser.add_argument("--checks", type=int, default=10, help="checks of each kind (10)")
    parser.add_argument("--batch", type=int, default=5, help="warm pool filled this many at once")
    parser.add_argument("--lab", default="first-steady-state")
    parser.add_argument(
        "--redis",
        choices=("auto", "on", "off"),
        default="auto",
        help="measure again with Redis as the broker (auto: when redis-server is installed)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=10, help="the idle worker is measured this long"
    )
    parser.add_argument("--redis-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers.")
    with_redis = not args.redis_child and (
        args.redis == "on" or (args.redis == "auto" and shutil.which("redis-server"))
    )
    if args.redis == "on" and not shutil.which("redis-server"):
        raise SystemExit("--redis on needs redis-server on PATH.")
    room = max(args.batch, 2) + 10
    settings.LAB_MAX_RUNNING_SESSIONS = room
    os.environ["LAB_MAX_RUNNING_SESSIONS"] = str(room)  # the workers' too
    settings.LAB_RATE_LIMITS = {}  # the check view's: one learner clicks many times here
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("sync_content", stdout=quiet)
    Lab.objects.update(warm_pool_size=0)  # only this benchmark fills a pool, only this lab's
    lab = Lab.objects.get(key=args.lab)
    broker = broker_name()
    print(f"lab {lab.key}: {len(services.container_specs(lab))} containers; {broker}", flush=True)
    workers = start_workers(WORKERS, scratch, name="ready")
    try:
        if args.redis_child:
            cold = cold_starts(lab, args.rounds)
            print(line(f"academy, cold: start until ready ({broker})", cold), flush=True)
            found = checks(lab, args.checks, queued_only=True)
            print(line(f"check: POST until stored ({broker})", found["queued"]))
            print(line(f"check: POST until the page shows it ({broker})", found["shown"]))
            idle = idle_cpu(workers[1], args.idle_seconds)
            print(f"checks worker idle, {broker}: {idle:.2f} % of a CPU", flush=True)
        else:
            raw = raw_starts(lab, args.rounds)
            print(line("raw docker SDK: same containers + setup script", raw), flush=True)
            raw_side = raw_starts(lab, args.rounds, side_by_side=True)
            print(line("raw docker SDK, containers started side by side", raw_side), flush=True)
            cold = cold_starts(lab, args.rounds)
            print(line("academy, cold: start until ready", cold), flush=True)
            warm = warm_starts(lab, args.rounds, max(1, args.batch))
            print(line("academy, warm pool: start until ready", warm), flush=True)
            found = checks(lab, args.checks)
            print(line("raw docker exec of the check script", found["raw"]))
            print(line("check service until the verdict is stored", found["service_stored"]))
            print(
                line("check service call (the journals read after the verdict)", found["service"])
            )
            print(line("check: POST, queue, worker, until stored", found["queued"]))
            print(
                line("check: POST until the page (lab.js's status poll) shows it", found["shown"])
            )
            idle = idle_cpu(workers[1], args.idle_seconds)
            print(f"checks worker idle, {broker}: {idle:.2f} % of a CPU", flush=True)
    finally:
        stop_workers(workers)
        purge()
        left = runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        for sandbox_id in {resource.labels.get("academy.sandbox") for resource in left}:
            if sandbox_id:
                runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
        if not with_redis:
            shutil.rmtree(scratch, ignore_errors=True)

    if args.redis_child:
        record_redis(args, lab, cold, found, idle, broker)
        return
    record_all(args, lab, raw, raw_side, cold, warm, found, idle, broker)
    if with_redis:
        try:
            redis_run(args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def record_all(args, lab, raw, raw_side, cold, warm, found, idle, broker) -> None:
    notes = f"lab {lab.key}, {args.rounds} starts each, {broker}"
    raw_name = "raw docker SDK run of the same containers + setup script"
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
    record(
        "lab time-to-ready cold, p50, beside raw side by side",
        p50(cold),
        "s",
        baseline=f"{raw_name}, the containers started side by side",
        baseline_value=p50(raw_side),
        notes=notes,
    )
    notes = f"lab {lab.key}, first step, {args.checks} checks each, {broker}"
    raw_name = "raw docker exec of the same check script"
    for kind, key in (
        ("through queue + worker", "queued"),
        ("until the page shows it", "shown"),
        ("service, until stored", "service_stored"),
        ("service call", "service"),
    ):
        for label, pick in (("p50", p50), ("p95", p95)):
            record(
                f"check latency {kind}, {label}",
                pick(found[key]),
                "s",
                baseline=raw_name,
                baseline_value=pick(found["raw"]),
                notes=notes,
            )
    record("checks worker idle CPU", idle, "%", notes=f"{args.idle_seconds:g} s, {broker}")


def record_redis(args, lab, cold, found, idle, broker) -> None:
    """Beside the same figures with the filesystem broker, measured in the same run."""
    notes = f"lab {lab.key}, {broker}"
    for name, values in (
        ("lab time-to-ready cold", cold),
        ("check latency through queue + worker", found["queued"]),
        ("check latency until the page shows it", found["shown"]),
    ):
        record(f"{name}, p50, Redis broker", p50(values), "s", notes=notes)
    record("checks worker idle CPU, Redis broker", idle, "%", notes=notes)


if __name__ == "__main__":
    main()
