"""A candidate does an exam's practical task in a real browser, in Spanish: from the exam page
the task's lab opens in a new tab, with its terminal over a websocket and the exam's countdown,
but no Check and no solution; submitting the exam grades the task on the lab host's worker and
ends its lab."""

import os
import re
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from django.urls import reverse
from django.utils import timezone, translation

from academy.certifications import exams
from academy.certifications.models import Attempt, Certification
from academy.courses.models import Lesson, LessonProgress
from academy.courses.services import content_sync
from labs import runtime
from labs.models import LabSession
from labs.services import lab_session_stop
from labs.services.state import session_labels
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
# Its first task (one replica of three behind a load balancer) starts in seconds, and grades
# in seconds when nothing was done.
CERTIFICATION = "chaos-engineering-practitioner"


def _shoot(page, name: str) -> None:
    """Desktop and phone screenshots of the page as it is now: the whole page on a phone, where
    the terminal comes below the task."""
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # the terminal fits itself to its new size
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(DESKTOP)
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png")
    assert overflow <= 0, f"{name}: the phone layout scrolls sideways by {overflow}px"


def _complete_prerequisites(user, certification: Certification) -> None:
    now = timezone.now()
    for course_key in certification.prerequisites["courses"]:
        for lesson in Lesson.objects.filter(course__key=course_key):
            LessonProgress.objects.update_or_create(
                user=user, lesson=lesson, defaults={"last_visited_at": now, "completed_at": now}
            )


def _solve_lines(session: LabSession) -> list[str]:
    """Every telling line of the task's solve scripts: none may reach the candidate."""
    lines = []
    for step in session.lab.steps.all():
        assert step.solve_script.strip()
        lines.extend(line.strip() for line in step.solve_script.splitlines())
    return [line for line in lines if len(line) >= 16]


def test_candidate_does_a_practical_task_in_spanish_and_the_exam_grades_it(
    asgi_server, browser, lab_images, settings
):
    content_sync(root=settings.CONTENT_DIR)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The server is another process with the real password hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = UserFactory(preferred_language="es")
    certification = Certification.objects.get(key=CERTIFICATION)
    _complete_prerequisites(user, certification)
    attempt = exams.attempt_start(user=user, certification=certification, language="es")
    task = attempt.tasks.get(position=1)
    with translation.override("es"):
        exam_path = reverse("certifications:attempt", kwargs={"public_id": attempt.public_id})
        result_path = reverse("certifications:result", kwargs={"public_id": attempt.public_id})

    context = browser.new_context(locale="es", viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(asgi_server + "/es/cuentas/iniciar-sesion/")
        page.get_by_label("Nombre de usuario").fill(user.username)
        page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Iniciar sesión").click()
        page.wait_for_url(re.compile(r"/es/(?!cuentas/iniciar-sesion/)"))

        # The exam page; the first task's lab opens in a tab of its own.
        page.goto(asgi_server + exam_path)
        assert page.locator("html").get_attribute("lang") == "es"
        start = page.locator(".task-list li").first.get_by_role(
            "button", name="Empezar el laboratorio de la tarea"
        )
        with context.expect_page() as opened:
            start.click()
        lab_page = opened.value
        lab_page.set_default_timeout(30_000)
        lab_page.wait_for_url(re.compile(r"/es/laboratorios/sesiones/\d+/$"))
        task.refresh_from_db()
        session = task.session
        assert session is not None and session.user == user
        assert lab_page.url.endswith(f"/{session.pk}/")

        # The page follows the session until it is ready, then the terminal connects in place.
        lab_page.locator(".terminal .xterm").wait_for(timeout=120_000)
        lab_page.locator("[data-terminal-status]").filter(has_text="Conectada").wait_for()
        assert lab_page.locator("[data-terminal-waiting]").count() == 0

        # In Spanish, back to the exam, no Check, no solution, and the exam's clock.
        assert lab_page.locator("html").get_attribute("lang") == "es"
        back = lab_page.get_by_role("link", name="Volver al examen").first
        assert back.get_attribute("href") == exam_path
        assert lab_page.get_by_role("button", name="Verificar").count() == 0
        assert lab_page.locator("[data-check-url]").count() == 0
        html = lab_page.content()
        shown = lab_page.locator("body").inner_text()
        for line in _solve_lines(session):
            assert line not in html and line not in shown, f"solve script on the page: {line}"
        countdown = lab_page.locator("[data-countdown]")
        assert countdown.get_attribute("title") == "Tiempo restante del examen"
        countdown.filter(has_text=re.compile(r"^\d+:\d\d$")).wait_for()
        # Minutes, not the exam's full time: the lab's clock runs to the session's end, which
        # is at most the exam's deadline and the grace that lets grading find the sandbox.
        minutes = int(countdown.inner_text().split(":")[0])
        assert 30 <= minutes < certification.minutes

        # The terminal is the candidate's own shell in the task's toolbox.
        lab_page.locator(".terminal .xterm").click()
        lab_page.keyboard.type("echo hola-$((6*7))-examen\n")
        lab_page.locator(".xterm-rows").filter(has_text="hola-42-examen").wait_for()
        _shoot(lab_page, "exam-task-es")

        # Back on the exam page: it now opens the running lab instead of starting another.
        page.reload()
        assert (
            page.locator(".task-list li")
            .first.get_by_role("link", name="Abrir el laboratorio de la tarea")
            .get_attribute("href")
            .endswith(f"/{session.pk}/")
        )

        # Submit (the page asks first); the worker grades the task in its lab.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#exam-submit").click()
        page.wait_for_url(asgi_server + result_path)
        attempt.refresh_from_db()
        assert attempt.state in (Attempt.State.GRADING, Attempt.State.GRADED)
        if attempt.state == Attempt.State.GRADING:
            assert "La plataforma está calificando tus tareas" in page.locator("main").inner_text()
        # The page refreshes itself every few seconds until the grade is in.
        page.locator(".exam-score").wait_for(timeout=180_000)
        attempt.refresh_from_db()
        assert attempt.state == Attempt.State.GRADED
        assert page.locator("html").get_attribute("lang") == "es"
        assert "No aprobado" in page.locator(".exam-score").inner_text()
        task.refresh_from_db()
        assert task.graded_at is not None and task.points == 0
        assert len(task.verdicts) == task.points_possible == 2
        assert not any(verdict["passed"] for verdict in task.verdicts)

        # The task's lab is over: the session destroyed, its containers gone.
        session.refresh_from_db()
        assert session.state == LabSession.State.DESTROYED
        assert runtime.sandbox_list(labels=session_labels(session)) == []
        lab_page.locator("[data-ended-notice]").wait_for()
    finally:
        context.close()
        for leftover in LabSession.objects.filter(user=user).exclude(
            state=LabSession.State.DESTROYED
        ):
            lab_session_stop(session=leftover)
