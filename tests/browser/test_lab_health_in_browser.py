"""A learner's lab breaks behind the platform's back: the page says so in the learner's
language without a reload, and one click on Restore brings the lab and its terminal back."""

import re

import pytest
from django.conf import global_settings

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import LabSession
from tests.factories import PASSWORD, UserFactory
from tests.labs.test_health import write_health_lab

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State


def test_a_broken_lab_says_what_happened_and_is_restored_in_one_click(
    asgi_server, browser, lab_images, settings, tmp_path
):
    write_health_lab(tmp_path)
    content_sync(root=tmp_path)
    # The server is another process with the real password hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    user = UserFactory(preferred_language="es")
    context = browser.new_context(locale="es", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)

    page.goto(asgi_server + "/es/cuentas/iniciar-sesion/")
    page.get_by_label("Nombre de usuario").fill(user.username)
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.goto(asgi_server + "/es/laboratorios/laboratorio-de-salud/")
    page.get_by_role("button", name="Empezar el laboratorio").click()
    page.wait_for_url(re.compile(r"/sesiones/\d+/$"))
    terminal = page.locator(".terminal .xterm")
    terminal.wait_for(timeout=90_000)
    problem = page.locator("[data-problem]")
    assert problem.is_hidden()

    session = LabSession.objects.get(user=user)
    runtime.container_action(container_id=session.sandbox["containers"]["api"], action="kill")
    assert services.lab_sessions_watch()["broken"] == 1
    page.evaluate("window.sameDocument = true")

    # The page's own poll shows it, in Spanish, with no reload.
    problem.wait_for(state="visible")
    assert problem.locator("[data-problem-text]").inner_text() == (
        "El contenedor api se detuvo (código de salida 137). Restaura el laboratorio para "
        "continuar; tu progreso se conserva."
    )
    assert page.evaluate("window.sameDocument === true")
    page.screenshot(path=settings.BASE_DIR / "var/screenshots/lab-broken-es.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=settings.BASE_DIR / "var/screenshots/lab-broken-es-phone.png")
    page.set_viewport_size({"width": 1400, "height": 900})

    page.get_by_role("button", name="Restaurar el laboratorio").click()
    # Restored by the worker; the page then loads again and its terminal connects.
    page.wait_for_function("window.sameDocument === undefined", timeout=120_000)
    terminal.wait_for(timeout=60_000)
    page.locator("[data-problem]").wait_for(state="hidden")
    session.refresh_from_db()
    assert session.problem == {} and services.session_is_running(session)
    page.locator("[data-terminal-status]").filter(has_text="").wait_for()
    terminal.click()
    page.keyboard.type("curl -s http://api:8080/health\n")
    page.locator(".xterm-rows").filter(has_text='"status": "ok"').wait_for()
    context.close()
    services.lab_session_stop(session=session)
