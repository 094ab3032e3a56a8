"""How fast the lab page draws results: the session page, its Results section and its status.

Two sessions, each holding the most journals the platform keeps (JOURNAL_MAX_FILES):
- "typical": 20 real Chaos Toolkit journals (tests/labs/journals/, a few KiB each);
- "largest": 20 journals of 256 KiB each (JOURNAL_MAX_BYTES, the largest the collector reads),
  made of as many activities as fit (the shape that costs most to draw), stored as the worker
  stores them: compacted, within JOURNAL_MAX_TOTAL_BYTES.
Beside them, a baseline in the same run: a bare Django view that returns a JSON constant through
the same middleware. Medians and maxima over 30 requests.

    .venv/bin/python bench/bench_results.py [--requests 30]

Uses a scratch SQLite database with the real content; no Docker needed.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
SCRATCH = tempfile.mkdtemp(prefix="bench-results-")
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{SCRATCH}/db.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

from academy import urls as site_urls  # noqa: E402
from bench.figures import record  # noqa: E402
from labs import services  # noqa: E402
from labs.journal import journal_compact  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402

JOURNALS = sorted((ROOT / "tests" / "labs" / "journals").glob("*.json"))
REQUESTS = 30


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bare/", bare), *site_urls.urlpatterns]


def largest_journal() -> dict:
    """A real journal grown with activities until it is just under JOURNAL_MAX_BYTES."""
    journal = json.loads((ROOT / "tests" / "labs" / "journals" / "kill-deviated.json").read_text())
    run = journal["run"][0]
    state = copy.deepcopy(journal["steady_states"]["before"])
    state["probes"] = [copy.deepcopy(run) for _ in range(5)]
    grown, count = None, 0
    while True:
        journal["run"] = [copy.deepcopy(run) for _ in range(count)]
        journal["rollbacks"] = [copy.deepcopy(run) for _ in range(count)]
        journal["steady_states"]["during"] = [state] * min(count, 60)
        if len(json.dumps(journal)) > services.JOURNAL_MAX_BYTES:
            return grown
        grown, count = copy.deepcopy(journal), count + 5


def session_with(user, lab_key: str, journals: dict[str, dict]) -> LabSession:
    now = timezone.now()
    session = LabSession.objects.create(
        user=user,
        lab=Lab.objects.get(key=lab_key),
        state=LabSession.State.READY,
        expires_at=now + timedelta(minutes=30),
    )
    services.lab_session_journals_store(session=session, journals=journals)
    return session


def timed(client: Client, url: str) -> tuple[float, float]:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times)


def main() -> None:
    global REQUESTS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    REQUESTS = parser.parse_args().requests
    call_command("migrate", verbosity=0)
    call_command("sync_content", verbosity=0)
    user = get_user_model().objects.create(username="bench")
    typical = {
        f"run-{n}.json": {
            "modified": None,
            "size": JOURNALS[n % len(JOURNALS)].stat().st_size,
            "journal": journal_compact(json.loads(JOURNALS[n % len(JOURNALS)].read_text())),
        }
        for n in range(services.JOURNAL_MAX_FILES)
    }
    big = largest_journal()
    raw = len(json.dumps(big))
    started = time.perf_counter()
    compacted = journal_compact(big)
    compact_ms = (time.perf_counter() - started) * 1000
    largest = {
        f"run-{n}.json": {"modified": None, "size": raw, "journal": compacted}
        for n in range(services.JOURNAL_MAX_FILES)
    }
    started = time.perf_counter()
    sessions = {
        "typical": session_with(user, "kill-a-replica", typical),
        "largest": session_with(user, "chaos-meets-gitops", largest),
    }
    store_ms = (time.perf_counter() - started) * 1000
    kept = sessions["largest"].journal_files.count()
    stored = sum(row.stored_bytes for row in sessions["largest"].journal_files.all())
    print(
        f"largest case: {services.JOURNAL_MAX_FILES} journals of {raw / 1024:.0f} KiB; "
        f"compacting one takes {compact_ms:.1f} ms; {kept} kept, {stored / 1024:.0f} KiB stored "
        f"(cap {services.JOURNAL_MAX_TOTAL_BYTES // 1024} KiB); storing both sessions "
        f"{store_ms:.0f} ms (the worker's time, after a collection)"
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    with override_settings(ROOT_URLCONF=__name__):
        median, most = timed(client, "/bare/")
        bare_median = median
        print(f"{'baseline: bare view':<34} median {median:7.1f} ms   max {most:7.1f} ms")
        for name, session in sessions.items():
            pages = {
                "session page": session.get_absolute_url(),
                "results section": f"/en/labs/sessions/{session.pk}/results/",
                "status (JSON)": f"/en/labs/sessions/{session.pk}/status/",
            }
            for label, url in pages.items():
                median, most = timed(client, url)
                print(f"{name + ': ' + label:<34} median {median:7.1f} ms   max {most:7.1f} ms")
                record(
                    f"Results view, {name} journals: {label}, median",
                    median / 1000,
                    "s",
                    baseline="minimal Django view, same middleware (test client)",
                    baseline_value=bare_median / 1000,
                    notes=f"{services.JOURNAL_MAX_FILES} journals, {REQUESTS} requests, "
                    f"max {most:.1f} ms",
                )


if __name__ == "__main__":
    main()
