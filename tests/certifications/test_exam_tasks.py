"""Practical tasks inside an exam, on the real engine with a real worker: the candidate starts a
task's lab from the attempt, the platform grades every task's checks when the attempt is
submitted (on the checks queue), stores the verdicts for the record, ends the labs, and the
task points count in their domains."""

import time

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from academy.certifications import exams
from academy.certifications.models import Attempt, Certification
from academy.contentsync import content_sync
from labs.models import LabSession
from labs.services import lab_session_solve, lab_session_stop
from tests.certifications.test_exams import answer_all, complete_course, signed_in
from tests.factories import UserFactory
from tests.labs.conftest import (  # noqa: F401 - fixtures of the lab engine's tests
    _docker_marked_tests_need_the_engine,
    docker_engine,
    lab_images,
)

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

State = LabSession.State


def _wait(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _ready(session: LabSession) -> LabSession:
    def ready():
        session.refresh_from_db()
        assert session.state not in (State.FAILED, State.DESTROYED), session.error
        return session.state in (State.READY, State.COMPLETED)

    _wait(ready, timeout=300, what=f"session {session.pk} to be ready")
    return session


@pytest.mark.usefixtures("lab_images", "lab_worker", "fault_relay")
@pytest.mark.parametrize("key", ["chaos-engineering-practitioner", "gitops-practitioner"])
def test_tasks_are_graded_on_the_lab_host_when_the_attempt_is_submitted(client, key):
    content_sync(root=settings.CONTENT_DIR)
    certification = Certification.objects.get(key=key)
    user = UserFactory()
    for course in certification.prerequisites["courses"]:
        complete_course(user, course)
    try:
        signed_in(client, user)
        attempt = exams.attempt_start(user=user, certification=certification, language="es")
        tasks = list(attempt.tasks.select_related("lab").order_by("position"))
        assert len(tasks) >= 2
        solved, untouched = tasks[0], tasks[1]

        # The candidate starts the first task from the exam page; it opens the exam's lab page.
        url = reverse(
            "certifications:task_start",
            kwargs={"public_id": attempt.public_id, "position": solved.position},
        )
        response = client.post(url)
        assert response.status_code == 302
        solved.refresh_from_db()
        session = _ready(solved.session)
        assert session.lab.exam_only
        assert session.expires_at >= attempt.deadline
        page = client.get(response["Location"]).content.decode()
        assert "labs/sessions" in response["Location"]
        for step in session.lab.steps.all():
            assert step.solve_script.strip() not in page
        # Starting it again gives the same lab, not a second one.
        assert client.post(url).status_code == 302
        assert LabSession.objects.filter(user=user, lab=solved.lab).count() == 1

        for step in session.lab.steps.order_by("number"):
            result = lab_session_solve(session=session, step=step)
            assert result.exit_code == 0, result.output
        answer_all(attempt, right=certification.questions)

        exams.attempt_submit(attempt=attempt)
        attempt.refresh_from_db()
        assert attempt.state == Attempt.State.GRADING

        def graded():
            attempt.refresh_from_db()
            return attempt.state == Attempt.State.GRADED

        _wait(graded, timeout=240, what="the worker to grade the practical tasks")
        solved.refresh_from_db()
        untouched.refresh_from_db()
        assert solved.points == solved.points_possible > 0
        assert [v["passed"] for v in solved.verdicts] == [True] * solved.points_possible
        assert untouched.session is None and untouched.points == 0
        possible = certification.questions + sum(t.points_possible for t in tasks)
        assert attempt.points_possible == possible
        assert attempt.points == certification.questions + solved.points
        assert attempt.passed is (attempt.score >= attempt.pass_mark)
        domain = next(d for d in attempt.domain_scores if d["domain"] == solved.domain.key)
        assert domain["possible"] >= solved.points_possible
        # The task's lab is gone once graded.
        session.refresh_from_db()
        assert session.state == State.DESTROYED
        assert attempt.graded_at <= timezone.now()
    finally:  # a failure half-way must not leave a sandbox that no test database reaps
        for live in LabSession.objects.live().filter(user=user):
            lab_session_stop(session=live)
