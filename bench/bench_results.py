"""How fast the lab page draws results: the session page, its Results section and its status,
for a session holding 20 journals (the most the platform keeps), medians over 30 requests.

    .venv/bin/python bench/bench_results.py

Uses a scratch SQLite database with the real content, and the real Chaos Toolkit journals of
tests/labs/journals/ (see tests/labs/journals/make.py); no Docker needed.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
SCRATCH = tempfile.mkdtemp(prefix="bench-results-")
os.environ["DATABASE_URL"] = f"sqlite:///{SCRATCH}/db.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from labs.journal import journal_compact  # noqa: E402
from labs.models import Lab, LabSession  # noqa: E402

JOURNALS = sorted((ROOT / "tests" / "labs" / "journals").glob("*.json"))


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("sync_content", verbosity=0)
    user = get_user_model().objects.create(username="bench")
    journals = {}
    for number in range(20):
        path = JOURNALS[number % len(JOURNALS)]
        journals[f"/home/learner/run-{number}.json"] = {
            "modified": time.time() - number,
            "size": path.stat().st_size,
            "journal": journal_compact(json.loads(path.read_text())),
        }
    now = timezone.now()
    session = LabSession.objects.create(
        user=user,
        lab=Lab.objects.get(key="kill-a-replica"),
        state=LabSession.State.READY,
        journals=journals,
        journals_collected_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    pages = {
        "session page": session.get_absolute_url(),
        "results section": f"/en/labs/sessions/{session.pk}/results/",
        "status (JSON)": f"/en/labs/sessions/{session.pk}/status/",
    }
    for label, url in pages.items():
        times = []
        for _ in range(30):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{label:<16} median {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms")


if __name__ == "__main__":
    main()
