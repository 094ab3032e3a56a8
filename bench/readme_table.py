#!/usr/bin/env python3
"""A `make bench` report (var/bench/latest.json by default) as a Markdown table, with the
machine and the command under it: what the README and docs/scaling.md carry.

    .venv/bin/python bench/readme_table.py [var/bench/<timestamp>.json] [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure, format_ratio, format_value  # noqa: E402


def markdown(report: dict, *, only: set[str] | None = None) -> str:
    lines = [
        "| Figure | Academy | Baseline, same run | Ratio |",
        "|---|---:|---|---:|",
    ]
    for data in report["figures"]:
        figure = Figure.from_dict(data)
        if only and figure.bench not in only:
            continue
        baseline = ""
        if figure.baseline:
            value = format_value(figure.baseline_value, figure.unit)
            baseline = f"{value}: {figure.baseline}"
        lines.append(
            f"| {figure.name} | {format_value(figure.value, figure.unit)} | {baseline} "
            f"| {format_ratio(figure)} |"
        )
    machine = report["machine"]
    load = ", ".join(f"{value:.2f}" for value in machine.get("load_average", []))
    memory = machine.get("memory_total_bytes", 0) / 2**30
    command = "make bench" + (" BENCH_ARGS=--quick" if machine.get("quick") else "")
    lines += [
        "",
        f"Machine: {machine.get('cpu_count')} CPUs ({machine.get('cpu_model', '?')}), "
        f"{memory:.0f} GiB, Linux {machine.get('kernel', '?')}, Docker {machine.get('docker')}, "
        f"Python {machine.get('python')}; load average {load} at the start. "
        f"Command: `{command}`, {report.get('taken_at', '?')}. Ratio: academy / baseline "
        "(a time: above 1 is slower; a rate: below 1 is fewer).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", default=str(ROOT / "var" / "bench" / "latest.json"))
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args()
    report = json.loads(Path(args.report).read_text())
    only = {name for name in args.only.split(",") if name} or None
    print(markdown(report, only=only))


if __name__ == "__main__":
    main()
