"""Starting sessions: the queue, the warm pool, provisioning a sandbox, extending and
stopping it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from labs import runtime
from labs.content import CONTAINER_DEFAULTS, FAULTS_CONTAINER
from labs.models import Lab, LabSession
from labs.services import hosts
from labs.services.access import LabSessionError, session_is_running
from labs.services.limits import address_key, live_sessions_limit
from labs.services.state import enqueue, resource_labels, session_labels, transition

if TYPE_CHECKING:
    from academy.accounts.models import User

log = logging.getLogger(__name__)
State = LabSession.State
SCRIPTS_DIR = "/opt/lab"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _enqueue_provisioning(task_name: str, session: LabSession) -> None:
    """Start, stop, extend: on the provisioning queue of the host holding the session."""
    enqueue(task_name, session.pk, kind="provisioning", host=hosts.session_host(session))


# --- Start, queue and warm pool --------------------------------------------------------------


def lab_session_start(*, user: User, lab: Lab, client_address: str | None = None) -> LabSession:
    """The learner's live session of this lab: the existing one, a warm one, or a new one.

    A start from the web gives the client's address: then the live sessions of the user and of
    that address are limited (LabRateLimited). The CLI and the self-test give none.
    """
    if lab.exam_only:  # a practical task starts from its exam attempt only
        raise LabSessionError(translation.gettext("This lab is part of an exam."))
    existing = LabSession.objects.live().filter(user=user, lab=lab).first()
    if existing is not None:
        return existing
    address = ""
    if client_address is not None:
        address = address_key(client_address)
        live_sessions_limit(user=user, address=address)
    now = timezone.now()
    try:
        with transaction.atomic():
            warm = (
                LabSession.objects.select_for_update(skip_locked=True)
                .pooled()
                .filter(lab=lab, state=State.READY, expires_at__gt=now + timedelta(minutes=5))
                .filter(_warm_hosts(user=user, lab=lab))
                .order_by("ready_at")
                .first()
            )
            if warm is not None:
                warm.user = user
                warm.client_address = address
                warm.requested_at = now
                warm.expires_at = now + timedelta(minutes=lab.duration_minutes)
                warm.save(update_fields=["user", "client_address", "requested_at", "expires_at"])
                enqueue("pool_refill", kind="housekeeping", host=hosts.session_host(warm))
                return warm
            session = LabSession.objects.create(
                user=user, lab=lab, state=State.REQUESTED, client_address=address
            )
    except IntegrityError:  # a second start raced this one: return the session it made
        return LabSession.objects.live().get(user=user, lab=lab)
    lab_sessions_schedule()
    session.refresh_from_db()
    return session


def lab_session_start_for_exam(
    *, user: User, lab: Lab, expires_at: datetime, language: str
) -> LabSession:
    """A fresh session of a practical task (an exam-only lab) for an exam attempt, ending at
    ``expires_at`` (the attempt's deadline): never from the warm pool, never extended.

    A live session of the same task left by an earlier attempt is ended first: a candidate
    starts every attempt from the lab's setup, not from an earlier attempt's work. Called inside
    the attempt's transaction; the Docker work is enqueued on commit. ``language`` is the
    attempt's; the checks run at grading in it (their output is for staff, never shown).
    """
    if not lab.exam_only:
        raise ValueError(f"{lab.key} is not an exam-only lab")
    for earlier in LabSession.objects.live().filter(user=user, lab=lab):
        lab_session_end(session=earlier)
    session = LabSession.objects.create(
        user=user, lab=lab, state=State.REQUESTED, expires_at=expires_at
    )
    lab_sessions_schedule()
    session.refresh_from_db()
    return session


def _warm_hosts(*, user: User, lab: Lab) -> Q:
    """Which hosts' warm sandboxes a learner may be handed: their room's reserved host, or
    any open one (a draining host's pool is being emptied)."""
    reserved = hosts.reserved_host(user_id=user.pk, lab_id=lab.pk)
    return hosts.on_hosts(
        [room.name for room in hosts.hosts_open() if not reserved or room.name == reserved]
    )


def lab_sessions_schedule() -> list[int]:
    """Starts queued sessions, oldest first (exam tasks before practice), each on a host with
    room (labs.services.hosts.host_choose); a session no open host takes waits. Returns the
    ids of the sessions started."""
    started: list[int] = []
    with transaction.atomic():
        rooms = hosts.hosts_open()
        free = sum(max(0, room.free) for room in rooms)
        if free <= 0:
            return started
        # A session waiting for its reserved host must not hold back the ones behind it.
        queued = LabSession.objects.queued().select_for_update(skip_locked=True)[: free * 4]
        for session in queued:
            room = hosts.host_choose(session, rooms)
            if room is None:
                continue
            if transition(
                session, State.PROVISIONING, allowed_from=[State.REQUESTED], host=room.name
            ):
                started.append(session.pk)
                _enqueue_provisioning("provision", session)
                rooms = sorted(
                    (
                        replace(r, running=r.running + 1) if r.name == room.name else r
                        for r in rooms
                    ),
                    key=lambda r: (-r.free, r.name),
                )
                if sum(max(0, r.free) for r in rooms) <= 0:
                    break
    return started


def queue_position(session: LabSession) -> int | None:
    """1 for the next session to start; None when the session is not waiting."""
    if session.state != State.REQUESTED:
        return None
    queued = LabSession.objects.queued()
    exams_first = 0  # exam tasks go first (LabSessionQuerySet.queued)
    if session.lab.exam_only:
        queued = queued.filter(lab__exam_only=True)
    else:
        exams_first = queued.filter(lab__exam_only=True).count()
        queued = queued.filter(lab__exam_only=False)
    ahead = queued.filter(requested_at__lt=session.requested_at).count()
    same_time = queued.filter(requested_at=session.requested_at, pk__lt=session.pk)
    return exams_first + ahead + same_time.count() + 1


def pool_demand(*, host: str) -> dict[int, int]:
    """Extra warm sandboxes per lab id that the site asks of this host beyond each lab's own
    pool (the workshops' pre-warming): the callable named by LAB_WARM_POOL_DEMAND, or nothing.
    It reads rows only; a failing hook costs the extra pool, never the refill."""
    path = getattr(settings, "LAB_WARM_POOL_DEMAND", "")
    if not path:
        return {}
    try:
        asked = import_string(path)(host=host)
        return {int(lab_id): max(0, int(count)) for lab_id, count in asked.items()}
    except Exception:
        log.exception("The warm pool demand hook %s failed", path)
        return {}


def warm_pool_size(lab: Lab, *, capacity: int, labs: int) -> int:
    """A lab's own warm pool on a host: the lab's warm_pool_size, else LAB_WARM_POOL_SIZE, else
    (auto) what the host's capacity allows beside its learners: one sandbox per lab when it
    holds four sessions per lab, two when eight."""
    if lab.warm_pool_size is not None:
        return lab.warm_pool_size
    if settings.LAB_WARM_POOL_SIZE is not None:
        return settings.LAB_WARM_POOL_SIZE
    per_lab = capacity // max(1, labs)
    return 2 if per_lab >= 8 else 1 if per_lab >= 4 else 0


def pool_refill(*, host: str | None = None) -> int:
    """Provisions sessions with no user on this host until each lab has its warm pool here (its
    own size plus this host's share of pool_demand()); ends the pooled sessions beyond it, the
    newest first, so that an extra pool asked for (a workshop's) is released when nobody asks
    any more. A host that takes no new sessions (draining, or not open) ends its whole pool.
    Returns how many sessions it started."""
    host = host or hosts.this_host()
    room = next((room for room in hosts.hosts_open() if room.name == host), None)
    here = LabSession.objects.live().pooled().filter(hosts.on_host(host))
    if room is None:
        for session in list(here):
            lab_session_end(session=session)
        return 0
    made = 0
    running = room.running
    demand = pool_demand(host=host)
    labs = list(Lab.objects.published().filter(exam_only=False))
    # Labs asked for first: with the host nearly full, a waiting room comes before a base pool.
    for lab in sorted(labs, key=lambda lab: (-demand.get(lab.pk, 0), lab.order, lab.key)):
        size = warm_pool_size(lab, capacity=room.capacity, labs=len(labs))
        size += demand.get(lab.pk, 0)
        pooled = here.filter(lab=lab)
        have = pooled.count()
        if have > size:
            surplus = pooled.order_by("-state_changed_at", "-pk")[: have - size]
            for session in list(surplus):
                lab_session_end(session=session)
            continue
        for _ in range(size - have):
            if running >= room.capacity:
                return made  # learners come before the pool
            session = LabSession.objects.create(lab=lab, state=State.PROVISIONING, host=host)
            _enqueue_provisioning("provision", session)
            running += 1
            made += 1
    return made


# --- Provision ---------------------------------------------------------------------------------


def container_specs(lab: Lab) -> list[runtime.ContainerSpec]:
    specs = []
    for container in lab.topology:
        tmpfs = {"/tmp": runtime.Tmpfs(size=64)}
        user = None  # the image's
        if container["name"] == lab.shell_container:
            # The learner's home: writable, size-limited, theirs, and able to run scripts.
            tmpfs["/home/learner"] = runtime.Tmpfs(size=64, uid=1000, gid=1000, executable=True)
            # The main process (the image's `sleep infinity`, under Docker's init) is root's,
            # so that `kill -9 -1` in the terminal ends the learner's own processes, not the
            # container; the terminal and every exec name their user (learner, or root).
            user = "root"
        specs.append(
            runtime.ContainerSpec(
                name=container["name"],
                image=f"academy/{container['image']}:latest",
                env=container.get("env", {}),
                memory=int(container.get("memory_mb", CONTAINER_DEFAULTS["memory_mb"])),
                cpus=float(container.get("cpus", CONTAINER_DEFAULTS["cpus"])),
                pids=int(container.get("pids", CONTAINER_DEFAULTS["pids"])),
                cap_add=container.get("capabilities", []),
                tmpfs=tmpfs,
                user=user,
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


def sandbox_prepare(
    *, lab: Lab, sandbox: runtime.Sandbox, scripts: bool = True, setup: bool = True
) -> None:
    """What a new sandbox needs before the learner arrives: the faults sidecar listening, the
    root-only scripts in place, the lab's setup run. Also what a restored sandbox needs again
    (labs.services.health); raises RuntimeFailure when it does not work out."""
    if lab.faults_enabled:
        _faults_wait_until_listening(sandbox)
    if scripts:
        for container, files in _scripts_by_container(lab).items():
            runtime.sandbox_put_files(
                container_id=sandbox.containers[container], path=SCRIPTS_DIR, files=files
            )
    if setup and lab.setup_script:
        result = runtime.sandbox_exec(
            container_id=sandbox.containers[lab.shell_container],
            command=["/bin/bash", f"{SCRIPTS_DIR}/setup.sh"],
            user="root",
            timeout=settings.LAB_SETUP_TIMEOUT_SECONDS,
            # As a check runs (labs.services.grading): a restored sandbox runs it again while
            # the learner's files are there.
            environment={"PATH": SAFE_PATH, "HOME": "/root", "LANG": "C.UTF-8"},
            clean_environment=True,
            workdir="/",
        )
        if result.exit_code != 0:
            raise runtime.RuntimeFailure(f"setup failed ({result.exit_code}): {result.output}")


def lab_session_provision(*, session: LabSession) -> None:
    """Creates the session's sandbox and runs the lab's setup; idempotent."""
    session.refresh_from_db()
    if session.state != State.PROVISIONING:
        return
    lab = session.lab
    labels = session_labels(session)
    # A crash mid-provision may have left half a sandbox: start from nothing.
    runtime.sandbox_destroy(labels=labels)
    # The lifetime starts now, so that the sandbox's labels carry the expiry the row keeps; an
    # exam's task keeps the attempt's deadline, set when it was started.
    if not (lab.exam_only and session.expires_at):
        minutes = lab.duration_minutes if session.user_id else settings.LAB_WARM_POOL_TTL_MINUTES
        session.expires_at = timezone.now() + timedelta(minutes=minutes)
        LabSession.objects.filter(pk=session.pk).update(expires_at=session.expires_at)
    try:
        # The root-only scripts go in as each container is made, before it starts; the
        # containers start side by side (the setup, or the faults sidecar's wait, is what
        # waits for them to serve).
        scripts = {name: {SCRIPTS_DIR: files} for name, files in _scripts_by_container(lab).items()}
        sandbox = runtime.sandbox_create(
            labels=resource_labels(session),
            containers=container_specs(lab),
            files=scripts,
            side_by_side=True,
        )
        LabSession.objects.filter(pk=session.pk).update(sandbox=sandbox.as_dict())
        sandbox_prepare(lab=lab, sandbox=sandbox, scripts=False)
    except Exception as error:
        log.exception("Provisioning session %s failed", session.pk)
        runtime.sandbox_destroy(labels=labels)
        transition(session, State.FAILED, error=str(error)[:2000])
        lab_sessions_schedule()
        return
    moved = transition(
        session, State.READY, allowed_from=[State.PROVISIONING], ready_at=timezone.now()
    )
    if not moved:  # stopped or expired while we were building it
        runtime.sandbox_destroy(labels=labels)


# --- Extend, stop, expire, reap -----------------------------------------------------------------


def lab_session_extend(*, session: LabSession) -> LabSession:
    """Adds time once per session."""
    with transaction.atomic():
        locked = LabSession.objects.select_for_update().get(pk=session.pk)
        if not session_is_running(locked):
            raise LabSessionError(translation.gettext("This lab session is not running."))
        if locked.lab.exam_only:  # the exam's deadline is the session's
            raise LabSessionError(translation.gettext("An exam's lab session cannot be extended."))
        if locked.extended:
            raise LabSessionError(translation.gettext("This session has already been extended."))
        locked.extended = True
        if locked.expires_at is None:  # still starting: its time has not begun
            raise LabSessionError(translation.gettext("This lab session is not running."))
        locked.expires_at = locked.expires_at + timedelta(minutes=settings.LAB_EXTENSION_MINUTES)
        locked.save(update_fields=["extended", "expires_at"])
    session.refresh_from_db()
    return session


def lab_session_stop(*, session: LabSession) -> None:
    """Destroys the sandbox and ends the session; a second call does nothing."""
    transition(session, State.DESTROYED)
    runtime.sandbox_destroy(labels=session_labels(session))
    if session.sandbox:
        LabSession.objects.filter(pk=session.pk).update(sandbox={})
    lab_sessions_schedule()


def lab_session_end(*, session: LabSession) -> None:
    """The learner's Stop: the session ends now; the lab host's worker removes its containers.

    Only the row changes here, so that a web request does no Docker work; should the worker
    never get to it, the reaper destroys what belongs to no live session.
    """
    transition(session, State.DESTROYED)
    _enqueue_provisioning("stop", session)
