"""Exam-only labs (a certification's practical tasks): never listed or reachable as labs, started
only for an exam with its deadline, and their sessions offer no Check, solution, results,
extension, reset or stop, even to a browser that posts there anyway."""

from datetime import timedelta

import pytest
from django.utils import timezone

from academy.courses.services import content_sync
from labs import selectors, services
from labs.models import Lab, LabSession
from tests.certifications.content_tree import write_demo_certification
from tests.content_tree import write_demo_course
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.django_db
State = LabSession.State

TASK_YAML = """\
order: 1
difficulty: beginner
duration_minutes: 10
domain: alpha
slug: {en: secret-task, es: tarea-secreta}
title: {en: Secret exam task, es: Tarea secreta de examen}
summary: {en: A task for tests., es: Una tarea para pruebas.}
shell: toolbox
containers:
  - name: toolbox
    image: toolbox
steps:
  - key: make-a-file
"""
SOLVE = "touch ~/the-secret-solution\n"


@pytest.fixture
def task(tmp_path) -> Lab:
    write_demo_course(tmp_path)
    folder = write_demo_certification(tmp_path)
    steps = folder / "tasks" / "secret-task" / "steps"
    steps.mkdir(parents=True)
    (steps.parent / "lab.yaml").write_text(TASK_YAML)
    (steps / "make-a-file.en.md").write_text("---\ntitle: Make the file\n---\n\nMake it.\n")
    (steps / "make-a-file.es.md").write_text("---\ntitle: Crea el archivo\n---\n\nCréalo.\n")
    (steps / "make-a-file.check.sh").write_text("test -f /home/learner/the-secret-solution\n")
    (steps / "make-a-file.solve.sh").write_text(SOLVE)
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="demo-practitioner--secret-task")


def _exam_session(task: Lab, user, state=State.READY) -> LabSession:
    return LabSession.objects.create(
        user=user, lab=task, state=state, expires_at=timezone.now() + timedelta(minutes=30)
    )


def test_exam_only_lab_is_in_no_catalogue_page_or_lesson(client, task):
    assert task.exam_only
    assert [p.lab.key for p in selectors.lab_catalogue(user=None)] == ["tiny-lab"]
    assert "Secret exam task" not in client.get("/en/labs/").content.decode()
    assert "Tarea secreta" not in client.get("/es/laboratorios/").content.decode()
    assert client.get("/en/labs/secret-task/").status_code == 404
    assert client.get("/es/laboratorios/tarea-secreta/").status_code == 404
    task.lesson_refs = ["demo-course/first-lesson"]
    task.save()
    assert selectors.labs_for_lesson(course_key="demo-course", lesson_key="first-lesson") == []


def test_exam_only_lab_cannot_be_started_as_a_lab(client, task):
    user = UserFactory()
    client.force_login(user)

    assert client.post("/en/labs/secret-task/start/").status_code == 404
    with pytest.raises(services.LabSessionError):
        services.lab_session_start(user=user, lab=task)
    assert not LabSession.objects.exists()


def test_no_warm_pool_for_exam_only_labs(task, settings):
    settings.LAB_WARM_POOL_SIZE = 1
    settings.LAB_MAX_RUNNING_SESSIONS = 10

    services.pool_refill()

    assert set(LabSession.objects.values_list("lab__key", flat=True)) == {"tiny-lab"}


def test_start_for_exam_keeps_the_deadline_and_ends_an_earlier_attempts_session(task, settings):
    settings.LAB_MAX_RUNNING_SESSIONS = 10
    user = UserFactory()
    earlier = _exam_session(task, user)
    deadline = timezone.now() + timedelta(minutes=40)

    session = services.lab_session_start_for_exam(
        user=user, lab=task, expires_at=deadline, language="es"
    )

    earlier.refresh_from_db()
    assert earlier.state == State.DESTROYED
    assert session.pk != earlier.pk and session.state == State.PROVISIONING
    assert session.expires_at == deadline and session.user == user
    with pytest.raises(services.LabSessionError):
        services.lab_session_extend(session=session)
    tiny = Lab.objects.get(key="tiny-lab")
    with pytest.raises(ValueError, match="not an exam-only lab"):
        services.lab_session_start_for_exam(user=user, lab=tiny, expires_at=deadline, language="en")


def test_check_endpoint_and_services_refuse_an_exam_session(client, task):
    user = UserFactory()
    session = _exam_session(task, user)
    client.force_login(user)
    step = task.steps.get()

    response = client.post(
        f"/en/labs/sessions/{session.pk}/steps/1/check/", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 404
    with pytest.raises(services.LabSessionError):
        services.lab_session_check_request(session=session, step=step, language="en")
    with pytest.raises(services.LabSessionError):
        services.lab_session_check(session=session, step=step)
    assert not session.checks.exists()


@pytest.mark.parametrize("action", ["extend", "reset", "stop", "results/refresh"])
def test_no_extend_reset_stop_or_results_for_an_exam_session(client, task, action):
    user = UserFactory()
    session = _exam_session(task, user)
    client.force_login(user)

    assert client.post(f"/en/labs/sessions/{session.pk}/{action}/").status_code == 404
    assert client.get(f"/en/labs/sessions/{session.pk}/results/").status_code == 404
    session.refresh_from_db()
    assert session.state == State.READY and not session.extended
    assert LabSession.objects.count() == 1


def test_exam_session_page_shows_the_task_and_terminal_but_no_check_or_solution(client, task):
    user = UserFactory()
    session = _exam_session(task, user)
    client.force_login(user)

    for url in (f"/en/labs/sessions/{session.pk}/", f"/es/laboratorios/sesiones/{session.pk}/"):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200
        assert "data-terminal-url" in html
        assert "data-check-url" not in html
        assert "the-secret-solution" not in html and SOLVE not in html
        assert "/results/" not in html and "/extend/" not in html and "/reset/" not in html
    assert "Make the file" in client.get(f"/en/labs/sessions/{session.pk}/").content.decode()
    assert "Crea el archivo" in html

    status = client.get(f"/en/labs/sessions/{session.pk}/status/").json()
    assert status["exam"] is True and status["steps"] == []


def test_another_user_cannot_see_an_exam_session(client, task):
    session = _exam_session(task, UserFactory())
    client.force_login(UserFactory())

    assert client.get(f"/en/labs/sessions/{session.pk}/").status_code == 404


def test_exam_session_page_links_back_to_its_attempt(client, task):
    from django.urls import reverse

    from academy.certifications.models import Attempt, AttemptTask, CertificationTask

    user = UserFactory()
    session = _exam_session(task, user)
    certification_task = CertificationTask.objects.get(lab=task)
    attempt = Attempt.objects.create(
        certification=certification_task.certification,
        user=user,
        language="en",
        deadline=session.expires_at,
        pass_mark=70,
    )
    AttemptTask.objects.create(
        attempt=attempt, lab=task, domain=certification_task.domain, position=1, session=session
    )
    client.force_login(user)

    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()

    url = reverse("certifications:attempt", kwargs={"public_id": attempt.public_id})
    assert f'href="{url}"' in html and "Back to the exam" in html


def test_grading_all_refuses_a_session_that_is_not_running(task):
    session = _exam_session(task, UserFactory(), state=State.EXPIRED)

    with pytest.raises(services.LabSessionError):
        services.lab_session_grade_all(session=session)
    assert not session.checks.exists()


def test_an_exam_task_waits_ahead_of_practice_labs_in_the_capacity_queue(task, settings):
    """A candidate's clock runs while their task waits: it starts before earlier practice labs."""
    from labs.services.provisioning import lab_sessions_schedule, queue_position

    practice = Lab.objects.get(key="tiny-lab")
    earlier = timezone.now() - timedelta(minutes=5)
    learner = LabSession.objects.create(
        user=UserFactory(), lab=practice, state=State.REQUESTED, requested_at=earlier
    )
    candidate = LabSession.objects.create(
        user=UserFactory(), lab=task, state=State.REQUESTED, requested_at=timezone.now()
    )
    assert list(LabSession.objects.queued()) == [candidate, learner]
    assert (queue_position(candidate), queue_position(learner)) == (1, 2)
    settings.LAB_MAX_RUNNING_SESSIONS = LabSession.objects.running().count() + 1
    assert lab_sessions_schedule() == [candidate.pk]
    learner.refresh_from_db()
    assert learner.state == State.REQUESTED and queue_position(learner) == 1


def test_an_exam_tasks_countdown_ends_at_the_exams_deadline_not_the_sandboxs(task, settings):
    """The sandbox outlives the deadline by the grading grace; the candidate's clock does not."""
    grace = settings.LAB_EXAM_GRADING_GRACE_SECONDS
    session = LabSession.objects.create(
        user=UserFactory(),
        lab=task,
        state=State.READY,
        expires_at=timezone.now() + timedelta(minutes=30, seconds=grace),
    )
    seconds = selectors.session_status(session=session)["seconds_left"]
    assert 29 * 60 < seconds <= 30 * 60
