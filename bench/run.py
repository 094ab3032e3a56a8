#!/usr/bin/env python3
"""Every benchmark in one run: one table, and var/bench/<timestamp>.json (and latest.json).

    .venv/bin/python bench/run.py [--quick] [--only NAME[,NAME...]] [--list]

Runs each benchmark of bench/ as its own process (each keeps its scratch database and cleans up
what it starts), collects the figures each one records (bench/figures.py), and prints them in
one table, each beside the baseline measured in the same run on the same machine, as a ratio
academy / baseline. The JSON file describes the machine too. Each benchmark's own output goes
to var/bench/logs/<timestamp>/<name>.log. --quick runs small counts, to check the plumbing: its
figures say little. Benchmarks print figures; nothing here passes or fails on time (a benchmark
that crashes is reported, and the others still run).

Needs what `make bench` installs (locust, bench/requirements.txt), a Docker engine and the lab
images.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import ENV_FILE, machine, read_figures, report_write, table  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    timeout: int  # seconds, full run


# In the order of the issue's list. bench_labs (each lab's self-test) needs `make run`'s
# processes and drill_engine_restart restarts the engine: neither runs here.
BENCHES = [
    Bench("bench_ready", ("--rounds", "20"), ("--rounds", "2"), 1800),
    Bench("bench_workshop_start", ("--attendees", "30"), ("--attendees", "3"), 2400),
    Bench(
        "bench_density",
        ("--max-sessions", "40"),
        ("--max-sessions", "2", "--step", "1", "--seconds", "4"),
        2400,
    ),
    Bench("bench_http", ("--seconds", "15"), ("--seconds", "5"), 900),
    Bench(
        "bench_terminal", ("--rounds", "5", "--keys", "20"), ("--rounds", "2", "--keys", "5"), 600
    ),
    Bench("bench_exams", ("--candidates", "30"), ("--candidates", "3"), 900),
    Bench("bench_fairness", ("--checks", "200"), ("--checks", "10", "--skip-one-queue"), 1800),
    Bench("bench_results", ("--requests", "30"), ("--requests", "5"), 600),
    Bench(
        "bench_sandbox", ("--rounds", "5", "--execs", "30"), ("--rounds", "1", "--execs", "5"), 600
    ),
    Bench("bench_faults", ("--rounds", "10"), ("--rounds", "2"), 600),
    Bench(
        "bench_site", ("--requests", "50", "--labs", "0"), ("--requests", "5", "--labs", "0"), 600
    ),
]


def run_one(bench: Bench, *, quick: bool, figures_file: Path, log_dir: Path) -> dict:
    args = bench.quick if quick else bench.full
    command = [sys.executable, str(ROOT / "bench" / f"{bench.name}.py"), *args]
    log_path = log_dir / f"{bench.name}.log"
    env = {**os.environ, ENV_FILE: str(figures_file), "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    print(f"  {bench.name} {' '.join(args)} ...", end=" ", flush=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=bench.timeout)
        except subprocess.TimeoutExpired:
            code = "timeout"
            # Ctrl-C, as a person would: the benchmark's finally blocks stop its workers and
            # remove its containers. Killed only if it does not end after that.
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    seconds = time.monotonic() - started
    outcome = "ok" if code == 0 else f"FAILED ({code}), see {log_path.relative_to(ROOT)}"
    print(f"{seconds:.0f} s, {outcome}", flush=True)
    return {
        "bench": bench.name,
        "args": list(args),
        "exit": code,
        "seconds": round(seconds, 1),
        "log": str(log_path.relative_to(ROOT)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: the plumbing only")
    parser.add_argument("--only", default="", help="comma-separated names (bench_http,...)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    args = parser.parse_args()
    if args.list:
        for bench in BENCHES:
            print(f"{bench.name:<22} full: {' '.join(bench.full)}   quick: {' '.join(bench.quick)}")
        return
    chosen = BENCHES
    if args.only:
        names = {name.strip().removesuffix(".py") for name in args.only.split(",") if name}
        unknown = names - {bench.name for bench in BENCHES}
        if unknown:
            raise SystemExit(f"unknown benchmarks: {', '.join(sorted(unknown))} (see --list)")
        chosen = [bench for bench in BENCHES if bench.name in names]
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = ROOT / "var" / "bench"
    log_dir = out_dir / "logs" / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    figures_file = log_dir / "figures.jsonl"
    about = machine()
    print(
        f"bench{' --quick' if args.quick else ''}: {len(chosen)} benchmarks on "
        f"{about['cpu_count']} CPUs ({about['cpu_model']}), load {about['load_average']}"
    )
    runs = [
        run_one(b, quick=args.quick, figures_file=figures_file, log_dir=log_dir) for b in chosen
    ]
    figures = read_figures(figures_file)
    about["quick"] = args.quick
    path = report_write(figures, directory=out_dir, stamp=stamp, about=about, runs=runs)
    print()
    print(table(figures))
    print()
    print("ratio = academy / baseline, same run, same machine: for a time above 1 is slower,")
    print("for a rate (/s) below 1 is fewer. Benchmarks print figures; they do not pass or fail.")
    failed = [run["bench"] for run in runs if run["exit"] != 0]
    if failed:
        print(f"did not finish: {', '.join(failed)} (their logs are named above)")
    print(f"written: {path.relative_to(ROOT)} and var/bench/latest.json")


if __name__ == "__main__":
    main()
