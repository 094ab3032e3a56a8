"""Results: the learner's Chaos Toolkit journals, read by the platform, and their caps."""

from __future__ import annotations

import base64
import json
import logging
import math
import zlib
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from labs import runtime
from labs.journal import chaos_coverage, journal_compact, journal_timeline, looks_like_journal
from labs.models import LabSession, SessionJournal
from labs.services.access import LabSessionError, session_is_running, session_refusal
from labs.services.hosts import session_host
from labs.services.provisioning import SAFE_PATH
from labs.services.state import enqueue

log = logging.getLogger(__name__)
# The collector program, root-owned and read-only in the toolbox image
# (labs/images/toolbox/collect_journals.py).
COLLECTOR = "/usr/local/lib/academy/collect_journals.py"


# --- Chaos Toolkit journals ----------------------------------------------------------------------

LEARNER_HOME = "/home/learner"
JOURNAL_MAX_BYTES = 256 * 1024
JOURNAL_MAX_FILES = 20
# What a session keeps of its journals in all, compacted (labs.journal.journal_compact).
JOURNAL_MAX_TOTAL_BYTES = 2 * 1024 * 1024
# Output of one collector run: sandbox_exec keeps 64 KB, and JSON cut in the middle is lost.
_COLLECT_BUDGET = 56 * 1024


class JournalsUnreadable(Exception):
    """The shell container did not answer the collector as expected."""


def _collector_page(container_id: str, start: int) -> dict[str, Any]:
    result = runtime.sandbox_exec(
        container_id=container_id,
        command=[
            "python3",
            "-I",
            COLLECTOR,
            LEARNER_HOME,
            str(JOURNAL_MAX_BYTES),
            str(JOURNAL_MAX_FILES),
            str(start),
            str(_COLLECT_BUDGET),
        ],
        user="root",
        timeout=20,
        environment={"PATH": SAFE_PATH},
        workdir="/",
    )
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    if result.exit_code != 0 or result.timed_out or not lines:
        raise JournalsUnreadable(f"collector exit {result.exit_code}: {result.output[-500:]}")
    try:
        page = json.loads(lines[-1])
    except ValueError as error:
        raise JournalsUnreadable(f"collector output is not JSON: {error}") from error
    if not isinstance(page, dict) or not isinstance(page.get("journals"), list):
        raise JournalsUnreadable("collector output has no journals")
    return page


def _unpack_journal(packed: object) -> dict[str, Any] | None:
    """A journal sent by the collector, checked again here: the container is the learner's."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.b64decode(str(packed), validate=True), JOURNAL_MAX_BYTES)
        if inflater.unconsumed_tail:
            return None  # larger than a journal may be
        document = json.loads(data)
    except (ValueError, zlib.error, RecursionError):
        return None
    return journal_compact(document) if looks_like_journal(document) else None


def lab_session_journals_collect(*, session: LabSession) -> dict[str, Any]:
    """Reads the Chaos Toolkit journals in the learner's home and stores them on the session.

    Every ``*.json`` up to three folders deep that is a journal, newest first: at most
    JOURNAL_MAX_FILES of at most JOURNAL_MAX_BYTES each, and at most JOURNAL_MAX_TOTAL_BYTES
    stored for the session in all (compacted). What does not fit, oldest first, is not kept,
    and the session says how many were left out, for the page to tell the learner. The lab is
    given nothing: the platform reads, as root, through the runtime. Raises RuntimeFailure or
    JournalsUnreadable when the container cannot be read, and then changes nothing.

    Returns what is kept, {path: {"modified", "size", "journal"}}.
    """
    container_id = session.sandbox["containers"][session.lab.shell_container]
    collected: dict[str, dict[str, Any]] = {}
    seen = 0
    start = 0
    for _ in range(JOURNAL_MAX_FILES):
        page = _collector_page(container_id, start)
        if isinstance(page.get("seen"), int):
            seen = max(seen, page["seen"])
        for item in page["journals"]:
            path = item.get("path") if isinstance(item, dict) else None
            if not isinstance(path, str) or path[:300] in collected or item.get("too_big"):
                continue
            journal = _unpack_journal(item.get("data"))
            if journal is None:
                continue
            modified = item.get("mtime")
            collected[path[:300]] = {
                "modified": datetime.fromtimestamp(modified, UTC)
                if isinstance(modified, int | float) and 0 <= modified < 2**33
                else None,
                "size": item.get("size") if isinstance(item.get("size"), int) else None,
                "journal": journal,
            }
        next_start = page.get("next")
        if not isinstance(next_start, int) or len(collected) >= JOURNAL_MAX_FILES:
            break
        start = next_start
    return lab_session_journals_store(session=session, journals=collected, seen=seen)


def lab_session_journals_store(
    *, session: LabSession, journals: dict[str, dict[str, Any]], seen: int = 0
) -> dict[str, dict[str, Any]]:
    """Keeps what fits of ``journals`` ({path: {"modified", "size", "journal"}}, compacted) on
    the session, newest run first, in place of what it kept before; ``seen``: how many journals
    the learner had in all. Returns what was kept, in the same shape."""
    collected = {
        path[:300]: {
            "modified": _moment(item.get("modified")),
            "size": item.get("size") if isinstance(item.get("size"), int) else None,
            "journal": item["journal"],
        }
        for path, item in journals.items()
    }
    kept = _within_budget(collected)
    _journals_store(session, kept, pruned=max(seen, len(collected)) - len(kept))
    return {
        path: {
            "modified": item["modified"].isoformat() if item["modified"] else None,
            "size": item["size"],
            "journal": item["journal"],
        }
        for path, item in kept.items()
    }


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _within_budget(collected: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest runs whose compacted journals fit JOURNAL_MAX_TOTAL_BYTES together, each with
    its size once stored and its timeline (for the list and the order)."""
    items = []
    for path, item in collected.items():
        timeline = journal_timeline(item["journal"])
        moment = timeline.start or item["modified"]
        items.append((-(moment.timestamp()) if moment else math.inf, path, item, timeline))
    items.sort(key=lambda entry: (entry[0], entry[1]))
    kept: dict[str, dict[str, Any]] = {}
    total = 0
    for _, path, item, timeline in items:
        stored = len(json.dumps(item["journal"], separators=(",", ":")))
        if total + stored > JOURNAL_MAX_TOTAL_BYTES or len(kept) >= JOURNAL_MAX_FILES:
            continue  # an older run, or one too large for what is left of the budget
        total += stored
        kept[path] = {**item, "stored_bytes": stored, "timeline": timeline}
    return kept


def _journals_store(session: LabSession, kept: dict[str, dict[str, Any]], *, pruned: int) -> None:
    """Replaces the session's journals with ``kept``, with the coverage they add up to."""
    lab = session.lab
    coverage = chaos_coverage(
        [container["name"] for container in lab.topology],
        lab.shell_container,
        [item["journal"] for item in kept.values()],
    )
    with transaction.atomic():
        SessionJournal.objects.filter(session=session).delete()
        SessionJournal.objects.bulk_create(
            SessionJournal(
                session=session,
                path=path,
                modified=item["modified"],
                size=item["size"] if item["size"] is not None and item["size"] >= 0 else None,
                title=(item["timeline"].title or "")[:200],
                status=str(item["timeline"].display_status or "")[:20],
                started_at=item["timeline"].start,
                stored_bytes=item["stored_bytes"],
                journal=item["journal"],
                position=position,
            )
            for position, (path, item) in enumerate(kept.items())
        )
        LabSession.objects.filter(pk=session.pk).update(
            journals_collected_at=timezone.now(),
            journals_pruned=max(0, pruned),
            coverage=[
                {
                    "name": part.name,
                    "faulted_by": list(part.faulted_by),
                    "observed_by": list(part.observed_by),
                }
                for part in coverage.parts
            ],
        )
    session.refresh_from_db(fields=["journals_collected_at", "journals_pruned", "coverage"])


def journals_collect_quietly(session: LabSession) -> None:
    """Journals are a bonus of a check: a container that cannot be read never fails it."""
    try:
        lab_session_journals_collect(session=session)
    except Exception:
        log.warning("Could not collect the journals of session %s", session.pk, exc_info=True)


def lab_session_results_request(*, session: LabSession) -> None:
    """The learner's "Refresh results": the worker reads the journals after this commits."""
    if not session_is_running(session):
        raise LabSessionError(session_refusal(session))
    enqueue("refresh_results", session.pk, kind="checks", host=session_host(session))


def lab_session_results_refresh(*, session: LabSession) -> bool:
    """The learner's "Refresh results": reads the journals again; False when not running."""
    session.refresh_from_db()
    if not session_is_running(session) or not session.sandbox:
        return False
    try:
        lab_session_journals_collect(session=session)
    except (runtime.RuntimeFailure, JournalsUnreadable):
        log.warning("Could not collect the journals of session %s", session.pk, exc_info=True)
        return False
    return True
