"""Operate labs from the command line: list, start, exec, check, restore, stop, selftest,
and the lab hosts (hosts: list, drain, resume, remove).

Authors and operators use it, and so do the tests and benchmarks. ``start`` and ``selftest``
need a Celery worker (``make run`` starts one): the session is provisioned there, as for a
learner in the browser. The other subcommands act directly through labs.services.
"""

import sys
import time
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from academy.accounts.models import User
from labs import runtime, services
from labs.models import Lab, LabSession, LabStep
from labs.services import hosts

State = LabSession.State
SELFTEST_USER = "lab-selftest"


class Command(BaseCommand):
    help = "Operate labs: list, start, exec, check, restore, stop, selftest."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="One lab slug per line, then its details.")

        start = sub.add_parser("start", help="Start a session, wait until ready, print its id.")
        start.add_argument("slug")
        start.add_argument("--user", default=SELFTEST_USER, help="Username (created if absent).")
        start.add_argument("--timeout", type=float, default=600)

        run = sub.add_parser("exec", help="Run a command as the learner would, in the terminal.")
        run.add_argument("session", type=int)
        run.add_argument("--container", default=None, help="Default: the lab's shell container.")
        run.add_argument("--timeout", type=float, default=120)
        run.add_argument("command", nargs="+", help="The command, after --.")

        check = sub.add_parser("check", help="Check a step; exit 0 when it passes.")
        check.add_argument("session", type=int)
        check.add_argument("--step", type=int, default=None, help="Default: first not passed.")
        check.add_argument("--language", default="en", choices=["en", "es"])

        restore = sub.add_parser(
            "restore", help="Bring back a session whose containers died; exit 0 when it is."
        )
        restore.add_argument("session", type=int)

        stop = sub.add_parser("stop", help="Stop a session and destroy its containers.")
        stop.add_argument("session", type=int)

        hosts = sub.add_parser(
            "hosts", help="The lab hosts: list them (default), or drain, resume or remove one."
        )
        hosts.add_argument(
            "operation", nargs="?", default="list", choices=["list", "drain", "resume", "remove"]
        )
        hosts.add_argument("name", nargs="?", help="The host (its LAB_TASK_QUEUE).")

        selftest = sub.add_parser("selftest", help="Prove a lab: checks fail, solves pass.")
        selftest.add_argument("slug", nargs="?")
        selftest.add_argument("--all", action="store_true", dest="all_labs")
        selftest.add_argument("--timeout", type=float, default=600)

    def handle(self, *args: object, action: str, **options: Any) -> None:
        handler = getattr(self, f"do_{action}")
        try:
            handler(**options)
        except runtime.RuntimeUnavailable as error:
            # One line, not a traceback: the engine is down or unreachable.
            raise CommandError(f"The Docker engine does not answer: {error}") from error

    # --- hosts ----------------------------------------------------------------------------

    def do_hosts(self, *, operation: str, name: str | None, **options: Any) -> None:
        if operation == "list":
            rows = hosts.hosts_report()
            if not rows:
                self.stdout.write(
                    f"No lab host has announced itself; sessions go to {hosts.this_host()!r}."
                )
            for row in rows:
                seen = "live" if row["live"] else f"not seen since {row['seen_at']:%Y-%m-%d %H:%M}"
                self.stdout.write(
                    f"{row['name']}\t{row['state']}\t{row['running']}/{row['capacity']} running"
                    f"\t{row['pooled']} warm\t{seen}\t{row['terminal_url'] or '-'}"
                )
            return
        if not name:
            raise CommandError(f"Name the host to {operation}: 'manage.py lab hosts' lists them.")
        try:
            if operation == "drain":
                ended = hosts.host_drain(name=name)
                self.stdout.write(
                    f"{name}: draining; {ended} warm sandbox(es) ended. Its sessions run out; "
                    f"then 'manage.py lab hosts remove {name}'."
                )
            elif operation == "resume":
                hosts.host_resume(name=name)
                self.stdout.write(f"{name}: active; new sessions may go there again.")
            else:
                hosts.host_remove(name=name)
                self.stdout.write(f"{name}: removed.")
        except hosts.LabHostError as error:
            raise CommandError(str(error)) from error

    # --- list -----------------------------------------------------------------------------

    def do_list(self, **options: Any) -> None:
        for lab in Lab.objects.published().prefetch_related("steps"):
            containers = ", ".join(c["name"] for c in lab.topology)
            self.stdout.write(
                f"{lab.key}\t{lab.difficulty}\t{lab.duration_minutes} min\t"
                f"{lab.steps.count()} steps\t[{containers}]\t{lab.title_en}"  # type: ignore[attr-defined]  # modeltranslation's
            )

    # --- start ----------------------------------------------------------------------------

    def _lab(self, slug: str) -> Lab:
        lab = Lab.objects.published().filter(key=slug).first()
        if lab is None:
            raise CommandError(f"No lab {slug!r}. 'manage.py lab list' shows the labs.")
        return lab

    def _user(self, username: str) -> User:
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        return user

    def _wait_ready(self, session: LabSession, timeout: float) -> LabSession:
        deadline = time.monotonic() + timeout
        shown = None
        while time.monotonic() < deadline:
            session.refresh_from_db()
            status = session.state
            if session.state == State.REQUESTED:
                status = f"queued #{services.queue_position(session)}"
            if status != shown:
                self.stderr.write(f"session {session.pk}: {status}")
                shown = status
            if session.state in (State.READY, State.COMPLETED):
                return session
            if not session.is_live:
                raise CommandError(f"Session {session.pk} {session.state}: {session.error}")
            time.sleep(0.25)
        raise CommandError(
            f"Session {session.pk} is still {session.state} after {timeout:.0f} s. Is a Celery "
            "worker running ('make run' starts one)?"
        )

    def do_start(self, *, slug: str, user: str, timeout: float, **options: Any) -> None:
        session = services.lab_session_start(user=self._user(user), lab=self._lab(slug))
        session = self._wait_ready(session, timeout)
        self.stdout.write(str(session.pk))

    # --- exec, check, stop ----------------------------------------------------------------

    def _session(self, session_id: int, *, running: bool = True) -> LabSession:
        session = LabSession.objects.select_related("lab").filter(pk=session_id).first()
        if session is None:
            raise CommandError(f"No session {session_id}.")
        if running and not services.session_is_running(session):
            if session.problem and session.state in services.RUNNING_STATES:
                self._broken(session, session.problem)
            raise CommandError(f"Session {session_id} is {session.state}, not running.")
        return session

    def _broken(self, session: LabSession, problem: dict[str, Any]) -> NoReturn:
        """Says in one line what happened to the session's sandbox, and what to do."""
        with translation.override("en"):
            text = services.problem_text(problem)
        hint = "" if problem.get("restoring") else f" (manage.py lab restore {session.pk})"
        raise CommandError(f"Session {session.pk}: {text}{hint}")

    def _failed(self, session: LabSession, error: runtime.RuntimeFailure) -> NoReturn:
        """A command could not run in the sandbox: find out why, in one line."""
        problem = services.lab_session_diagnose(session=session)
        if problem:
            self._broken(session, problem)
        raise CommandError(f"Session {session.pk}: {str(error).splitlines()[0][:300]}")

    def do_exec(
        self,
        *,
        session: int,
        container: str | None,
        timeout: float,
        command: list[str],
        **opts: Any,
    ) -> None:
        lab_session = self._session(session)
        name = container or lab_session.lab.shell_container
        container_id = lab_session.sandbox["containers"].get(name)
        if container_id is None:
            raise CommandError(f"No container {name!r} in session {session}.")
        try:
            result = runtime.sandbox_exec(
                container_id=container_id,
                command=command,
                user="learner" if name == lab_session.lab.shell_container else "",
                timeout=timeout,
                workdir="/home/learner" if name == lab_session.lab.shell_container else None,
            )
        except runtime.RuntimeFailure as error:
            self._failed(lab_session, error)
        self.stdout.write(result.output, ending="")
        if result.timed_out:
            self.stderr.write(f"timed out after {timeout:g} s")
        sys.exit(result.exit_code if result.exit_code is not None else 124)

    def _step(self, session: LabSession, number: int | None) -> LabStep:
        steps = list(session.lab.steps.order_by("number"))
        if number is not None:
            step = next((s for s in steps if s.number == number), None)
            if step is None:
                raise CommandError(f"Lab {session.lab.key} has steps 1 to {len(steps)}.")
            return step
        passed = set(session.checks.filter(passed=True).values_list("step_id", flat=True))
        return next((s for s in steps if s.pk not in passed), steps[-1])

    def do_check(self, *, session: int, step: int | None, language: str, **options: Any) -> None:
        lab_session = self._session(session)
        lab_step = self._step(lab_session, step)
        try:
            result = services.lab_session_check(
                session=lab_session, step=lab_step, language=language
            )
        except services.LabSessionError as error:
            raise CommandError(f"Session {session}: {error}") from error
        except runtime.RuntimeFailure as error:
            self._failed(lab_session, error)
        verdict = "PASS" if result.passed else "FAIL"
        self.stdout.write(f"step {lab_step.number} ({lab_step.key}): {verdict}")
        for message in result.messages:
            self.stdout.write(f"  {message}")
        if not result.passed:
            sys.exit(1)

    def do_restore(self, *, session: int, **options: Any) -> None:
        lab_session = self._session(session, running=False)
        if not lab_session.problem:
            lab_session = self._session(session)  # refuses one that is not running at all
            self.stdout.write(f"session {session}: nothing to restore")
            return
        if not services.lab_session_restore(session=lab_session):
            lab_session.refresh_from_db()
            raise CommandError(f"Session {session} could not be restored: {lab_session.error}")
        self.stdout.write(f"session {session}: restored")

    def do_stop(self, *, session: int, **options: Any) -> None:
        services.lab_session_stop(session=self._session(session, running=False))
        self.stdout.write(f"session {session}: destroyed")

    # --- selftest -------------------------------------------------------------------------

    def do_selftest(
        self, *, slug: str | None, all_labs: bool, timeout: float, **options: Any
    ) -> None:
        if bool(slug) == all_labs:
            raise CommandError("Name one lab, or pass --all.")
        # --all: the labs, then the certifications' practical tasks (exam-only labs).
        tasks = Lab.objects.filter(retired_at__isnull=True, exam_only=True)
        if all_labs:
            labs = [*Lab.objects.published(), *tasks]
        else:
            assert slug is not None  # one lab or --all, checked above
            labs = [tasks.filter(key=slug).first() or self._lab(slug)]
        user = self._user(SELFTEST_USER)
        failures = []
        for lab in labs:
            selftest = self._selftest_task if lab.exam_only else self._selftest_lab
            failures += selftest(lab, user, timeout)
        if failures:
            for failure in failures:
                self.stderr.write(self.style.ERROR(f"FAILED {failure}"))
            raise CommandError(f"{len(failures)} self-test failure(s).")
        self.stdout.write(self.style.SUCCESS(f"{len(labs)} lab(s) passed their self-test."))

    def _selftest_task(self, lab: Lab, user: User, timeout: float) -> list[str]:
        """A practical task proves itself as the exam grades it: every check fails before the
        solves, every check passes after them (lab_session_grade_all, nothing stored)."""
        from datetime import timedelta

        from django.utils import timezone

        expires_at = timezone.now() + timedelta(minutes=lab.duration_minutes + 10)
        session = services.lab_session_start_for_exam(
            user=user, lab=lab, expires_at=expires_at, language="en"
        )
        failures = []
        try:
            session = self._wait_ready(session, timeout)
            before = services.lab_session_grade_all(session=session)
            for step in lab.steps.order_by("number"):
                solved = services.lab_session_solve(session=session, step=step)
                if solved.exit_code != 0:
                    failures.append(
                        f"{lab.key} step {step.number}: solve exited {solved.exit_code}: "
                        f"{solved.output[-1500:]}"
                    )
            after = services.lab_session_grade_all(session=session)
            for first, second in zip(before, after, strict=True):
                if first["passed"]:
                    failures.append(f"{lab.key} {first['step']}: check passed before the solves")
                if not second["passed"]:
                    failures.append(f"{lab.key} {second['step']}: check failed after the solves")
                self.stdout.write(
                    f"{lab.key} ({first['step']}): before the solves "
                    f"{'PASS' if first['passed'] else 'FAIL'}, after them "
                    f"{'PASS' if second['passed'] else 'FAIL'}"
                )
        except (CommandError, services.LabSessionError) as error:
            failures.append(f"{lab.key}: {error}")
        finally:
            services.lab_session_stop(session=session)
        return failures

    def _selftest_lab(self, lab: Lab, user: User, timeout: float) -> list[str]:
        for stale in LabSession.objects.live().filter(user=user, lab=lab):
            services.lab_session_stop(session=stale)
        started = time.monotonic()
        session = services.lab_session_start(user=user, lab=lab)
        failures = []
        try:
            session = self._wait_ready(session, timeout)
            self.stdout.write(f"{lab.key}: ready in {time.monotonic() - started:.1f} s")
            for step in lab.steps.order_by("number"):
                before = services.lab_session_check(session=session, step=step)
                if before.passed:
                    failures.append(f"{lab.key} step {step.number}: check passed before solve")
                solved = services.lab_session_solve(session=session, step=step)
                if solved.exit_code != 0:
                    failures.append(
                        f"{lab.key} step {step.number}: solve exited {solved.exit_code}: "
                        f"{solved.output[-500:]}"
                    )
                after = services.lab_session_check(session=session, step=step)
                if not after.passed:
                    failures.append(
                        f"{lab.key} step {step.number}: check failed after solve: "
                        f"{after.messages} {after.output[-500:]}\n"
                        f"  the solve script's output ended with:\n{solved.output[-1500:]}"
                    )
                self.stdout.write(
                    f"{lab.key} step {step.number} ({step.key}): before solve "
                    f"{'PASS' if before.passed else 'FAIL'}, after solve "
                    f"{'PASS' if after.passed else 'FAIL'}"
                )
        except CommandError as error:
            failures.append(f"{lab.key}: {error}")
        finally:
            services.lab_session_stop(session=session)
        return failures
