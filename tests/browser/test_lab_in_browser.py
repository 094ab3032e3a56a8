"""A learner does the sample lab in a real browser: terminal over a websocket, checks graded."""

import pytest
from django.conf import global_settings

from academy.courses.services import content_sync
from labs import services
from labs.models import LabSession
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "en": {
        "signin": "/en/accounts/sign-in/",
        "username": "Username",
        "password": "Password",
        "submit": "Sign in",
        "lab": "/en/labs/first-steady-state/",
        "start": "Start the lab",
        "check": "Check",
        "passed": "Passed. Well done!",
        "failed": "Not yet:",
        "missing": "~/health.json does not exist yet.",
    },
    "es": {
        "signin": "/es/cuentas/iniciar-sesion/",
        "username": "Nombre de usuario",
        "password": "Contraseña",
        "submit": "Iniciar sesión",
        "lab": "/es/laboratorios/primer-estado-estable/",
        "start": "Empezar el laboratorio",
        "check": "Verificar",
        "passed": "Aprobado. ¡Bien hecho!",
        "failed": "Todavía no:",
        "missing": "~/health.json todavía no existe.",
    },
}


@pytest.mark.parametrize("language", ["es", "en"])
def test_learner_starts_the_lab_types_in_the_terminal_and_passes_a_check(
    asgi_server, browser, lab_images, language, settings
):
    content_sync(root=settings.CONTENT_DIR)
    # The server is another process with the real password hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = UserFactory(preferred_language=language)
    text = TEXTS[language]
    context = browser.new_context(locale=language, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)

    page.goto(asgi_server + text["signin"])
    page.get_by_label(text["username"]).fill(user.username)
    page.get_by_label(text["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=text["submit"]).click()
    page.goto(asgi_server + text["lab"])
    page.get_by_role("button", name=text["start"]).click()

    # The page follows the session until it is ready, then the terminal connects.
    terminal = page.locator(".terminal .xterm")
    terminal.wait_for(timeout=90_000)
    page.locator("[data-terminal-status]").filter(has_text="").wait_for()
    page.get_by_role("button", name=text["check"], exact=True).first.click()
    page.locator(".check-result.failed").first.wait_for()
    assert text["missing"] in page.locator(".check-result").first.inner_text()

    terminal.click()
    page.keyboard.type("curl -s http://api:8080/health | tee ~/health.json\n")
    page.locator(".xterm-rows").filter(has_text='"status": "ok"').wait_for()

    page.get_by_role("button", name=text["check"], exact=True).first.click()
    page.locator(".check-result.passed").first.wait_for()
    assert page.locator(".check-result").first.inner_text().startswith(text["passed"])
    page.screenshot(path=settings.BASE_DIR / f"var/screenshots/lab-{language}.png")

    session = LabSession.objects.get(user=user)
    assert session.checks.filter(passed=True).count() == 1
    services.lab_session_stop(session=session)
    context.close()
