"""A reader in a real browser: Spanish first, switch to English, read a lesson, answer its check."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from academy.courses.services import content_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))


def test_spanish_reader_switches_to_english_and_answers_a_knowledge_check(live_server, page):
    content_sync(root=settings.CONTENT_DIR)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # The browser asks for Spanish, so the first visit lands on /es/.
    page.goto(live_server.url + "/")
    assert page.url == live_server.url + "/es/"
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("link", name="Cursos", exact=True).first.is_visible()
    page.screenshot(path=SCREENSHOTS / "home-es.png", full_page=True)

    page.get_by_role("link", name="Fundamentos de ingeniería del caos").first.click()
    assert "/es/cursos/fundamentos-de-ingenieria-del-caos/" in page.url

    # The switcher keeps the reader on the same course, now in English.
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/en/courses/chaos-engineering-foundations/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Chaos Engineering Foundations"

    page.get_by_role("link", name="Start the course").click()
    page.wait_for_url("**/en/courses/chaos-engineering-foundations/*/")
    assert page.locator(".prose h2").count() >= 2
    assert page.locator(".toc-box a").count() >= 2

    # Answer every question with its first choice; the server grades and explains.
    questions = page.locator("fieldset.question")
    total = questions.count()
    assert total >= 3
    for index in range(total):
        questions.nth(index).locator("input[type=radio]").first.check()
    page.get_by_role("button", name="Check my answers").click()

    score = page.locator(".score")
    score.wait_for()
    assert f"of {total} correctly" in score.inner_text()
    assert page.locator(".feedback").count() == total
    verdicts = page.locator(".feedback .verdict").all_inner_texts()
    assert len(verdicts) == total
    assert all(v == "Correct." or v.startswith("Not quite. The answer is:") for v in verdicts)
    page.screenshot(path=SCREENSHOTS / "lesson-en-graded.png", full_page=True)

    # The choice stays remembered across the language switch, back in Spanish.
    page.get_by_role("button", name="Español").click()
    page.wait_for_url("**/es/cursos/fundamentos-de-ingenieria-del-caos/*/")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", name="Verificación de conocimientos").is_visible()


def test_phone_layout_has_no_horizontal_scroll(live_server, browser):
    content_sync(root=settings.CONTENT_DIR)
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="es")
    page = context.new_page()
    page.goto(live_server.url + "/es/cursos/fundamentos-de-gitops/")
    page.get_by_role("link", name="Empezar el curso").click()
    page.wait_for_load_state()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=SCREENSHOTS / "lesson-es-phone.png", full_page=False)
    context.close()
    assert overflow <= 0
