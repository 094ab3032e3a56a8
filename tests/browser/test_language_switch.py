"""The language switch and the preferred-language prompt in a real browser.

A signed-in learner whose profile is English presses "Español": the same page shows in Spanish
at once, and a small prompt in the page asks whether to make Spanish their preferred language.
Answered from the keyboard with script, it answers in place (Yes saves, No thanks goes away and
stays away); without script the same form posts and comes back. axe-core finds nothing serious
on the page with the prompt, in either colour scheme.
"""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from academy.accounts.models import User
from tests.accounts.test_language_switch import base_with_prompt  # noqa: F401 - a fixture
from tests.browser.test_accessibility import AXE, DESKTOP, PHONE, SCREENSHOTS
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ASK_ES = "Make Spanish your preferred language, for e-mails and certificates too?"
SAVED_ES = "Spanish is now your preferred language, for e-mails and certificates too."


def es(text: str) -> str:
    with translation.override("es"):
        return translation.gettext(text)


def _signed_in_context(browser, live_server, user, **options):
    context = browser.new_context(locale="en-US", **options)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _switch_to_spanish(page, live_server):
    page.goto(live_server.url + "/en/labs/")
    assert page.locator("[data-language-prompt]").count() == 0
    page.get_by_role("button", name="Español").click()
    page.wait_for_url("**/es/laboratorios/")
    assert page.locator("html").get_attribute("lang") == "es"


def test_yes_from_the_keyboard_saves_the_profile_in_place(live_server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user = UserFactory(preferred_language="en")
    context, page = _signed_in_context(browser, live_server, user, viewport=DESKTOP)
    try:
        _switch_to_spanish(page, live_server)
        prompt = page.locator("[data-language-prompt]")
        assert prompt.is_visible()
        assert es(ASK_ES) in prompt.inner_text()
        assert User.objects.get(pk=user.pk).preferred_language == "en"  # the switch alone
        page.screenshot(path=SCREENSHOTS / "language-prompt-es-desktop.png")

        # Reached with Tab, answered with Enter; the page stays where it is.
        yes = prompt.get_by_role("button", name=es("Yes"))
        for _ in range(40):
            page.keyboard.press("Tab")
            if yes.evaluate("button => button === document.activeElement"):
                break
        else:
            pytest.fail("The prompt's Yes button is not reachable with Tab.")
        assert yes.evaluate("b => getComputedStyle(b).outlineStyle") != "none"
        page.keyboard.press("Enter")
        status = prompt.locator("[data-language-prompt-status]")
        status.wait_for(state="visible")
        assert status.inner_text() == es(SAVED_ES)
        assert page.url.endswith("/es/laboratorios/")
        assert User.objects.get(pk=user.pk).preferred_language == "es"
        page.screenshot(path=SCREENSHOTS / "language-prompt-answered-es-desktop.png")

        page.reload()
        assert page.locator("[data-language-prompt]").count() == 0
    finally:
        context.close()


def test_no_thanks_goes_away_for_the_session_on_a_phone(live_server, browser):
    user = UserFactory(preferred_language="en")
    context, page = _signed_in_context(browser, live_server, user, viewport=PHONE)
    try:
        page.goto(live_server.url + "/es/laboratorios/")
        prompt = page.locator("[data-language-prompt]")
        assert prompt.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=SCREENSHOTS / "language-prompt-es-phone.png")
        prompt.get_by_role("button", name=es("No thanks")).click()
        prompt.wait_for(state="detached")
        assert page.evaluate("document.activeElement.id") == "main"
        page.goto(live_server.url + "/es/")
        assert page.locator("[data-language-prompt]").count() == 0
        assert User.objects.get(pk=user.pk).preferred_language == "en"
    finally:
        context.close()


def test_without_script_the_prompt_posts_and_comes_back(live_server, browser):
    user = UserFactory(preferred_language="en")
    context, page = _signed_in_context(
        browser, live_server, user, viewport=DESKTOP, java_script_enabled=False
    )
    try:
        _switch_to_spanish(page, live_server)
        page.locator("[data-language-prompt]").get_by_role("button", name=es("Yes")).click()
        page.wait_for_load_state()
        assert page.url.endswith("/es/laboratorios/")
        assert es(SAVED_ES) in page.locator(".messages").inner_text()
        assert page.locator("[data-language-prompt]").count() == 0
        assert User.objects.get(pk=user.pk).preferred_language == "es"
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_prompt_passes_axe(live_server, browser, scheme):
    user = UserFactory(preferred_language="en")
    # axe-core is injected inline, which the CSP forbids: this context alone bypasses it.
    context, page = _signed_in_context(
        browser, live_server, user, viewport=DESKTOP, bypass_csp=True, color_scheme=scheme
    )
    try:
        page.goto(live_server.url + "/es/laboratorios/")
        assert page.locator("[data-language-prompt]").is_visible()
        page.add_script_tag(path=AXE)
        results = page.evaluate(
            "() => axe.run('[data-language-prompt]', {resultTypes: ['violations']})"
        )
        blocking = [
            f"[{v['impact']}] {v['id']}: {v['help']}"
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert blocking == []
        page.screenshot(path=SCREENSHOTS / f"language-prompt-es-{scheme}-desktop.png")
    finally:
        context.close()
