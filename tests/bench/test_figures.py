"""The benchmarks' figures as data: recorded by a benchmark, collected, printed as one table and
written as JSON. Fake figures only: no benchmark runs here (they take minutes; `make bench`)."""

import json
from pathlib import Path

import pytest

from bench import figures, run
from bench.figures import Figure, record


@pytest.fixture
def figures_file(tmp_path, monkeypatch):
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv(figures.ENV_FILE, str(path))
    return path


def test_a_recorded_figure_is_read_back_with_its_ratio(figures_file):
    record("lab check, p50", 0.4, "s", baseline="raw docker exec", baseline_value=0.1, notes="n")
    record("pages: throughput", 50.0, "/s", baseline="minimal view", baseline_value=200.0)

    read = figures.read_figures(figures_file)

    assert [figure.name for figure in read] == ["lab check, p50", "pages: throughput"]
    assert read[0].ratio == pytest.approx(4.0)
    assert read[1].ratio == pytest.approx(0.25)  # a rate: below 1 is fewer than the baseline
    assert read[0].notes == "n"
    assert json.loads(figures_file.read_text().splitlines()[0])["ratio"] == pytest.approx(4.0)


def test_record_writes_nothing_when_no_runner_asked(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.ENV_FILE, raising=False)
    monkeypatch.chdir(tmp_path)

    figure = record("alone", 1.0, "s")

    assert figure.value == 1.0
    assert list(tmp_path.iterdir()) == []


def test_no_ratio_without_a_baseline_or_a_value():
    assert Figure("no baseline", 3.0, "s").ratio is None
    assert Figure("zero baseline", 3.0, "s", "raw", 0.0).ratio is None  # no ZeroDivisionError
    assert Figure("no value", None, "s", "raw", 1.0).ratio is None


def test_the_table_puts_each_figure_beside_its_baseline_and_ratio():
    text = figures.table(
        [
            Figure("lab time-to-ready cold, p50", 2.5, "s", "raw docker SDK run", 1.25),
            Figure("check latency, p50", 0.0123, "s", "raw docker exec", 0.0041),
            Figure("memory per idle lab session", 22.55, "MiB"),
            Figure("lesson page: throughput", 40.0, "/s", "minimal Django view", 160.0),
        ]
    )
    lines = text.splitlines()

    assert lines[0].split() == ["figure", "academy", "baseline", "ratio"]
    cold = next(line for line in lines if line.startswith("lab time-to-ready cold"))
    assert cold.split()[-5:] == ["2.5", "s", "1.2", "s", "2.00x"]
    check = next(line for line in lines if line.startswith("check latency"))
    assert "12.3 ms" in check and "4.1 ms" in check and check.endswith("3.00x")
    memory = next(line for line in lines if line.startswith("memory per idle"))
    assert memory.rstrip().endswith("22.6 MiB")  # no baseline: nothing after it
    assert "  vs raw docker exec" in lines
    assert any(line.rstrip().endswith("0.25x") for line in lines)


def test_the_report_describes_the_machine_and_writes_latest_too(tmp_path):
    figure = Figure("exam submit-and-grade", 0.09, "s", "minimal view", 0.03, bench="bench_exams")

    path = figures.report_write(
        [figure],
        directory=tmp_path / "bench",
        stamp="20261203T130000Z",
        about=figures.machine(),
        runs=[{"bench": "bench_exams", "exit": 0}],
    )

    assert path == tmp_path / "bench" / "20261203T130000Z.json"
    assert (tmp_path / "bench" / "latest.json").read_text() == path.read_text()
    document = json.loads(path.read_text())
    assert document["machine"]["cpu_count"] >= 1
    assert document["machine"]["python"]
    assert document["machine"]["kernel"]
    assert document["figures"][0]["ratio"] == pytest.approx(3.0)
    assert document["figures"][0]["bench"] == "bench_exams"


def test_counts_and_far_ratios_stay_readable():
    text = figures.table(
        [
            Figure("most idle sessions", 12, "sessions"),
            Figure("credential sign: per second", 25.6, "/s", "raw Ed25519", 22482.0),
        ]
    )

    assert "12 sessions" in text and "12.00" not in text
    assert "0.0011x" in text  # not 0.00x


def test_a_broken_line_in_the_figures_file_is_refused(figures_file):
    record("good", 1.0, "s")
    with open(figures_file, "a") as out:
        out.write("{not json\n")

    with pytest.raises(json.JSONDecodeError):
        figures.read_figures(figures_file)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([5, 1, 3, 2, 4], 0.5, 3), ([5, 1, 3, 2, 4], 0.95, 5), (list(range(1, 101)), 0.95, 95)],
)
def test_percentiles_are_nearest_rank(values, fraction, expected):
    assert figures.percentile(values, fraction) == expected


def test_every_benchmark_the_runner_names_exists():
    bench_dir = Path(run.__file__).parent
    names = [bench.name for bench in run.BENCHES]

    assert len(names) == len(set(names))
    for name in names:
        assert (bench_dir / f"{name}.py").is_file(), name
