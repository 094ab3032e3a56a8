"""The Content-Security-Policy in a real Chromium: the site's pages, the lab page and the admin
load with no violation, and the admin's translation tabs work with the network closed."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from academy.courses.models import Course, Lesson
from academy.courses.services import content_sync
from labs.models import Lab, LabSession
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any page script: every violation the browser reports, kept on the window.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def offline_page(browser, live_server):
    """A page that reaches the test server only, recording CSP violations and page errors."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    outside = []

    def only_the_site(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_site)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.console_errors = []
    page.page_errors = []
    page.outside_requests = outside
    page.on(
        "console",
        lambda message: (
            page.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: page.page_errors.append(str(error)))
    yield page
    context.close()


def _assert_clean(page):
    violations = page.evaluate("window.__cspViolations")
    csp_console = [text for text in page.console_errors if "Content Security Policy" in text]
    assert violations == [], violations
    assert csp_console == [], csp_console
    assert page.page_errors == [], page.page_errors
    assert page.outside_requests == [], page.outside_requests


def _sign_in(page, base_url, username):
    page.goto(base_url + "/en/accounts/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/en/dashboard/")


def test_site_pages_load_with_no_csp_violation(live_server, offline_page):
    content_sync(root=settings.CONTENT_DIR)
    UserFactory(username="rosa")
    page = offline_page
    lesson = Lesson.objects.filter(questions__isnull=False).order_by("course", "order").first()

    response = page.goto(live_server.url + "/en/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    _assert_clean(page)

    for path in (
        "/es/",
        lesson.get_absolute_url(),
        "/en/labs/",
        Lab.objects.order_by("order").first().get_absolute_url(),
        "/en/no-such-page/",
        "/en/accounts/sign-up/",
        "/es/cuentas/contrasena/restablecer/",
    ):
        page.goto(live_server.url + path)
        _assert_clean(page)

    _sign_in(page, live_server.url, "rosa")
    _assert_clean(page)
    page.goto(live_server.url + "/en/accounts/profile/")
    _assert_clean(page)
    page.goto(live_server.url + lesson.get_absolute_url())
    questions = page.locator("fieldset.question")
    for index in range(questions.count()):
        questions.nth(index).locator("input[type=radio]").first.check()
    page.get_by_role("button", name="Check my answers").click()
    page.locator(".score").wait_for()
    _assert_clean(page)


def test_lab_page_loads_its_terminal_with_no_csp_violation(live_server, offline_page):
    content_sync(root=settings.CONTENT_DIR)
    user = UserFactory(username="rosa")
    now = timezone.now()
    session = LabSession.objects.create(
        lab=Lab.objects.order_by("order").first(),
        user=user,
        state=LabSession.State.READY,
        ready_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    page = offline_page

    _sign_in(page, live_server.url, "rosa")
    page.goto(live_server.url + session.get_absolute_url())
    # xterm.js drew its screen (it inserts <style> elements) and the terminal tried its
    # websocket: a blocked connect-src would be a violation, a refused connection is not.
    page.locator(".xterm-screen").wait_for()
    page.locator(".terminal[data-terminal-state=reconnecting]").wait_for(state="attached")
    _assert_clean(page)


def test_admin_translation_tabs_work_offline_with_no_csp_violation(live_server, offline_page):
    content_sync(root=settings.CONTENT_DIR)
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    course = Course.objects.get(slug="chaos-engineering-foundations")
    page = offline_page

    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    page.goto(live_server.url + f"/admin/courses/course/{course.pk}/change/")

    # jQuery UI (served from our static files) turned the language fields into tabs.
    page.locator(".ui-tabs-nav").first.wait_for()
    english = page.locator("#id_title_en")
    spanish = page.locator("#id_title_es")
    assert english.is_visible()
    assert not spanish.is_visible()
    page.locator('[role=tab][aria-controls="tab_id_title_es"]').click()
    assert spanish.is_visible()
    assert spanish.input_value() == course.title_es
    assert not english.is_visible()
    _assert_clean(page)

    # The rest of the admin: index, a list with filters and actions, a page with inlines.
    lab = Lab.objects.order_by("order").first()
    for path in ("/admin/", "/admin/courses/lesson/", f"/admin/labs/lab/{lab.pk}/change/"):
        page.goto(live_server.url + path)
        _assert_clean(page)
    page.locator(".ui-tabs-nav").first.wait_for(timeout=45_000)  # a large page, a busy machine
