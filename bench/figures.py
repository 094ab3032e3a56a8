"""Figures the benchmarks measure, as data: each benchmark still prints its own lines, and also
records every figure it has with ``record``; ``bench/run.py`` collects them into one table and a
JSON file with the machine described.

A figure is measured beside a baseline taken in the same run on the same machine (a raw
``docker run``, a raw ``docker exec``, a minimal Django view...), and its ratio is always
academy / baseline: for a time, 2.0 means twice as slow as the baseline; for a rate (per
second), 0.5 means half as many. No Django here: the runner reads these without a database.

    from bench.figures import record
    record("lab check", 0.41, "s", baseline="raw docker exec", baseline_value=0.12)
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENV_FILE = "BENCH_FIGURES"  # a JSON-lines file the runner names; unset: record() does nothing
RATES = ("/s",)  # units where more is better


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    notes: str = ""
    bench: str = field(default="")

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}

    @classmethod
    def from_dict(cls, data: dict) -> Figure:
        known = {"name", "value", "unit", "baseline", "baseline_value", "notes", "bench"}
        return cls(**{key: value for key, value in data.items() if key in known})


def record(
    name: str,
    value: float | None,
    unit: str,
    *,
    baseline: str = "",
    baseline_value: float | None = None,
    notes: str = "",
) -> Figure:
    """Keeps one figure for the runner (when it runs this benchmark); returns it."""
    bench = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    figure = Figure(name, value, unit, baseline, baseline_value, notes, bench)
    target = os.environ.get(ENV_FILE)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(figure.as_dict()) + "\n")
    return figure


def read_figures(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Figure.from_dict(json.loads(line)) for line in lines if line.strip()]


# --- Small statistics the benchmarks share ------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0.5: the median, 0.95: p95) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)


# --- The table and the JSON file ------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit not in ("s", "ms") and float(value).is_integer():
        return f"{int(value):,} {unit}"
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    if unit in ("s", "ms"):
        return f"{value:.{1 if value < 100 else 0}f} {unit}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.{1 if abs(value) >= 10 else 2}f} {unit}"


def format_ratio(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio is None:
        return "-" if figure.baseline else ""
    if ratio < 0.1:  # a rate far under its baseline: two significant digits, not 0.00x
        return f"{ratio:.2g}x"
    return f"{ratio:.{2 if ratio < 10 else 0}f}x"


def table(figures: list[Figure]) -> str:
    """One table: figure | academy | baseline | ratio, the baseline named under the figure."""
    rows = [("figure", "academy", "baseline", "ratio")]
    for figure in figures:
        rows.append(
            (
                figure.name,
                format_value(figure.value, figure.unit),
                format_value(figure.baseline_value, figure.unit) if figure.baseline else "",
                format_ratio(figure),
            )
        )
        if figure.baseline:
            rows.append((f"  vs {figure.baseline}", "", "", ""))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = []
    for number, row in enumerate(rows):
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
            f"{row[3]:>{widths[3]}}".rstrip()
        )
        if number == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _command(*args: str) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def machine() -> dict:
    """What the figures were taken on."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_total = memory_available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key == "MemTotal":
                memory_total = int(rest.split()[0]) * 1024
            elif key == "MemAvailable":
                memory_available = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "memory_total_bytes": memory_total,
        "memory_available_bytes": memory_available,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "kernel": platform.release(),
        "system": platform.platform(),
        "docker": _command("docker", "version", "--format", "{{.Server.Version}}"),
        "python": platform.python_version(),
    }


def report_write(
    figures: list[Figure], *, directory: Path, stamp: str, about: dict, runs: list[dict]
) -> Path:
    """Writes ``<directory>/<stamp>.json`` and ``latest.json`` (the same); returns the first."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "taken_at": stamp,
        "machine": about,
        "ratio": "academy / baseline (a time: above 1 is slower; a rate: below 1 is fewer)",
        "runs": runs,
        "figures": [figure.as_dict() for figure in figures],
    }
    text = json.dumps(document, indent=2) + "\n"
    path = directory / f"{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (directory / "latest.json").write_text(text, encoding="utf-8")
    return path
