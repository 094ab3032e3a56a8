"""Fair under load, on the page: a Check over its rate limit shows the server's 429 message, in
the learner's language, in the step's result box."""

import re
from datetime import timedelta

import pytest
from django.conf import global_settings
from django.utils import timezone

from academy.courses.services import content_sync
from labs.models import Lab, LabSession
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

# Sent from the page, as a room of clicks would: the per-session Check limit (LAB_RATE_LIMITS).
FLOOD = """async ([url, count]) => {
  const token = decodeURIComponent(document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/)[1]);
  const codes = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, {
      method: "POST", headers: {"X-CSRFToken": token}, credentials: "same-origin",
    });
    codes.push(response.status);
  }
  return codes;
}"""


def test_a_check_over_the_limit_shows_the_429_message_in_spanish(asgi_server, browser, settings):
    content_sync(root=settings.CONTENT_DIR)
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's, not the tests'
    user = UserFactory(preferred_language="es")
    lab = Lab.objects.get(key="first-steady-state")
    # Running as far as the web can tell; no sandbox, so no check will ever come back.
    session = LabSession.objects.create(
        user=user, lab=lab, state=LabSession.State.READY, expires_at=timezone.now() + timedelta(1)
    )
    context = browser.new_context(locale="es", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(asgi_server + "/es/cuentas/iniciar-sesion/")
    page.get_by_label("Nombre de usuario").fill(user.username)
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url(re.compile(r"/es/(?!cuentas/iniciar-sesion/)"))
    page.goto(f"{asgi_server}/es/laboratorios/sesiones/{session.pk}/")

    limit = int(settings.LAB_RATE_LIMITS["check"]["session"].split("/")[0])
    url = f"/es/laboratorios/sesiones/{session.pk}/pasos/1/verificar/"
    assert page.evaluate(FLOOD, [url, limit]) == [202] * limit

    page.get_by_role("button", name="Verificar", exact=True).first.click()
    box = page.locator('[data-step="1"] [data-result]')
    box.filter(has_text="Demasiadas solicitudes").wait_for()
    assert re.fullmatch(
        r"Demasiadas solicitudes\. Vuelve a intentarlo en \d+ segundos?\.", box.inner_text()
    )
    assert page.get_by_role("button", name="Verificar", exact=True).first.is_enabled()
    context.close()
