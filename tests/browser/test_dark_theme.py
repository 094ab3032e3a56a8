"""The dark theme follows the system setting: with the browser asking for a dark colour scheme,
the pages turn dark and their text keeps WCAG AA contrast (4.5:1), in English and Spanish."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from academy.certifications.models import Certification
from academy.courses.models import Lesson
from academy.courses.services import content_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
AA_TEXT = 4.5

# Runs through the DevTools protocol (Runtime.callFunctionOn), which the page's CSP does not
# treat as eval. For each selector: the first match's text colour and the colour it is drawn
# on, the first non-transparent background among it and its ancestors.
COLOURS = """(selectors) => {
  const seen = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const background = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(background) && background !== "transparent") return background;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const found = {};
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    if (element) {
      found[selector] = {color: getComputedStyle(element).color, background: seen(element)};
    }
  }
  found.body = getComputedStyle(document.body).backgroundColor;
  return found;
}"""


def _rgb(css: str) -> tuple[float, float, float]:
    channels = re.findall(r"[\d.]+", css)
    assert len(channels) >= 3, css
    return tuple(float(c) for c in channels[:3])


def luminance(css: str) -> float:
    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _rgb(css))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_formula_matches_the_wcag_reference_values():
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21)
    assert contrast("rgb(118, 118, 118)", "rgb(255, 255, 255)") == pytest.approx(4.54, abs=0.01)
    assert contrast("rgb(12, 34, 56)", "rgb(12, 34, 56)") == pytest.approx(1)


def _pages(live_server, lang: str) -> dict[str, tuple[str, list[str]]]:
    """Page name -> (URL, selectors whose text must read at AA on what lies under it)."""
    lesson = Lesson.objects.published().filter(body_html_en__contains='class="highlight"').first()
    assert lesson is not None, "no lesson has a highlighted code block"
    certification = Certification.objects.published().order_by("order").first()
    with translation.override(lang):
        return {
            "home": (live_server.url + f"/{lang}/", ["main h1", "main p", "main a"]),
            "lesson": (
                live_server.url + lesson.get_absolute_url(),
                [
                    ".prose p",
                    ".prose a",
                    ".lesson-aside summary",
                    ".highlight pre",
                    ".highlight .nt, .highlight .k, .highlight .s2",
                    ".highlight .c1, .highlight .c",
                    ".pager a span",
                ],
            ),
            "certifications": (
                live_server.url + reverse("certifications:catalogue"),
                ["main h1", ".lead", ".eyebrow", ".card p", ".card-title a"],
            ),
            "certification": (
                live_server.url
                + reverse("certifications:detail", kwargs={"slug": certification.slug}),
                ["main h1", "main p", ".domain-table th", ".domain-table td", ".button"],
            ),
        }


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pages_turn_dark_and_keep_their_text_readable(live_server, browser, lang):
    content_sync(root=settings.CONTENT_DIR)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        color_scheme="dark", locale=lang, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []
    try:
        for name, (url, selectors) in _pages(live_server, lang).items():
            response = page.goto(url)
            assert response is not None and response.status == 200, (name, url)
            assert page.locator("html").get_attribute("lang") == lang
            page.screenshot(path=SCREENSHOTS / f"dark-{name}-{lang}.png", full_page=True)
            found = page.evaluate(COLOURS, selectors)
            body = luminance(found.pop("body"))
            if body >= 0.05:
                problems.append(f"{name}: the body background is not dark (luminance {body:.3f})")
            missing = [s for s in selectors if s not in found]
            if missing:
                problems.append(f"{name}: nothing matches {missing}")
            for selector, colours in found.items():
                ratio = contrast(colours["color"], colours["background"])
                print(f"{lang} {name:14} {selector:48} {ratio:5.2f}:1")
                if ratio < AA_TEXT:
                    problems.append(f"{name}: {selector} {colours} is only {ratio:.2f}:1")
    finally:
        context.close()
    assert problems == []


def test_the_light_theme_stays_light_when_the_system_asks_for_light(live_server, browser):
    context = browser.new_context(color_scheme="light", locale="en")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/en/")
        found = page.evaluate(COLOURS, ["main h1"])
    finally:
        context.close()
    assert luminance(found["body"]) > 0.8
    assert contrast(found["main h1"]["color"], found["main h1"]["background"]) >= AA_TEXT


def test_the_header_reads_at_aa_in_the_dark_theme(live_server, browser):
    context = browser.new_context(color_scheme="dark", locale="en")
    page = context.new_page()
    selectors = [".brand", ".main-nav a", ".main-nav .button", ".language-current"]
    try:
        page.goto(live_server.url + "/en/")
        found = page.evaluate(COLOURS, selectors)
    finally:
        context.close()
    ratios = {s: round(contrast(found[s]["color"], found[s]["background"]), 2) for s in selectors}
    print(ratios)
    assert all(ratio >= AA_TEXT for ratio in ratios.values()), ratios
