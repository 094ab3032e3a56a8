"""Results: the learner's Chaos Toolkit journals, read by the platform, and their caps."""

from __future__ import annotations

import base64
import json
import logging
import zlib
from datetime import UTC, datetime

from django.utils import timezone

from labs import runtime
from labs.journal import journal_compact, looks_like_journal
from labs.models import LabSession
from labs.services.access import LabSessionError, session_is_running, session_refusal
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
# Output of one collector run: sandbox_exec keeps 64 KB, and JSON cut in the middle is lost.
_COLLECT_BUDGET = 56 * 1024

# Runs as root in the learner's shell container (python3 -I: no environment, no user site,
# nothing from the working folder), so the learner can neither change nor stop it. It walks
# the home folder through file descriptors, never following a symbolic link, and reads only
# regular files the learner could read themself: root's reach shows nothing the learner could
# not see. Arguments: the home folder, the largest file and the most files to keep, the index
# to start from and the characters to print at most. Prints one JSON line: the journals (zlib +
# base64; long texts cut when a journal is large), newest first, from that index on, as many
# as fit, and where the next page starts.


class JournalsUnreadable(Exception):
    """The shell container did not answer the collector as expected."""


def _collector_page(container_id: str, start: int) -> dict:
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


def _unpack_journal(packed: object) -> dict | None:
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


def lab_session_journals_collect(*, session: LabSession) -> dict:
    """Reads the Chaos Toolkit journals in the learner's home and stores them on the session.

    Every ``*.json`` up to three folders deep that is a journal, newest first, at most
    JOURNAL_MAX_FILES of at most JOURNAL_MAX_BYTES each; anything else is skipped. The lab is
    given nothing: the platform reads, as root, through the runtime. Raises RuntimeFailure or
    JournalsUnreadable when the container cannot be read, and then stores nothing.
    """
    container_id = session.sandbox["containers"][session.lab.shell_container]
    collected: dict[str, dict] = {}
    start: int | None = 0
    for _ in range(JOURNAL_MAX_FILES):
        page = _collector_page(container_id, start)
        for item in page["journals"]:
            path = item.get("path") if isinstance(item, dict) else None
            if not isinstance(path, str) or path in collected or item.get("too_big"):
                continue
            journal = _unpack_journal(item.get("data"))
            if journal is None:
                continue
            modified = item.get("mtime")
            collected[path[:300]] = {
                "modified": datetime.fromtimestamp(modified, UTC).isoformat()
                if isinstance(modified, int | float)
                else None,
                "size": item.get("size") if isinstance(item.get("size"), int) else None,
                "journal": journal,
            }
        start = page.get("next")
        if not isinstance(start, int) or len(collected) >= JOURNAL_MAX_FILES:
            break
    LabSession.objects.filter(pk=session.pk).update(
        journals=collected, journals_collected_at=timezone.now()
    )
    session.refresh_from_db(fields=["journals", "journals_collected_at"])
    return collected


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
    enqueue("refresh_results", session.pk, kind="checks")


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
