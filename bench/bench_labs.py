"""How long each lab takes to prove itself: `manage.py lab selftest SLUG`, lab by lab.

    .venv/bin/python bench/bench_labs.py [SLUG ...]

Needs what `make run` starts (a worker, and the fault relay for labs with faults): the selftest
provisions a session on the worker like a learner's, fails each check, runs each solve script
for real (experiments, faults, reconciles) and passes each check. Prints, per lab, the time to
a ready session and the whole selftest.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="default: every published lab")
    args = parser.parse_args()
    slugs = args.slugs or [line.split("\t")[0] for line in manage("lab", "list").stdout.split("\n")]
    slugs = [slug for slug in slugs if slug]
    print(f"{'lab':<32} {'ready':>8} {'selftest':>10}  result")
    total = 0.0
    for slug in slugs:
        started = time.monotonic()
        result = manage("lab", "selftest", slug)
        seconds = time.monotonic() - started
        total += seconds
        found = re.search(r"ready in ([0-9.]+) s", result.stdout)
        ready = f"{found.group(1)} s" if found else "-"
        outcome = "passed" if result.returncode == 0 else "FAILED: " + result.stderr[-300:]
        print(f"{slug:<32} {ready:>8} {seconds:>8.1f} s  {outcome}")
    print(f"{'all labs':<32} {'':>8} {total:>8.1f} s")


if __name__ == "__main__":
    main()
