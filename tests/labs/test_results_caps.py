"""What a session may keep: journals capped in count and bytes (the oldest pruned, the learner
told), results of ended sessions trimmed, and a lab that cannot fill the host's disk."""

from __future__ import annotations

import copy
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation

from academy.courses.services import content_sync
from labs import runtime, services
from labs.journal import journal_compact
from labs.models import CheckResult, Lab, LabSession, SessionJournal
from labs.services import results
from tests.factories import UserFactory
from tests.labs_tree import write_faults_lab

JOURNALS = Path(__file__).parent / "journals"
pytestmark = pytest.mark.django_db


@pytest.fixture
def faults_lab(tmp_path) -> Lab:
    write_faults_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="faults-lab")


def running_session(lab: Lab, user=None) -> LabSession:
    now = timezone.now()
    return LabSession.objects.create(
        user=user or UserFactory(),
        lab=lab,
        state=LabSession.State.READY,
        ready_at=now,
        expires_at=now + timedelta(minutes=30),
    )


def journals_started(count: int) -> dict[str, dict]:
    """``count`` journals of one real run, each started a minute after the one before."""
    base = journal_compact(json.loads((JOURNALS / "kill-deviated.json").read_text()))
    first = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    journals = {}
    for number in range(count):
        journal = copy.deepcopy(base)
        journal["start"] = (first + timedelta(minutes=number)).isoformat()
        journals[f"runs/run-{number:02d}.json"] = {
            "modified": None,
            "size": 4096,
            "journal": journal,
        }
    return journals


def test_only_the_newest_journals_are_kept_and_the_learner_is_told(client, faults_lab):
    session = running_session(faults_lab)

    kept = services.lab_session_journals_store(session=session, journals=journals_started(26))

    assert len(kept) == services.JOURNAL_MAX_FILES == 20
    assert set(kept) == {f"runs/run-{n:02d}.json" for n in range(6, 26)}  # the oldest six go
    session.refresh_from_db()
    assert session.journals_pruned == 6
    assert next(iter(session.journals)) == "runs/run-25.json"  # newest run first
    client.force_login(session.user)
    html = client.get(f"/es/laboratorios/sesiones/{session.pk}/").content.decode()
    assert "6 journals más antiguos" in html
    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()
    assert "6 older journals are not shown" in html


def test_the_bytes_a_session_keeps_are_capped_too(faults_lab, monkeypatch):
    session = running_session(faults_lab)
    journals = journals_started(8)
    one = len(json.dumps(next(iter(journals.values()))["journal"], separators=(",", ":")))
    monkeypatch.setattr(results, "JOURNAL_MAX_TOTAL_BYTES", one * 3 + one // 2)

    kept = services.lab_session_journals_store(session=session, journals=journals)

    assert set(kept) == {"runs/run-05.json", "runs/run-06.json", "runs/run-07.json"}
    session.refresh_from_db()
    assert session.journals_pruned == 5
    stored = SessionJournal.objects.filter(session=session)
    assert sum(row.stored_bytes for row in stored) <= one * 3 + one // 2


def test_a_new_collection_replaces_what_was_kept(faults_lab):
    session = running_session(faults_lab)
    services.lab_session_journals_store(session=session, journals=journals_started(25))
    services.lab_session_journals_store(session=session, journals=journals_started(2))

    session.refresh_from_db()
    assert session.journals_pruned == 0
    assert list(session.journals) == ["runs/run-01.json", "runs/run-00.json"]


def test_the_list_and_coverage_are_worked_out_when_journals_are_kept(client, faults_lab):
    """The page reads one journal, whatever the session keeps: the list and the coverage were
    stored with the journals."""
    session = running_session(faults_lab)
    services.lab_session_journals_store(session=session, journals=journals_started(20))
    session.refresh_from_db()
    assert {part["name"] for part in session.coverage} == {"api"}
    assert session.coverage[0]["faulted_by"]  # kill-deviated kills the api

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(session.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/en/labs/sessions/{session.pk}/results/")
    assert response.status_code == 200
    journal_reads = [
        q["sql"] for q in queries if '"journal"' in q["sql"] and "journal_files" not in q
    ]
    assert len([sql for sql in journal_reads if "labs_sessionjournal" in sql]) == 1
    assert response.content.decode().count('data-journal="runs/run-') == 20


def test_housekeeping_trims_what_ended_sessions_keep(faults_lab):
    now = timezone.now()
    old = running_session(faults_lab)
    recent = running_session(faults_lab)
    live = running_session(faults_lab)
    for session in (old, recent, live):
        services.lab_session_journals_store(session=session, journals=journals_started(3))
        CheckResult.objects.create(
            session=session,
            step=faults_lab.steps.get(),
            passed=True,
            messages=[],
            output="the check's output",
            exit_code=0,
            duration_ms=10,
        )
    LabSession.objects.filter(pk=old.pk).update(
        state=LabSession.State.DESTROYED, ended_at=now - timedelta(days=31), client_address="x"
    )
    LabSession.objects.filter(pk=recent.pk).update(
        state=LabSession.State.DESTROYED, ended_at=now - timedelta(days=2)
    )

    counts = services.lab_results_trim()
    again = services.lab_results_trim()

    assert counts["journals"] == 3 and counts["check_outputs"] == 1 and counts["sessions"] == 1
    assert again == {"journals": 0, "check_outputs": 0, "sessions": 0}
    old.refresh_from_db()
    assert old.journals == {} and old.coverage == [] and old.client_address == ""
    (verdict,) = old.checks.all()
    assert verdict.passed and verdict.output == ""  # the verdict stays, its output goes
    assert len(recent.journals) == 3 and recent.checks.get().output
    assert len(live.journals) == 3 and live.checks.get().output


# --- The host's disk ------------------------------------------------------------------------------


def wait_ready(session: LabSession) -> LabSession:
    deadline = time.monotonic() + 90
    while session.state != LabSession.State.READY:
        assert time.monotonic() < deadline, f"session {session.pk} is {session.state}"
        assert session.state in ("requested", "provisioning"), session.error
        time.sleep(0.2)
        session.refresh_from_db()
    return session


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_learner_cannot_fill_the_hosts_disk(lab_worker, faults_lab):
    session = wait_ready(services.lab_session_start(user=UserFactory(), lab=faults_lab))
    try:
        toolbox = session.sandbox["containers"]["toolbox"]
        free_before = shutil.disk_usage("/var/lib/docker").free
        fill = runtime.sandbox_exec(
            container_id=toolbox,
            command=[
                "bash",
                "-c",
                "for place in /home/learner /tmp /var/tmp /opt/lab /; do"
                "  dd if=/dev/zero of=$place/fill bs=1M count=400 2>&1 | grep -v records;"
                '  echo "$place $(stat -c %s $place/fill 2>/dev/null || echo 0)";'
                "  rm -f $place/fill;"  # tmpfs is memory: give it back before the next place
                "done",
            ],
            user="learner",
            timeout=60,
        )
        written = dict(
            line.split()
            for line in fill.output.splitlines()
            if line.startswith("/") and len(line.split()) == 2
        )
        assert set(written) == {"/home/learner", "/tmp", "/var/tmp", "/opt/lab", "/"}, fill.output
        assert int(written["/home/learner"]) <= 64 * 1024 * 1024, fill.output
        assert int(written["/tmp"]) <= 64 * 1024 * 1024, fill.output
        assert written["/var/tmp"] == written["/opt/lab"] == written["/"] == "0", fill.output
        assert "No space left on device" in fill.output
        assert "Read-only file system" in fill.output

        # Nothing of it landed on the host's disk (other work may write meanwhile: a bound far
        # below the 800 MiB asked for).
        assert free_before - shutil.disk_usage("/var/lib/docker").free < 200 * 1024 * 1024

        # The lab still works: a check runs and answers.
        runtime.sandbox_exec(
            container_id=toolbox,
            command=["rm", "-f", "/home/learner/fill", "/tmp/fill"],
            user="learner",
            timeout=10,
        )
        with translation.override("en"):
            result = services.lab_session_check(session=session, step=faults_lab.steps.get())
        assert result.exit_code is not None and not result.timed_out
    finally:
        services.lab_session_stop(session=session)
