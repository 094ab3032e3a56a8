"""Screenshots of every page type, at desktop and phone widths, in both languages.

One test per language walks a learner through the whole site on the real stack (uvicorn with
websockets, a Celery worker, the Docker engine for the lab): the anonymous pages first, then
signed in: a lab started and run from the browser's terminal (a real `chaos run`), the course
and lab catalogues with their progress rings, a certification's exam, its result and the
certificate. Each page is saved as var/screenshots/page-<type>-<language>-<desktop|phone>.png
(ACADEMY_SCREENSHOTS moves the folder) for anyone to look at, and each must have an h1 and no
horizontal scrolling at 375 px.

scripts/readme_screenshots.py turns some of them into the README's docs/screenshots/*.png.
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from django.urls import reverse
from django.utils import timezone, translation

from academy.certifications import certificates, exams
from academy.certifications.models import Certification
from academy.courses.models import Course, Lesson, LessonProgress
from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import Lab, LabSession
from tests.factories import PASSWORD, UserFactory
from tests.labs.test_spanish_results import spanish_solve

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
PAGE_TYPES = [
    "home",
    "sign-in",
    "sign-up",
    "404",
    "lab-session",
    "results",
    "course-catalogue",
    "course",
    "lesson",
    "lab-catalogue",
    "lab",
    "dashboard",
    "certification-catalogue",
    "certification",
    "exam",
    "result",
    "certificate",
]
LAB = "first-steady-state"
TEXTS = {
    "en": {"username": "Username", "password": "Password", "submit": "Sign in"},
    "es": {"username": "Nombre de usuario", "password": "Contraseña", "submit": "Iniciar sesión"},
}
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def issuer_key(tmp_path, monkeypatch, settings):
    """An issuer key of the test's own, for this process and the web server it starts (which
    is why this fixture comes before asgi_server): the developer's key is never touched."""
    path = tmp_path / "issuer-key.pem"
    monkeypatch.setenv("ACADEMY_ISSUER_KEY_FILE", str(path))
    settings.ACADEMY_ISSUER_KEY_FILE = path
    certificates.issuer_key_create()
    return path


class Camera:
    """Loads a page at both widths, checks it and saves both screenshots."""

    def __init__(self, page, server: str, language: str):
        self.page, self.server, self.language = page, server, language
        self.taken: list[str] = []
        self.problems: list[str] = []

    def shoot(self, kind: str, path: str, *, status: int = 200, ready=None, full_page=True):
        for width, viewport in WIDTHS.items():
            self.page.set_viewport_size(viewport)
            response = self.page.goto(self.server + path)
            assert response is not None and response.status == status, (kind, path)
            if ready:
                ready(self.page)
            self.check(kind, width)
            self.page.screenshot(path=self.file(kind, width), full_page=full_page)
        self.taken.append(kind)

    def shoot_here(self, kind: str, *, full_page=False, scroll_to: str | None = None):
        """The page as it is now (after typing in the terminal, say), at both widths."""
        for width, viewport in WIDTHS.items():
            self.page.set_viewport_size(viewport)
            if scroll_to:
                self.page.locator(scroll_to).scroll_into_view_if_needed()
            self.check(kind, width)
            self.page.screenshot(path=self.file(kind, width), full_page=full_page)
        self.taken.append(kind)

    def check(self, kind: str, width: str) -> None:
        assert self.page.locator("html").get_attribute("lang") == self.language, kind
        if self.page.locator("h1").count() != 1 or not self.page.locator("h1").is_visible():
            self.problems.append(f"{kind} ({width}): no visible h1, or more than one")
        overflow = self.page.evaluate(OVERFLOW)
        if width == "phone" and overflow > 0:
            wide = self.page.evaluate(WIDEST)
            self.problems.append(f"{kind}: {overflow}px of horizontal scrolling at 375 px: {wide}")

    def file(self, kind: str, width: str) -> Path:
        return SCREENSHOTS / f"page-{kind}-{self.language}-{width}.png"


# The elements that stick out of the window, to name them when a page scrolls sideways.
WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5).map((e) => e.tagName.toLowerCase() + "." + [...e.classList].join("."))"""


def _learner(language: str):
    """A learner who finished the courses a certification asks for, and began the other one."""
    user = UserFactory(preferred_language=language, first_name="Ana" if language == "es" else "Sam")
    certification = Certification.objects.published().order_by("order").first()
    required = certification.prerequisites.get("courses", [])
    now = timezone.now()
    for lesson in Lesson.objects.published().filter(course__key__in=required):
        LessonProgress.objects.create(
            user=user, lesson=lesson, last_visited_at=now, completed_at=now
        )
    other = Course.objects.published().exclude(key__in=required).first()
    if other is not None:
        for lesson in Lesson.objects.published().filter(course=other).order_by("order")[:2]:
            LessonProgress.objects.create(
                user=user, lesson=lesson, last_visited_at=now, completed_at=now
            )
    return user, certification


def _run_the_lab(page, camera: Camera, user) -> LabSession:
    """Starts the lab from its page, passes step 1 from the terminal, runs step 2's experiment
    with `chaos run` and checks it: the workspace as a learner sees it."""
    page.set_viewport_size(WIDTHS["desktop"])
    with translation.override(camera.language):
        lab_url = Lab.objects.get(key=LAB).get_absolute_url()
    page.goto(camera.server + lab_url)
    page.locator(".lab-start form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/(sessions|sesiones)/\d+/$"))
    terminal = page.locator(".terminal .xterm")
    terminal.wait_for(timeout=120_000)
    terminal.click()
    page.keyboard.type("curl -s http://api:8080/health | tee ~/health.json\n")
    page.locator(".xterm-rows").filter(has_text='"status": "ok"').wait_for()
    page.locator("#step-1 [data-check-url]").click()
    page.locator("#step-1 .check-result.passed").wait_for()

    session = LabSession.objects.get(user=user)
    step = session.lab.steps.get(number=2)
    solve = step.solve_script
    if camera.language == "es":  # the experiment a Spanish learner writes: Spanish titles
        solve = spanish_solve(Path(settings.CONTENT_DIR) / f"labs/{LAB}/steps/{step.key}.en.md")
    experiment = solve.split("cd ~ &&")[0]  # writes ~/experiment.json, as pasted
    written = runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-c", experiment],
        user="learner",
        workdir="/home/learner",
        timeout=20,
    )
    assert written.exit_code == 0, written.output
    page.locator("#step-1 [data-goto='2']").click()
    terminal.click()
    page.keyboard.type("clear && cd ~ && chaos run experiment.json\n")
    page.locator(".xterm-rows").filter(has_text="Experiment ended with status").wait_for()
    page.locator("#step-2 [data-check-url]").click()
    page.locator("#step-2 .check-result.passed").wait_for()
    page.locator("#results .timeline").wait_for()
    return session


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_page_type_at_desktop_and_phone_width(
    issuer_key, asgi_server, browser, lab_images, language, settings
):
    content_sync(root=settings.CONTENT_DIR)
    # The server is another process with the real password hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user, certification = _learner(language)
    context = browser.new_context(locale=language, viewport=WIDTHS["desktop"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    camera = Camera(page, asgi_server, language)
    session = None
    try:
        with translation.override(language):
            course = Course.objects.published().order_by("order").first()
            lesson = Lesson.objects.published().filter(course=course).order_by("order").first()
            urls = {
                "home": reverse("home"),
                "sign-in": reverse("accounts:login"),
                "sign-up": reverse("accounts:signup"),
                "course-catalogue": reverse("courses:catalogue"),
                "course": course.get_absolute_url(),
                "lesson": lesson.get_absolute_url(),
                "lab-catalogue": reverse("labs:catalogue"),
                "lab": Lab.objects.get(key=LAB).get_absolute_url(),
                "dashboard": reverse("courses:dashboard"),
                "certification-catalogue": reverse("certifications:catalogue"),
                "certification": reverse(
                    "certifications:detail", kwargs={"slug": certification.slug}
                ),
            }
        assert all(url.startswith(f"/{language}/") for url in urls.values()), urls

        for kind in ("home", "sign-in", "sign-up"):
            camera.shoot(kind, urls[kind])
        camera.shoot("404", f"/{language}/no-such-page/", status=404)

        text = TEXTS[language]
        page.set_viewport_size(WIDTHS["desktop"])
        page.goto(asgi_server + urls["sign-in"])
        page.get_by_label(text["username"]).fill(user.username)
        page.get_by_label(text["password"], exact=True).fill(PASSWORD)
        page.get_by_role("button", name=text["submit"]).click()
        page.wait_for_url(re.compile(rf"^{re.escape(asgi_server)}/{language}/"))

        session = _run_the_lab(page, camera, user)
        camera.shoot_here("lab-session", scroll_to="#step-2 .check-result")
        camera.shoot_here("results", scroll_to="#results")

        for kind in (
            "course-catalogue",
            "course",
            "lab-catalogue",
            "lab",
            "dashboard",
            "certification-catalogue",
            "certification",
        ):
            camera.shoot(kind, urls[kind])
        camera.shoot("lesson", urls["lesson"], full_page=False)

        attempt = exams.attempt_start(user=user, certification=certification, language=language)
        for question in attempt.questions.all():
            exams.attempt_answer(
                attempt=attempt, position=question.position, option_ids=question.correct_options
            )
        with translation.override(language):
            exam_url = reverse("certifications:attempt", kwargs={"public_id": attempt.public_id})
            result_url = reverse("certifications:result", kwargs={"public_id": attempt.public_id})
        camera.shoot("exam", exam_url, full_page=False)
        exams.attempt_submit(attempt=attempt)
        camera.shoot("result", result_url)
        attempt.refresh_from_db()
        assert attempt.certificate is not None
        with translation.override(language):
            certificate_url = reverse(
                "certifications:certificate", kwargs={"public_id": attempt.certificate.public_id}
            )
        camera.shoot("certificate", certificate_url)
    finally:
        if session is not None:
            session.refresh_from_db()
            if session.is_live:
                services.lab_session_stop(session=session)
        context.close()

    assert sorted(camera.taken) == sorted(PAGE_TYPES)
    for kind in PAGE_TYPES:
        for width in WIDTHS:
            assert camera.file(kind, width).stat().st_size > 5_000, (kind, width)
    assert camera.problems == [], "\n".join(camera.problems)
