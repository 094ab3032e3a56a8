"""The lab engine's entry points: start, provision, check, extend, stop, reap.

Web views, the CLI and Celery tasks call these and nothing else. Docker is reached only through
labs.runtime. Every function can run twice (a Celery task may) without doing harm: each one
reads the session's state under a row lock and does nothing when the state says it is done.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from labs import runtime
from labs.content import FAULTS_CONTAINER
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
