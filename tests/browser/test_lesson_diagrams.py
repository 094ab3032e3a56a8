"""Lesson diagrams in a real browser: each of the lessons' diagrams, in English and Spanish, on a
desktop and on a 375 px phone, styled by the theme, with no text clipped or overlapping, text no
smaller than 12 px, no sideways scrolling, and no serious axe violation in either colour scheme.
Screenshots go to var/screenshots/lesson-diagram-<name>-<lang>-<desktop|phone>.png."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from academy.courses.models import Lesson
from academy.courses.services import content_sync
from tests.courses.test_diagrams import EXPECTED

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
AXE = settings.BASE_DIR / "node_modules/axe-core/axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
MIN_TEXT_PX = 12

# For the figure: each text's box against the viewBox and against every other text, the
# smallest text as drawn, the figure's width and whether the page scrolls sideways, and the
# fill of a box (black when the stylesheet did not apply).
GEOMETRY = """(figure) => {
  const svg = figure.querySelector("svg");
  const box = svg.viewBox.baseVal;
  const scale = svg.getBoundingClientRect().width / box.width;
  const texts = [...svg.querySelectorAll("text")].map((t) => ({
    text: t.textContent, box: t.getBBox(), size: parseFloat(getComputedStyle(t).fontSize),
  }));
  const problems = [];
  for (const {text, box: b} of texts) {
    if (b.x < box.x - .5 || b.y < box.y - .5 || b.x + b.width > box.x + box.width + .5
        || b.y + b.height > box.y + box.height + .5) {
      problems.push(`clipped: ${text}`);
    }
  }
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i].box, c = texts[j].box;
      const apart = a.x >= c.x + c.width || c.x >= a.x + a.width
        || a.y >= c.y + c.height || c.y >= a.y + a.height;
      if (!apart) {
        problems.push(`overlap: ${texts[i].text} / ${texts[j].text}`);
      }
    }
  }
  const shape = svg.querySelector("[class^='d-box']");
  return {
    problems,
    texts: texts.length,
    smallest: Math.min(...texts.map((t) => t.size)) * scale,
    width: svg.getBoundingClientRect().width,
    sideways: document.documentElement.scrollWidth > window.innerWidth,
    fill: getComputedStyle(shape).fill,
    label: svg.getAttribute("aria-label"),
    caption: figure.querySelector("figcaption").textContent,
  };
}"""


def _lesson_url(key: str, language: str) -> str:
    lesson = Lesson.objects.get(key=key.split("/")[1])
    with translation.override(language):
        return lesson.get_absolute_url()


@pytest.mark.parametrize("language", ["en", "es"])
def test_each_diagram_reads_well_on_desktop_and_phone(live_server, browser, language):
    content_sync(root=settings.CONTENT_DIR)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for device, viewport in VIEWPORTS.items():
        context = browser.new_context(locale=language, viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            for name, lesson in EXPECTED.items():
                response = page.goto(live_server.url + _lesson_url(lesson, language))
                assert response is not None and response.status == 200
                figure = page.locator(f"figure#diagram-{name}")
                # The lesson around the figure, as a reader scrolling to it sees it.
                figure.evaluate("(f) => f.scrollIntoView({block: 'center'})")
                found = figure.evaluate(GEOMETRY)
                page.screenshot(path=SCREENSHOTS / f"lesson-diagram-{name}-{language}-{device}.png")
                where = f"{name} {language} {device}"
                print(where, {k: v for k, v in found.items() if k != "problems"})
                failures += [f"{where}: {problem}" for problem in found["problems"]]
                if found["smallest"] < MIN_TEXT_PX:
                    failures.append(f"{where}: text drawn at {found['smallest']:.1f} px")
                if found["sideways"]:
                    failures.append(f"{where}: the page scrolls sideways")
                if found["fill"] in ("rgb(0, 0, 0)", ""):
                    failures.append(f"{where}: the diagram is not styled ({found['fill']})")
                if found["texts"] < 5 or not found["label"] or not found["caption"]:
                    failures.append(f"{where}: texts, label or caption missing: {found}")
        finally:
            context.close()
    assert failures == []


def test_diagram_texts_are_in_the_page_language(live_server, browser):
    content_sync(root=settings.CONTENT_DIR)
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    try:
        url = _lesson_url(EXPECTED["blast-radius"], "es")
        page.goto(live_server.url + url)
        spanish = page.locator("figure#diagram-blast-radius svg").text_content()
        page.goto(live_server.url + _lesson_url(EXPECTED["blast-radius"], "en"))
        english = page.locator("figure#diagram-blast-radius svg").text_content()
    finally:
        context.close()
    assert "Todo el sistema" in spanish and "Everything" not in spanish
    assert "Everything" in english and "Todo el sistema" not in english


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_lessons_with_diagrams_pass_axe(live_server, browser, scheme):
    content_sync(root=settings.CONTENT_DIR)
    # axe is injected as an inline script, which the site's CSP forbids: this context alone
    # bypasses the CSP (tests/browser/test_security_csp.py checks the CSP itself).
    context = browser.new_context(
        bypass_csp=True, viewport=VIEWPORTS["desktop"], color_scheme=scheme
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocking = []
    try:
        for name, lesson in EXPECTED.items():
            for language in ("en", "es"):
                page.goto(live_server.url + _lesson_url(lesson, language))
                page.add_script_tag(path=AXE)
                results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
                blocking += [
                    f"{name} {language}: [{v['impact']}] {v['id']} "
                    f"{[' '.join(n['target']) for n in v['nodes']][:3]}"
                    for v in results["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                if scheme == "dark" and language == "es":
                    page.locator(f"figure#diagram-{name}").screenshot(
                        path=SCREENSHOTS / f"lesson-diagram-{name}-{language}-desktop-dark.png"
                    )
    finally:
        context.close()
    assert blocking == []
