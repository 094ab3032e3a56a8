"""Grading: run a step's check out of the learner's reach and store the verdict."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation

from labs import runtime
from labs.models import CheckResult, LabSession, LabStep
from labs.runtime import ExecResult
from labs.services.access import LabSessionError, session_is_running, session_refusal
from labs.services.hosts import session_host
from labs.services.limits import check_in_flight_take
from labs.services.provisioning import SAFE_PATH, SCRIPTS_DIR
from labs.services.results import journals_collect_quietly
from labs.services.state import enqueue, transition

log = logging.getLogger(__name__)
State = LabSession.State


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


@dataclass(frozen=True)
class CheckRequest:
    """The check in flight after a click: this one, or the one a previous click started."""

    step_number: int
    already_pending: bool


def lab_session_check_request(*, session: LabSession, step: LabStep, language: str) -> CheckRequest:
    """The learner's Check: the lab host's worker runs it once this transaction commits.

    One check at a time per session: while one is in flight, another click runs nothing and
    gets that check's pending answer; its result shows when the worker stores it.
    """
    if not session_is_running(session):
        raise LabSessionError(session_refusal(session))
    if session.lab.exam_only:
        raise LabSessionError(_exam_refusal())
    in_flight = check_in_flight_take(session=session, step_id=step.pk)
    if in_flight is not None:
        number = (
            session.lab.steps.filter(pk=in_flight["step"]).values_list("number", flat=True).first()
        )
        return CheckRequest(step_number=number or step.number, already_pending=True)
    enqueue("check", session.pk, step.pk, language, kind="checks", host=session_host(session))
    return CheckRequest(step_number=step.number, already_pending=False)


# A check runs as root: a user the learner is not, so the learner can neither signal, trace nor
# read it (root here has no capabilities, so it reads and writes only what its uid may, and it
# could not switch to the learner's uid anyway). It runs in "/", not the learner's home (python3
# puts its working folder on sys.path), and with these variables only: the container's own
# include the lab's (GIT_CONFIG_SYSTEM names a file in /tmp in the GitOps labs), and Docker can
# only add to them. Check scripts run `python3 -I` and git through `safegit` (content/README.md).
CHECK_WORKDIR = "/"


def check_environment(language: str) -> dict[str, str]:
    """All the variables a check sees."""
    return {"PATH": SAFE_PATH, "LAB_LANGUAGE": language, "HOME": "/root", "LANG": "C.UTF-8"}


def _exam_refusal() -> str:
    return translation.gettext("An exam's task is graded when you submit the exam.")


def _check_exec(session: LabSession, step: LabStep, language: str) -> Callable[[], ExecResult]:
    """The step's check as root, out of the learner's reach: the one way a check runs. Read
    from the rows here; the call it returns touches only the engine (a thread may make it)."""
    container = step.check_container or session.lab.shell_container
    return partial(
        runtime.sandbox_exec,
        container_id=session.sandbox["containers"][container],
        command=["/bin/bash", f"{SCRIPTS_DIR}/steps/{step.key}.check.sh"],
        user="root",
        timeout=settings.LAB_CHECK_TIMEOUT_SECONDS,
        environment=check_environment(language),
        clean_environment=True,
        workdir=CHECK_WORKDIR,
    )


def lab_session_check(*, session: LabSession, step: LabStep, language: str = "en") -> CheckResult:
    """Runs the step's check as root, out of the learner's reach, and stores the result."""
    session.refresh_from_db()
    if not session_is_running(session):
        raise LabSessionError(session_refusal(session))
    if session.lab.exam_only:  # no per-step verdicts for a candidate: lab_session_grade_all
        raise LabSessionError(_exam_refusal())
    previous = session.state if session.state != State.CHECKING else State.READY
    run = _check_exec(session, step, language)
    started = time.monotonic()
    # The check starts while the session's row says so: the engine's work and the database's
    # overlap instead of adding up.
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run)
        try:
            transition(session, State.CHECKING, allowed_from=[State.READY, State.COMPLETED])
        finally:
            try:
                result = running.result()
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
    # The verdict and the state it leads to, together: whoever sees the result sees the check
    # over (the web's in-flight marker relies on it when its cache is not the worker's).
    with transaction.atomic():
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
        passes = CheckResult.objects.filter(session=session, passed=True).values("step_id")
        all_done = not session.lab.steps.exclude(pk__in=passes).exists()
        transition(
            session,
            State.COMPLETED if all_done or previous == State.COMPLETED else State.READY,
            allowed_from=[State.CHECKING],
        )
    # Then the journals, as a bonus of the check: a second exec (as long as the check's own)
    # the verdict does not wait for. The page swaps them in when its status poll sees them,
    # and the task keeps the check in flight until they are stored.
    journals_collect_quietly(session)
    return check


def lab_session_grade_all(*, session: LabSession, language: str = "en") -> list[dict[str, Any]]:
    """Runs every step's check of an exam's task, as lab_session_check runs one, and returns
    ``[{"step": key, "passed": bool}]`` in step order. Stores no CheckResult and shows nothing:
    the candidate never sees a verdict per step; the caller keeps the list for the record.

    Raises LabSessionError when the session is not running (its steps then earn nothing).
    """
    session.refresh_from_db()
    if not session_is_running(session):
        raise LabSessionError(session_refusal(session))
    verdicts = []
    for step in session.lab.steps.order_by("number"):
        result = _check_exec(session, step, language)()
        passed = result.exit_code == 0 and not result.timed_out
        log.info(
            "Exam task check: session %s, step %s: %s (exit %s%s)",
            session.pk,
            step.key,
            "passed" if passed else "failed",
            result.exit_code,
            ", timed out" if result.timed_out else "",
        )
        verdicts.append({"step": step.key, "passed": passed})
    return verdicts


def lab_session_solve(*, session: LabSession, step: LabStep) -> ExecResult:
    """Runs the step's solution as the learner would (used by the lab self-test).

    As the learner, in their home, with the container's variables: what the learner's terminal
    has (Chaos Toolkit on PATH, git's identity), since a solve is the learner's own actions.
    """
    session.refresh_from_db()
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"][session.lab.shell_container],
        command=["bash", "-s"],
        stdin=step.solve_script.encode(),
        user="learner",
        timeout=settings.LAB_SETUP_TIMEOUT_SECONDS,
        workdir="/home/learner",
    )
