"""The lab and course completion pages in a real browser (issue 12): reached from the lab and
course pages by keyboard, axe-core clean in both languages and colour schemes, nothing scrolls
sideways on a phone; screenshots lab-complete-* and course-complete-* for a human to judge."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from academy.courses.models import Course, LessonProgress, QuestionAnswer
from labs.models import CheckResult, Lab, LabSession, SessionJournal
from tests.browser.test_accessibility import (
    DESKTOP,
    MISSING_REFERENCES,
    PHONE,
    SCREENSHOTS,
    _audit,
    _sign_in,
)
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _learner_who_finished(language: str):
    """A learner who read every lesson of the chaos course, answered its knowledge checks (one
    wrong), and finished the lab "kill-a-replica" over two sessions."""
    user = UserFactory(preferred_language=language)
    course = Course.objects.get(key="chaos-engineering-foundations")
    start = timezone.now() - timedelta(days=3)
    for hour, lesson in enumerate(course.lessons.published().order_by("order")):
        moment = start + timedelta(hours=5 * hour)
        LessonProgress.objects.create(
            user=user, lesson=lesson, last_visited_at=moment, completed_at=moment
        )
        for index, question in enumerate(lesson.questions.published()):
            right = (hour, index) != (0, 0)
            QuestionAnswer.objects.create(
                user=user,
                question=question,
                choice=question.choices.filter(is_correct=right).first(),
                is_correct=right,
                answered_at=moment,
            )
    lab = Lab.objects.get(key="kill-a-replica")
    first = LabSession.objects.create(
        lab=lab, user=user, state=LabSession.State.DESTROYED, requested_at=start
    )
    second = LabSession.objects.create(
        lab=lab,
        user=user,
        state=LabSession.State.DESTROYED,
        requested_at=start + timedelta(minutes=20),
        coverage=[
            {"name": "web-1", "faulted_by": ["kill-web-1"], "observed_by": ["steady"]},
            {"name": "web-2", "faulted_by": ["kill-web-2"], "observed_by": ["steady"]},
            {"name": "lb", "faulted_by": [], "observed_by": ["steady"]},
            {"name": "toolbox", "faulted_by": [], "observed_by": []},
        ],
        journals_collected_at=start + timedelta(minutes=70),
    )
    steps = list(lab.steps.order_by("number"))
    CheckResult.objects.create(
        session=first, step=steps[0], passed=True, duration_ms=9, created_at=start
    )
    for minutes, step, passed in [
        (35, steps[1], False),
        (41, steps[1], True),
        (67, steps[2], True),
    ]:
        CheckResult.objects.create(
            session=second,
            step=step,
            passed=passed,
            duration_ms=9,
            created_at=start + timedelta(minutes=minutes),
        )
    SessionJournal.objects.create(
        session=second, path="journal.json", title="Guardrail", status="completed", position=0
    )
    return user, course, lab


def _follow_by_keyboard(page, href: str) -> None:
    """Tabs to the link to ``href`` (at most 60 presses) and opens it with Enter."""
    for _press in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == href:
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", "the focused link shows no focus ring"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return
    raise AssertionError(f"no link to {href} reachable with Tab")


@pytest.mark.parametrize("language", ["en", "es"])
def test_completion_pages_from_the_keyboard_axe_clean_and_screenshotted(
    live_server, browser, real_content, language
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user, course, lab = _learner_who_finished(language)
    with translation.override(language):
        lab_page, course_page = lab.get_absolute_url(), course.get_absolute_url()

        lab_complete = reverse("labs:complete", kwargs={"lab_slug": lab.slug})
        course_complete = reverse("courses:course_complete", kwargs={"course_slug": course.slug})
    assert lab_complete.startswith(f"/{language}/")

    blocking, dangling = [], []
    for scheme in ["light", "dark"]:
        # axe-core goes in as an inline script, which the site's CSP forbids: this context
        # alone bypasses the CSP (tests/browser/test_security_csp.py checks the CSP itself).
        context = browser.new_context(bypass_csp=True, viewport=DESKTOP, color_scheme=scheme)
        page = context.new_page()
        page.set_default_timeout(15_000)
        _sign_in(page, live_server, user)

        page.goto(live_server.url + lab_page)
        _follow_by_keyboard(page, lab_complete)
        assert page.url == live_server.url + lab_complete
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator(".completion-mark").is_visible()
        assert page.locator(".stat-tile").count() == 4
        assert page.locator(".completion-list li").count() == 3
        if scheme == "light":
            page.screenshot(
                path=SCREENSHOTS / f"lab-complete-{language}-desktop.png", full_page=True
            )
        found = _audit(page, live_server.url + lab_complete)
        blocking += found[0]
        dangling += found[1]

        page.goto(live_server.url + course_page)
        _follow_by_keyboard(page, course_complete)
        assert page.url == live_server.url + course_complete
        assert page.locator(".completion-mark").is_visible()
        assert page.locator(".completion-cta .button").count() == 1  # may start the exam
        if scheme == "light":
            page.screenshot(
                path=SCREENSHOTS / f"course-complete-{language}-desktop.png", full_page=True
            )
        found = _audit(page, live_server.url + course_complete)
        blocking += found[0]
        dangling += found[1]

        page.set_viewport_size(PHONE)
        for name, path in [("lab", lab_complete), ("course", course_complete)]:
            found = _audit(page, live_server.url + path)
            blocking += found[0]
            dangling += found[1]
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways on a phone ({scheme})"
            if scheme == "light":
                page.screenshot(
                    path=SCREENSHOTS / f"{name}-complete-{language}-phone.png", full_page=True
                )
        context.close()

    assert dangling == [], dangling
    assert blocking == [], "\n".join(blocking)


def test_an_unfinished_lab_page_is_axe_clean(live_server, browser, real_content):
    user = UserFactory()
    lab = Lab.objects.get(key="first-steady-state")
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, color_scheme="dark")
    page = context.new_page()
    _sign_in(page, live_server, user)
    with translation.override("es"):
        url = reverse("labs:complete", kwargs={"lab_slug": lab.slug})
    blocking, dangling = _audit(page, live_server.url + url)
    assert page.locator(".completion-mark").count() == 0
    # The Start form, not the language prompt above it.
    assert page.locator("main form:not(.language-prompt) button[type=submit]").is_visible()
    assert page.evaluate(MISSING_REFERENCES) == []
    context.close()
    assert dangling == [] and blocking == [], blocking
