"""Drill: restart the Docker engine under live lab sessions, and print what survived.

    sudo .venv/bin/python bench/drill_engine_restart.py [--lab first-steady-state] [--sessions 3]
        [--settle 5] [--restore] [--keep] [--no-restart]

Starts N sessions of a lab (provisioned here, no worker needed), stops dockerd (the one
scripts/ensure-docker.sh started: pid in var/dockerd.pid) with SIGTERM, starts it again with
scripts/ensure-docker.sh (which passes --live-restore), then prints per session whether its
containers kept running (the same containers, still running) and whether the platform's view,
after one watch (labs.services.health), matches the engine's. With --restore, broken sessions are
restored and checked again. The sessions are stopped at the end unless --keep.

It disturbs every container on the engine for the few seconds the engine is away (with live
restore the containers keep running, but nothing can be started, exec'd or listed), so run it
when nobody else's tests use the engine. Live restore takes effect only for an engine started
with it: on an engine that runs without it (the drill says so first) this restart stops every
container, and the one after it keeps them. --no-restart runs everything but the restart.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from labs import runtime, services  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402

State = LabSession.State
DRILL_USER = "engine-drill"


def live_restore_enabled() -> str:
    """What the running engine says: "true", "false", or "?" when it does not answer."""
    result = subprocess.run(
        ["docker", "info", "--format", "{{.LiveRestoreEnabled}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout.strip() or "?"


def start_sessions(lab: Lab, count: int) -> list[LabSession]:
    """Ready sessions, provisioned in this process, each for its own drill user."""
    sessions = []
    for number in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"{DRILL_USER}-{number}")
        for stale in LabSession.objects.live().filter(user=user, lab=lab):
            services.lab_session_stop(session=stale)
        session = LabSession.objects.create(user=user, lab=lab, state=State.PROVISIONING)
        started = time.monotonic()
        services.lab_session_provision(session=session)
        session.refresh_from_db()
        if session.state != State.READY:
            raise SystemExit(f"session {session.pk} did not start: {session.error}")
        print(f"session {session.pk}: ready in {time.monotonic() - started:.1f} s")
        sessions.append(session)
    return sessions


def running_containers(session: LabSession) -> dict[str, str]:
    """Container name -> id, for the session's containers that run now."""
    states = runtime.container_states(labels=services.session_labels(session))
    return {
        name: container_id
        for name, container_id in session.sandbox["containers"].items()
        if container_id in states and states[container_id].status == "running"
    }


def restart_engine(timeout: float) -> float:
    """SIGTERM the dockerd of var/dockerd.pid, start it with scripts/ensure-docker.sh; returns
    the seconds the engine was away."""
    pid_file = ROOT / "var" / "dockerd.pid"
    if not pid_file.exists():
        raise SystemExit(
            "No var/dockerd.pid: this engine was not started by scripts/ensure-docker.sh; "
            "restart it your own way (systemctl restart docker) and run with --no-restart."
        )
    pid = int(pid_file.read_text().strip())
    started = time.monotonic()
    print(f"stopping dockerd (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"dockerd (pid {pid}) did not stop within {timeout:.0f} s")
    print("starting dockerd with scripts/ensure-docker.sh")
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-docker.sh")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not runtime.engine_ping():
        raise SystemExit(f"the engine did not come back:\n{result.stdout}{result.stderr}")
    return time.monotonic() - started


def report(sessions: list[LabSession], before: dict[int, dict[str, str]]) -> int:
    """One line per session; returns how many the platform sees wrongly."""
    wrong = 0
    print(f"{'session':>8}  {'kept running':<28} {'engine says':<12} {'platform says':<14} match")
    for session in sessions:
        session.refresh_from_db()
        now = running_containers(session)
        kept = [name for name, cid in before[session.pk].items() if now.get(name) == cid]
        total = len(session.sandbox.get("containers") or {})
        states = runtime.container_states(labels=services.session_labels(session))
        broken = services.sandbox_diagnose(session=session, states=states)
        engine = "broken" if broken else "healthy"
        platform = "broken" if session.problem else "running"
        match = (broken is None) == (not session.problem)
        wrong += not match
        print(
            f"{session.pk:>8}  {len(kept)}/{total} {', '.join(kept) or '-':<24} {engine:<12} "
            f"{platform:<14} {'yes' if match else 'NO'}"
        )
        if session.problem:
            print(f"{'':>10}{services.problem_text(session.problem)}")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="first-steady-state", help="lab key (first-steady-state)")
    parser.add_argument("--sessions", type=int, default=3, help="live sessions (3)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait after (5)")
    parser.add_argument("--timeout", type=float, default=60, help="for dockerd to stop (60)")
    parser.add_argument("--restore", action="store_true", help="restore broken sessions")
    parser.add_argument("--keep", action="store_true", help="leave the sessions running")
    parser.add_argument("--no-restart", action="store_true", help="everything but the restart")
    args = parser.parse_args()

    if not runtime.engine_ping():
        raise SystemExit("No Docker engine answers: start one with scripts/ensure-docker.sh.")
    lab = Lab.objects.published().filter(key=args.lab).first()
    if lab is None:
        raise SystemExit(f"No lab {args.lab!r} (manage.py sync_content; manage.py lab list).")
    live_restore = live_restore_enabled()
    print(f"live restore on the running engine: {live_restore}")
    if live_restore != "true" and not args.no_restart:
        print(
            "  this restart stops every container on the engine; the engine comes back with "
            "--live-restore, so the next restart keeps them"
        )
    sessions = start_sessions(lab, args.sessions)
    before = {session.pk: running_containers(session) for session in sessions}
    try:
        if args.no_restart:
            print("not restarting the engine (--no-restart)")
        else:
            away = restart_engine(args.timeout)
            print(f"engine back after {away:.1f} s; live restore now: {live_restore_enabled()}")
        time.sleep(args.settle)
        counts = services.lab_sessions_watch()
        print(f"watch: {counts}")
        wrong = report(sessions, before)
        if args.restore:
            for session in sessions:
                session.refresh_from_db()
                if session.problem:
                    started = time.monotonic()
                    done = services.lab_session_restore(session=session)
                    print(
                        f"session {session.pk}: {'restored' if done else 'NOT restored'} in "
                        f"{time.monotonic() - started:.1f} s"
                    )
            wrong = report(sessions, before)
        print(
            "the platform's view matches the engine for every session"
            if not wrong
            else f"{wrong} session(s) where the platform's view does not match the engine"
        )
    finally:
        if not args.keep:
            for session in sessions:
                services.lab_session_stop(session=session)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
