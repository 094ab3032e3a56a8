"""Accessibility of every page type, in both languages, in a real browser.

axe-core (the npm package, pinned in package.json) runs on each page: no violation of impact
"serious" or "critical" is allowed (the others are printed). Every aria-describedby,
aria-labelledby and aria-controls must name an element that exists. The main menu collapses
behind a "Menu" button on a phone, works from the keyboard, and without script stays open.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.certifications import certificates, exams
from academy.certifications.models import Certification
from academy.courses.models import Course, Lesson, LessonProgress
from labs.models import Lab
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = settings.BASE_DIR / "node_modules/axe-core/axe.min.js"
SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING = {"serious", "critical"}

# Every id that an ARIA relation attribute names, and whether it exists in the page.
MISSING_REFERENCES = """() => {
  const missing = [];
  for (const name of ["aria-describedby", "aria-labelledby", "aria-controls"]) {
    for (const element of document.querySelectorAll("[" + name + "]")) {
      for (const id of element.getAttribute(name).split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) {
          missing.push(element.tagName.toLowerCase() + " " + name + "=" + id);
        }
      }
    }
  }
  return missing;
}"""


@pytest.fixture(params=["light", "dark"])
def a11y_page(request, browser):
    # The site's CSP forbids inline script, and Playwright's add_script_tag(path=...) inserts
    # axe-core as an inline <script>, which the CSP blocks: this context alone bypasses the CSP
    # so that axe can be injected. (tests/browser/test_security_csp.py checks the CSP itself.)
    # Both colour schemes: the site follows the system's light or dark setting.
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, color_scheme=request.param)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _audit(page, url: str) -> tuple[list[str], list[str]]:
    """Loads the page; returns its blocking axe violations and its dangling ARIA references."""
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.add_script_tag(path=AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    blocking = []
    for violation in results["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
        line = f"{url}: [{violation['impact']}] {violation['id']}: {violation['help']} {targets}"
        if violation["impact"] in BLOCKING:
            blocking.append(line)
        else:
            print(line)
    dangling = [f"{url}: {reference}" for reference in page.evaluate(MISSING_REFERENCES)]
    return blocking, dangling


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_page_type_passes_axe_with_no_dangling_aria_references(
    live_server, a11y_page, real_content, language, tmp_path, settings
):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "issuer-key.pem"
    certificates.issuer_key_create()
    page = a11y_page
    user = UserFactory(preferred_language=language, is_staff=True)
    certification = Certification.objects.published().first()
    now = timezone.now()
    for lesson in Lesson.objects.filter(course__key__in=certification.prerequisites["courses"]):
        LessonProgress.objects.create(
            user=user, lesson=lesson, last_visited_at=now, completed_at=now
        )
    attempt = exams.attempt_start(user=user, certification=certification, language=language)
    for question in attempt.questions.all():
        exams.attempt_answer(
            attempt=attempt, position=question.position, option_ids=question.correct_options
        )

    with translation.override(language):
        course = Course.objects.published().first()
        anonymous = {
            "home": reverse("home"),
            "course": course.get_absolute_url(),
            "lesson": Lesson.objects.published().filter(course=course).first().get_absolute_url(),
            "lab catalogue": reverse("labs:catalogue"),
            "lab": Lab.objects.published().first().get_absolute_url(),
            "sign-in": reverse("accounts:login"),
            "sign-up": reverse("accounts:signup"),
            "certifications": reverse("certifications:catalogue"),
            "certification": reverse("certifications:detail", kwargs={"slug": certification.slug}),
            "issuer": reverse("certifications:issuer"),
            "verifier": reverse("certifications:certificate_verify"),
        }
        in_progress = {
            "profile": reverse("accounts:profile"),
            "exam": reverse("certifications:attempt", kwargs={"public_id": attempt.public_id}),
            "statistics": reverse(
                "certifications:staff_statistics", kwargs={"key": certification.key}
            ),
        }
        result = reverse("certifications:result", kwargs={"public_id": attempt.public_id})
    for path in [*anonymous.values(), *in_progress.values(), result]:
        assert path.startswith(f"/{language}/"), path

    blocking, dangling = [], []

    def audit(path: str) -> None:
        found = _audit(page, live_server.url + path)
        blocking.extend(found[0])
        dangling.extend(found[1])

    for path in anonymous.values():
        audit(path)
    # The sign-up form with errors: the error messages and help texts are read with the fields.
    page.goto(live_server.url + anonymous["sign-up"])
    page.fill("#id_username", "x")
    page.fill("#id_email", "x@example.org")
    page.fill("#id_password1", "short")
    page.fill("#id_password2", "other")
    page.locator("main form:not(.language-prompt) button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("main .error").count() > 0
    page.add_script_tag(path=AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    blocking += [
        f"sign-up (errors): {v['id']}" for v in results["violations"] if v["impact"] in BLOCKING
    ]
    dangling += [f"sign-up (errors): {r}" for r in page.evaluate(MISSING_REFERENCES)]
    # The sign-up page does point its fields at their help texts (the reference that dangled).
    assert page.locator("#id_email[aria-describedby]").count() == 1

    _sign_in(page, live_server, user)
    for path in in_progress.values():
        audit(path)
    exams.attempt_submit(attempt=attempt)
    audit(result)
    attempt.refresh_from_db()
    with translation.override(language):
        certificate_url = reverse(
            "certifications:certificate", kwargs={"public_id": attempt.certificate.public_id}
        )
    audit(certificate_url)

    assert dangling == [], dangling
    assert blocking == [], "\n".join(blocking)


def _menu_links(page):
    return page.locator("#site-menu .main-nav a")


@pytest.mark.parametrize(("language", "label"), [("en", "Menu"), ("es", "Menú")])
def test_the_phone_menu_opens_and_closes_from_the_keyboard(
    live_server, browser, real_content, language, label
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/{language}/")
    toggle = page.locator("button.menu-toggle")
    assert page.locator("html").get_attribute("lang") == language
    assert toggle.inner_text().strip() == label
    assert toggle.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not _menu_links(page).first.is_visible()
    page.screenshot(path=SCREENSHOTS / f"menu-closed-{language}-phone.png")
    # The brand and the button share one row, and nothing scrolls sideways.
    assert abs(toggle.bounding_box()["y"] - page.locator(".brand").bounding_box()["y"]) < 20
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    # Skip link, brand, then the menu button: reached with Tab and opened with Enter.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert _menu_links(page).count() >= 5
    for index in range(_menu_links(page).count()):
        assert _menu_links(page).nth(index).is_visible()
    assert page.locator(".language-switcher").is_visible()
    # The next Tab goes into the menu, to its first link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=SCREENSHOTS / f"menu-open-{language}-phone.png")
    assert page.evaluate(MISSING_REFERENCES) == []

    # Escape closes it and gives focus back to the button; a click opens and closes it too.
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not _menu_links(page).first.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false"
    context.close()


def test_the_menu_is_open_without_script_and_unchanged_on_a_desktop(
    live_server, browser, real_content
):
    # Without JavaScript the button stays hidden and every link is reachable.
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/es/")
    assert not page.locator("button.menu-toggle").is_visible()
    assert _menu_links(page).count() >= 5
    for index in range(_menu_links(page).count()):
        assert _menu_links(page).nth(index).is_visible()
    context.close()

    # On a desktop the links are in the header row and there is no button.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/en/")
    assert not page.locator("button.menu-toggle").is_visible()
    brand = page.locator(".brand").bounding_box()
    for index in range(_menu_links(page).count()):
        link = _menu_links(page).nth(index)
        assert link.is_visible()
        assert abs(link.bounding_box()["y"] - brand["y"]) < 20
    context.close()


def test_the_audit_catches_a_contrast_failure_and_a_dangling_reference(live_server, a11y_page):
    """The checks above can fail: a pale paragraph and a reference to no element are caught."""
    page = a11y_page
    page.goto(f"{live_server.url}/en/accounts/sign-in/")
    page.evaluate(
        """() => {
      const p = document.createElement("p");
      p.textContent = "Pale text nobody can read";
      p.style.color = "#d0d0d0";
      p.style.background = "#ffffff";
      p.setAttribute("aria-describedby", "no-such-element");
      document.querySelector("main").append(p);
    }"""
    )
    page.add_script_tag(path=AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert results["testEngine"]["version"].startswith("4.")
    assert "color-contrast" in [v["id"] for v in results["violations"] if v["impact"] == "serious"]
    assert page.evaluate(MISSING_REFERENCES) == ["p aria-describedby=no-such-element"]
