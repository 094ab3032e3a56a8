"""The lab engine's entry points: start, provision, check, extend, stop, reap.

Web views, the CLI and Celery tasks call these and nothing else. Docker is reached only through
labs.runtime. Every function can run twice (a Celery task may) without doing harm: each one
reads the session's state under a row lock and does nothing when the state says it is done.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from labs import runtime
from labs.content import FAULTS_CONTAINER
from labs.journal import journal_compact, looks_like_journal
from labs.models import CheckResult, Lab, LabSession, LabStep

log = logging.getLogger(__name__)
State = LabSession.State
SCRIPTS_DIR = "/opt/lab"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# States in which the learner's terminal and checks work.
TERMINAL_STATES = (State.READY, State.CHECKING, State.COMPLETED)


class LabSessionError(Exception):
    """A request the session's state does not allow; the message is for the learner."""


# --- State machine -------------------------------------------------------------------------


def _transition(session: LabSession, to: str, *, allowed_from=None, **fields) -> bool:
    """Moves the session to ``to`` if its current state allows it; returns whether it moved.

    The row is re-read under a lock, so two workers cannot both move the same session.
    """
    with transaction.atomic():
        current = LabSession.objects.select_for_update().get(pk=session.pk)
        allowed = to in LabSession.TRANSITIONS[current.state]
        if not allowed or (allowed_from and current.state not in allowed_from):
            session.refresh_from_db()
            return False
        current.state = to
        current.state_changed_at = timezone.now()
        for name, value in fields.items():
            setattr(current, name, value)
        if to in (State.EXPIRED, State.FAILED, State.DESTROYED) and current.ended_at is None:
            current.ended_at = timezone.now()
            transaction.on_commit(lambda: _notify_ended(current.pk))
        current.save()
    session.refresh_from_db()
    return True


def lab_instance() -> str:
    """Which academy owns a sandbox: many may share one Docker engine (a test run beside
    ``make run``, two deployments), and each reaps only its own. Derived from the database, so
    the web process and its workers agree without configuration; LAB_INSTANCE overrides it."""
    if settings.LAB_INSTANCE:
        return settings.LAB_INSTANCE
    db = settings.DATABASES["default"]
    identity = f"{db['ENGINE']}|{db.get('HOST', '')}|{db.get('PORT', '')}|{db['NAME']}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _notify_ended(session_id: int) -> None:
    """Tells open terminals of the session to close (they also poll, should this not arrive)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(f"lab-session-{session_id}", {"type": "session.ended"})
    except Exception:  # a missed notice only delays the close to the next poll
        log.warning("Could not notify terminals of session %s", session_id, exc_info=True)


def _labels(session: LabSession) -> dict[str, str]:
    return {
        "academy.instance": lab_instance(),
        "academy.session": str(session.pk),
        "academy.lab": session.lab.key,
        "academy.user": session.user.get_username() if session.user_id else "",
        "academy.expires": session.expires_at.isoformat() if session.expires_at else "",
    }


def _session_labels(session: LabSession) -> dict[str, str]:
    """The labels that pick out this session's resources, and no other academy's."""
    return {"academy.instance": lab_instance(), "academy.session": str(session.pk)}


def _enqueue(task_name: str, *args) -> None:
    """Sends a task to this lab host's queue once the current transaction commits."""
    from labs import tasks

    task = getattr(tasks, task_name)
    queue = settings.LAB_TASK_QUEUE
    transaction.on_commit(lambda: task.apply_async(args, queue=queue))


# --- Start, queue and warm pool --------------------------------------------------------------


def lab_session_start(*, user, lab: Lab) -> LabSession:
    """The learner's live session of this lab: the existing one, a warm one, or a new one."""
    existing = LabSession.objects.live().filter(user=user, lab=lab).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            warm = (
                LabSession.objects.select_for_update(skip_locked=True)
                .pooled()
                .filter(lab=lab, state=State.READY, expires_at__gt=now + timedelta(minutes=5))
                .order_by("ready_at")
                .first()
            )
            if warm is not None:
                warm.user = user
                warm.requested_at = now
                warm.expires_at = now + timedelta(minutes=lab.duration_minutes)
                warm.save(update_fields=["user", "requested_at", "expires_at"])
                _enqueue("pool_refill")
                return warm
            session = LabSession.objects.create(user=user, lab=lab, state=State.REQUESTED)
    except IntegrityError:  # a second start raced this one: return the session it made
        return LabSession.objects.live().get(user=user, lab=lab)
    lab_sessions_schedule()
    session.refresh_from_db()
    return session


def lab_sessions_schedule() -> list[int]:
    """Starts queued sessions while running ones are under the capacity limit, oldest first."""
    started = []
    with transaction.atomic():
        free = settings.LAB_MAX_RUNNING_SESSIONS - LabSession.objects.running().count()
        if free <= 0:
            return started
        queued = LabSession.objects.queued().select_for_update(skip_locked=True)[:free]
        for session in queued:
            if _transition(session, State.PROVISIONING):
                started.append(session.pk)
                _enqueue("provision", session.pk)
    return started


def queue_position(session: LabSession) -> int | None:
    """1 for the next session to start; None when the session is not waiting."""
    if session.state != State.REQUESTED:
        return None
    ahead = LabSession.objects.queued().filter(requested_at__lt=session.requested_at).count()
    same_time = LabSession.objects.queued().filter(
        requested_at=session.requested_at, pk__lt=session.pk
    )
    return ahead + same_time.count() + 1


def pool_refill() -> int:
    """Provisions sessions with no user until each lab has its warm pool; returns how many."""
    made = 0
    for lab in Lab.objects.published():
        size = lab.warm_pool_size
        size = settings.LAB_WARM_POOL_SIZE if size is None else size
        have = LabSession.objects.live().pooled().filter(lab=lab).count()
        for _ in range(size - have):
            if LabSession.objects.running().count() >= settings.LAB_MAX_RUNNING_SESSIONS:
                return made  # learners come before the pool
            session = LabSession.objects.create(lab=lab, state=State.PROVISIONING)
            _enqueue("provision", session.pk)
            made += 1
    return made


# --- Provision ---------------------------------------------------------------------------------


def _container_specs(lab: Lab) -> list[runtime.ContainerSpec]:
    specs = []
    for container in lab.topology:
        tmpfs = {"/tmp": runtime.Tmpfs(size=64)}
        if container["name"] == lab.shell_container:
            # The learner's home: writable, size-limited, theirs, and able to run scripts.
            tmpfs["/home/learner"] = runtime.Tmpfs(size=64, uid=1000, gid=1000, executable=True)
        specs.append(
            runtime.ContainerSpec(
                name=container["name"],
                image=f"academy/{container['image']}:latest",
                env=container.get("env", {}),
                memory=int(container.get("memory_mb", 256)),
                cpus=float(container.get("cpus", 0.5)),
                pids=int(container.get("pids", 256)),
                cap_add=container.get("capabilities", []),
                tmpfs=tmpfs,
            )
        )
    if lab.faults_enabled:
        # Not the learner's shell: a paused or killed shell could not undo its own fault.
        targets = [spec.name for spec in specs if spec.name != lab.shell_container]
        specs.append(_faults_spec(targets=targets))
    return specs


def _faults_spec(*, targets: list[str]) -> runtime.ContainerSpec:
    """The platform's faults sidecar: the lab asks it, labs.faults acts (see labs/faults.py)."""
    return runtime.ContainerSpec(
        name=FAULTS_CONTAINER,
        image="academy/faults:latest",
        env={"FAULT_TARGETS": ",".join(targets), "SELF_NAME": FAULTS_CONTAINER},
        memory=48,
        cpus=0.2,
        pids=32,
        tmpfs={"/tmp": runtime.Tmpfs(size=4)},
        private_dirs=(),
        stdin_open=True,  # the relay writes the platform's answers there
    )


# Waits (10 s at most) until the faults sidecar takes connections.
_LISTENING = (
    "import socket, time\n"
    "for _ in range(100):\n"
    "    try:\n"
    "        socket.create_connection(('127.0.0.1', 7000), 0.5).close(); break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
    "else:\n"
    "    raise SystemExit('the faults sidecar does not listen on :7000')\n"
)


def _faults_wait_until_listening(sandbox: runtime.Sandbox) -> None:
    """The session is ready only when `fault` works: the sidecar must listen first."""
    result = runtime.sandbox_exec(
        container_id=sandbox.containers[FAULTS_CONTAINER],
        command=["python3", "-c", _LISTENING],
        user="faultd",
        timeout=15,
    )
    if result.exit_code != 0:
        raise runtime.RuntimeFailure(f"faults sidecar: {result.output.strip()[-500:]}")


def _scripts_by_container(lab: Lab) -> dict[str, dict[str, bytes]]:
    """Each container's root-only scripts: the checks that run in it, and the setup."""
    files: dict[str, dict[str, bytes]] = {}
    for step in lab.steps.all():
        container = step.check_container or lab.shell_container
        files.setdefault(container, {})[f"steps/{step.key}.check.sh"] = step.check_script.encode()
    if lab.setup_script:
        files.setdefault(lab.shell_container, {})["setup.sh"] = lab.setup_script.encode()
    return files


def lab_session_provision(*, session: LabSession) -> None:
    """Creates the session's sandbox and runs the lab's setup; idempotent."""
    session.refresh_from_db()
    if session.state != State.PROVISIONING:
        return
    lab = session.lab
    labels = _session_labels(session)
    # A crash mid-provision may have left half a sandbox: start from nothing.
    runtime.sandbox_destroy(labels=labels)
    try:
        sandbox = runtime.sandbox_create(labels=_labels(session), containers=_container_specs(lab))
        LabSession.objects.filter(pk=session.pk).update(sandbox=sandbox.as_dict())
        if lab.faults_enabled:
            _faults_wait_until_listening(sandbox)
        for container, files in _scripts_by_container(lab).items():
            runtime.sandbox_put_files(
                container_id=sandbox.containers[container], path=SCRIPTS_DIR, files=files
            )
        if lab.setup_script:
            result = runtime.sandbox_exec(
                container_id=sandbox.containers[lab.shell_container],
                command=["bash", f"{SCRIPTS_DIR}/setup.sh"],
                user="root",
                timeout=settings.LAB_SETUP_TIMEOUT_SECONDS,
                environment={"PATH": SAFE_PATH},
            )
            if result.exit_code != 0:
                raise runtime.RuntimeFailure(f"setup failed ({result.exit_code}): {result.output}")
    except Exception as error:
        log.exception("Provisioning session %s failed", session.pk)
        runtime.sandbox_destroy(labels=labels)
        _transition(session, State.FAILED, error=str(error)[:2000])
        lab_sessions_schedule()
        return
    now = timezone.now()
    minutes = lab.duration_minutes if session.user_id else settings.LAB_WARM_POOL_TTL_MINUTES
    moved = _transition(
        session,
        State.READY,
        allowed_from=[State.PROVISIONING],
        ready_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    if not moved:  # stopped or expired while we were building it
        runtime.sandbox_destroy(labels=labels)


# --- Checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    passed: bool
    messages: list[str]


def _learner_messages(step: LabStep, output: str, language: str) -> list[str]:
    """The FAIL: lines of a check, each in the learner's language when the lab translates it."""
    messages = []
    for line in output.splitlines():
        if not line.startswith("FAIL:"):
            continue
        text = line.removeprefix("FAIL:").strip()
        translations = step.messages.get(text)
        if translations:
            text = translations.get(language) or translations.get("en") or text
        messages.append(text)
    return messages


def lab_session_check(*, session: LabSession, step: LabStep, language: str = "en") -> CheckResult:
    """Runs the step's check as root, out of the learner's reach, and stores the result."""
    session.refresh_from_db()
    if session.state not in (State.READY, State.COMPLETED, State.CHECKING):
        raise LabSessionError(translation.gettext("This lab session is not running."))
    previous = session.state if session.state != State.CHECKING else State.READY
    _transition(session, State.CHECKING, allowed_from=[State.READY, State.COMPLETED])
    container = step.check_container or session.lab.shell_container
    started = time.monotonic()
    try:
        result = runtime.sandbox_exec(
            container_id=session.sandbox["containers"][container],
            command=["bash", f"{SCRIPTS_DIR}/steps/{step.key}.check.sh"],
            user="root",
            timeout=settings.LAB_CHECK_TIMEOUT_SECONDS,
            environment={"PATH": SAFE_PATH, "LAB_LANGUAGE": language},
        )
    finally:
        duration_ms = int((time.monotonic() - started) * 1000)
    passed = result.exit_code == 0 and not result.timed_out
    # Before the result shows: the page that sees it then shows the journals of this moment.
    _journals_collect_quietly(session)
    messages = _learner_messages(step, result.output, language)
    if result.timed_out:
        with translation.override(language):
            messages.append(translation.gettext("The check took too long and was stopped."))
    elif not passed and not messages:
        with translation.override(language):
            messages.append(translation.gettext("Not yet: this step's check did not pass."))
    check = CheckResult.objects.create(
        session=session,
        step=step,
        passed=passed,
        messages=messages,
        output=result.output,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_ms=duration_ms,
    )
    passed_steps = set(
        CheckResult.objects.filter(session=session, passed=True).values_list("step_id", flat=True)
    )
    all_done = passed_steps >= set(session.lab.steps.values_list("pk", flat=True))
    _transition(
        session,
        State.COMPLETED if all_done or previous == State.COMPLETED else State.READY,
        allowed_from=[State.CHECKING],
    )
    return check


def lab_session_solve(*, session: LabSession, step: LabStep) -> runtime.ExecResult:
    """Runs the step's solution as the learner would (used by the lab self-test)."""
    session.refresh_from_db()
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"][session.lab.shell_container],
        command=["bash", "-s"],
        stdin=step.solve_script.encode(),
        user="learner",
        timeout=settings.LAB_SETUP_TIMEOUT_SECONDS,
        workdir="/home/learner",
    )


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
_COLLECT_JOURNALS = r"""
import base64, json, os, stat, sys, zlib

HOME, MAX_BYTES, MAX_FILES = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start, budget = int(sys.argv[4]), int(sys.argv[5])
MAX_DEPTH, MAX_ENTRIES, MAX_READS = 3, 5000, 200
owner = os.stat(HOME)
seen = reads = 0
found = []


def learner_may(st, bits):
    if st.st_uid == owner.st_uid:
        shift = 6
    elif st.st_gid == owner.st_gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & bits == bits


def shrink(value, depth=0):  # long texts cut; the platform keeps less of them anyway
    if isinstance(value, str):
        return value[:2000]
    if depth > 30:
        return None
    if isinstance(value, list):
        return [shrink(item, depth + 1) for item in value[:500]]
    if isinstance(value, dict):
        return {key: shrink(item, depth + 1) for key, item in list(value.items())[:500]}
    return value


def pack(data):
    return base64.b64encode(zlib.compress(data, 6)).decode()


def looks_like_journal(data):
    return (isinstance(data, dict) and isinstance(data.get("experiment"), dict)
            and "status" in data and ("run" in data or "steady_states" in data))


def read(dir_fd, name):
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES or not learner_may(st, 4):
            return None, st
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return (b"".join(chunks) if size <= MAX_BYTES else None), st
    finally:
        os.close(fd)


def walk(dir_fd, prefix, depth):
    global seen, reads
    with os.scandir(dir_fd) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        seen += 1
        if seen > MAX_ENTRIES or reads > MAX_READS:
            return
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth >= MAX_DEPTH:
                    continue
                fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                             dir_fd=dir_fd)
                try:
                    if learner_may(os.fstat(fd), 5):
                        walk(fd, prefix + entry.name + "/", depth + 1)
                finally:
                    os.close(fd)
            elif entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
                reads += 1
                data, st = read(dir_fd, entry.name)
                if data is not None and looks_like_journal(json.loads(data)):
                    found.append((-st.st_mtime, prefix + entry.name, st, data))
                    found.sort(key=lambda item: (item[0], item[1]))
                    del found[MAX_FILES:]  # only the newest are kept in memory
        except (OSError, ValueError, RecursionError):
            continue


home_fd = os.open(HOME, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
walk(home_fd, "", 0)
page, size, index = [], 0, start
while index < len(found):
    _, path, st, data = found[index]
    packed = pack(data)
    if len(packed) > budget // 2:
        packed = pack(json.dumps(shrink(json.loads(data))).encode())
    if size + len(packed) + len(path) + 100 > budget:
        if page:
            break
        page.append({"path": path, "too_big": True, "size": st.st_size})
    else:
        page.append({"path": path, "size": st.st_size, "mtime": st.st_mtime, "data": packed})
        size += len(packed) + len(path) + 100
    index += 1
print(json.dumps({"total": len(found), "journals": page,
                  "next": index if index < len(found) else None}))
"""


class JournalsUnreadable(Exception):
    """The shell container did not answer the collector as expected."""


def _collector_page(container_id: str, start: int) -> dict:
    result = runtime.sandbox_exec(
        container_id=container_id,
        command=[
            "python3",
            "-I",
            "-",
            LEARNER_HOME,
            str(JOURNAL_MAX_BYTES),
            str(JOURNAL_MAX_FILES),
            str(start),
            str(_COLLECT_BUDGET),
        ],
        stdin=_COLLECT_JOURNALS.encode(),
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


def _journals_collect_quietly(session: LabSession) -> None:
    """Journals are a bonus of a check: a container that cannot be read never fails it."""
    try:
        lab_session_journals_collect(session=session)
    except Exception:
        log.warning("Could not collect the journals of session %s", session.pk, exc_info=True)


def lab_session_results_refresh(*, session: LabSession) -> bool:
    """The learner's "Refresh results": reads the journals again; False when not running."""
    session.refresh_from_db()
    if session.state not in TERMINAL_STATES or not session.sandbox:
        return False
    try:
        lab_session_journals_collect(session=session)
    except (runtime.RuntimeFailure, JournalsUnreadable):
        log.warning("Could not collect the journals of session %s", session.pk, exc_info=True)
        return False
    return True


# --- Extend, stop, expire, reap -----------------------------------------------------------------


def lab_session_extend(*, session: LabSession) -> LabSession:
    """Adds time once per session."""
    with transaction.atomic():
        locked = LabSession.objects.select_for_update().get(pk=session.pk)
        if locked.state not in (State.READY, State.CHECKING, State.COMPLETED):
            raise LabSessionError(translation.gettext("This lab session is not running."))
        if locked.extended:
            raise LabSessionError(translation.gettext("This session has already been extended."))
        locked.extended = True
        locked.expires_at = locked.expires_at + timedelta(minutes=settings.LAB_EXTENSION_MINUTES)
        locked.save(update_fields=["extended", "expires_at"])
    session.refresh_from_db()
    return session


def lab_session_stop(*, session: LabSession) -> None:
    """Destroys the sandbox and ends the session; a second call does nothing."""
    _transition(session, State.DESTROYED)
    runtime.sandbox_destroy(labels=_session_labels(session))
    if session.sandbox:
        LabSession.objects.filter(pk=session.pk).update(sandbox={})
    lab_sessions_schedule()


def lab_session_end(*, session: LabSession) -> None:
    """The learner's Stop: the session ends now; the lab host's worker removes its containers.

    Only the row changes here, so that a web request does no Docker work; should the worker
    never get to it, the reaper destroys what belongs to no live session.
    """
    _transition(session, State.DESTROYED)
    _enqueue("stop", session.pk)


def lab_sessions_reap() -> dict[str, int]:
    """Expires overdue sessions, destroys what belongs to no live session, starts queued ones."""
    counts = {"expired": 0, "stalled": 0, "destroyed": 0, "orphans": 0}
    now = timezone.now()
    for session in LabSession.objects.overdue(now):
        counts["expired"] += _transition(session, State.EXPIRED)
    # A worker that died mid-provision leaves its session "provisioning" for ever.
    stalled = LabSession.objects.filter(
        state=State.PROVISIONING,
        state_changed_at__lt=now - timedelta(seconds=settings.LAB_PROVISION_TIMEOUT_SECONDS),
    )
    for session in stalled:
        counts["stalled"] += _transition(
            session, State.FAILED, error="Provisioning did not finish in time."
        )
    for session in LabSession.objects.filter(state__in=[State.EXPIRED, State.FAILED]):
        lab_session_stop(session=session)
        counts["destroyed"] += 1
    # Containers must never outlive their session: whatever is labelled for a session that is
    # not live (a worker killed mid-provision, a row deleted by hand) is destroyed.
    live = {str(pk) for pk in LabSession.objects.live().values_list("pk", flat=True)}
    orphans = {
        resource.labels.get("academy.sandbox")
        for resource in runtime.sandbox_list(labels={"academy.instance": lab_instance()})
        if resource.labels.get("academy.session") not in live
    }
    for sandbox_id in sorted(filter(None, orphans)):
        counts["orphans"] += runtime.sandbox_destroy(labels={"academy.sandbox": sandbox_id})
    lab_sessions_schedule()
    pool_refill()
    return counts
