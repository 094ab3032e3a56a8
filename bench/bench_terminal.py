#!/usr/bin/env python3
"""How fast the browser terminal feels, over a real server and a real websocket.

    .venv/bin/python bench/bench_terminal.py [--rounds 5] [--keys 20]

On a scratch database: provisions one session of the first lab in content/ (no worker needed),
serves the site with uvicorn on 127.0.0.1, and connects as the learner's browser would (Origin,
session cookie). Prints the time from websocket connect to the first output and to the first
prompt (a fresh tmux session, then reconnects to it), and the echo round trip of single
keystrokes (median and p90). Baseline, in the same run on the same container: a raw `docker
exec` of bash with a TTY, attached with the Docker SDK (no server, no websocket, no tmux): its
time to the first prompt and its keystroke echo. Needs a Docker engine and the lab images (built
if missing).
"""

import argparse
import asyncio
import atexit
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
scratch = Path(tempfile.mkdtemp(prefix="academy-bench-terminal-"))
atexit.register(shutil.rmtree, scratch, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
os.environ["LAB_TASK_QUEUE"] = f"bench-{os.getpid()}"  # nobody listens: no task runs
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

import docker  # noqa: E402
import uvicorn  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.figures import p50, p95, record  # noqa: E402

PROMPT = b"$ "


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def serve() -> tuple[uvicorn.Server, int]:
    from academy.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, port


async def first_output(url: str, headers: dict[str, str]) -> tuple[float, float]:
    """Seconds from connect to the first output frame, and to the first prompt."""
    started = time.perf_counter()
    async with connect(url, additional_headers=headers) as ws:
        output, first = b"", None
        while PROMPT not in output:
            message = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(message, bytes):
                first = first or time.perf_counter() - started
                output += message
        return first, time.perf_counter() - started


async def keystrokes(url: str, headers: dict[str, str], count: int) -> list[float]:
    """Round trip of one keystroke: sent, echoed by the shell, drawn by tmux, received."""
    async with connect(url, additional_headers=headers) as ws:
        output = b""
        while PROMPT not in output:
            message = await asyncio.wait_for(ws.recv(), 20)
            output += message if isinstance(message, bytes) else b""
        times = []
        for index in range(count):
            key = "abcdefghijklmnopqrstuvwxyz"[index % 26].encode()
            started = time.perf_counter()
            await ws.send(key)
            echoed = b""
            while key not in echoed:
                message = await asyncio.wait_for(ws.recv(), 10)
                echoed += message if isinstance(message, bytes) else b""
            times.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)  # typing speed, not a paste
        await ws.send(b"\x15")  # ^U: leave the line empty
        return times


def raw_exec(container_id: str, count: int) -> tuple[float, list[float]]:
    """The baseline: `docker exec -it` of bash in the same container as the learner, attached
    with the Docker SDK. Seconds to the first prompt, and each keystroke's echo."""
    api = docker.APIClient()
    started = time.perf_counter()
    exec_id = api.exec_create(
        container_id,
        ["bash", "--norc", "--noprofile", "-i"],
        user="learner",
        stdin=True,
        tty=True,
        environment={"TERM": "xterm-256color", "PS1": "$ "},
    )["Id"]
    sock = api.exec_start(exec_id, tty=True, socket=True)
    raw = sock._sock  # the attached stream itself, as a terminal client would hold it
    raw.settimeout(10)
    try:
        output = b""
        while PROMPT not in output:
            output += raw.recv(65536)
        prompt = time.perf_counter() - started
        times = []
        for index in range(count):
            key = "abcdefghijklmnopqrstuvwxyz"[index % 26].encode()
            started = time.perf_counter()
            raw.sendall(key)
            echoed = b""
            while key not in echoed:
                echoed += raw.recv(65536)
            times.append(time.perf_counter() - started)
            time.sleep(0.05)  # typing speed, as for the academy's terminal
        raw.sendall(b"\x15exit\r")
        return prompt, times
    finally:
        sock.close()
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="connects to time (5)")
    parser.add_argument("--keys", type=int, default=20, help="keystrokes to time (20)")
    args = parser.parse_args()

    from academy.accounts.models import User
    from academy.courses.services import content_sync
    from labs import runtime, services
    from labs.images.build import build_lab_images
    from labs.models import Lab, LabSession

    if not runtime.engine_ping():
        sys.exit("No Docker engine answers: start one with scripts/ensure-docker.sh.")
    build_lab_images()
    call_command("migrate", verbosity=0)
    content_sync(root=settings.CONTENT_DIR)
    lab = Lab.objects.published().first()
    user = User.objects.create_user("bench", "bench@example.org", "bench-password-1234")
    session = LabSession.objects.create(lab=lab, user=user, state=LabSession.State.PROVISIONING)
    started = time.perf_counter()
    services.lab_session_provision(session=session)
    session.refresh_from_db()
    print(f"lab {lab.key}: provisioned in {ms(time.perf_counter() - started)} ({session.state})")
    server, port = serve()
    client = Client()
    client.force_login(user)
    headers = {
        "Origin": f"http://127.0.0.1:{port}",
        "Cookie": f"sessionid={client.cookies['sessionid'].value}",
    }
    url = f"ws://127.0.0.1:{port}/ws/labs/sessions/{session.pk}/terminal/?cols=120&rows=40"
    shell = session.sandbox["containers"][lab.shell_container]
    try:
        raw_prompt, raw_keys = raw_exec(shell, args.keys)
        print(
            f"baseline, raw docker exec -it bash: -> first prompt {ms(raw_prompt)}; keystroke "
            f"echo median {ms(statistics.median(raw_keys))}, p90 "
            f"{ms(sorted(raw_keys)[int(len(raw_keys) * 0.9) - 1])}"
        )
        first, prompt = asyncio.run(first_output(url, headers))
        print(f"connect -> first output {ms(first)}, -> first prompt {ms(prompt)}  (new shell)")
        again = [asyncio.run(first_output(url, headers)) for _ in range(args.rounds)]
        print(
            f"connect -> first output {ms(statistics.median(t[0] for t in again))}, "
            f"-> prompt {ms(statistics.median(t[1] for t in again))}  "
            f"(reconnect to the same shell, median of {args.rounds})"
        )
        times = sorted(asyncio.run(keystrokes(url, headers, args.keys)))
        print(
            f"keystroke echo round trip: median {ms(statistics.median(times))}, "
            f"p90 {ms(times[int(len(times) * 0.9) - 1])}, max {ms(times[-1])} "
            f"over {args.keys} keys"
        )
        raw_name = "raw docker exec -it bash, attached with the Docker SDK"
        record(
            "terminal: connect to first prompt (new shell)",
            prompt,
            "s",
            baseline=raw_name,
            baseline_value=raw_prompt,
            notes="browser path: uvicorn, websocket, tmux",
        )
        reconnect = statistics.median(t[1] for t in again)
        record(
            "terminal: reconnect to prompt, median",
            reconnect,
            "s",
            baseline=raw_name,
            baseline_value=raw_prompt,
            notes=f"median of {args.rounds}",
        )
        for label, pick in (("p50", p50), ("p95", p95)):
            record(
                f"terminal keystroke round trip, {label}",
                pick(times),
                "s",
                baseline=raw_name,
                baseline_value=pick(raw_keys),
                notes=f"{args.keys} keys, one at a time",
            )
    finally:
        server.should_exit = True
        services.lab_session_stop(session=session)


if __name__ == "__main__":
    main()
