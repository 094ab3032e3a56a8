"""A learner does the sample lab in a real browser: terminal over a websocket, checks graded,
and the Results section drawing the journal of the experiment they ran."""

import re

import pytest
from django.conf import global_settings

from academy.courses.services import content_sync
from labs import runtime, services
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
        "next": "Next step",
        "empty": "No experiment results yet.",
        "verdict": "The hypothesis held before and after the method. The method injected no "
        "fault, so this run is a baseline.",
        "coverage": "0 of 2 parts faulted, 1 of 2 observed.",
        "observed": "Observed, not faulted",
        "refresh": "Refresh results",
        "refreshed": "Results updated.",
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
        "next": "Paso siguiente",
        "empty": "Todavía no hay resultados de experimentos.",
        "verdict": "La hipótesis se cumplió antes y después del método. El método no inyectó "
        "ningún fallo, así que esta ejecución es una línea base.",
        "coverage": "0 de 2 partes con fallos inyectados, 1 de 2 observadas.",
        "observed": "Observada, sin fallo",
        "refresh": "Actualizar resultados",
        "refreshed": "Resultados actualizados.",
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
    page.wait_for_url(re.compile(r"/(sessions|sesiones)/\d+/$"))
    page.evaluate("window.sameDocument = true")

    # The page follows the session until it is ready, then the terminal connects, in place.
    terminal = page.locator(".terminal .xterm")
    terminal.wait_for(timeout=90_000)
    page.locator("[data-terminal-status]").filter(has_text="").wait_for()
    assert page.evaluate("window.sameDocument === true"), "the page reloaded"
    assert page.locator("[data-terminal-waiting]").count() == 0
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
    results = page.locator("#results")
    assert text["empty"] in results.inner_text()

    # Step 2: the learner's experiment (pasted, as the step shows it), run in the terminal.
    session = LabSession.objects.get(user=user)
    step = session.lab.steps.get(number=2)
    experiment = step.solve_script.split("cd ~ &&")[0]  # writes ~/experiment.json
    pasted = runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-c", experiment],
        user="learner",
        workdir="/home/learner",
        timeout=20,
    )
    assert pasted.exit_code == 0, pasted.output
    page.evaluate("window.sameDocument = true")  # gone, should the page load again
    page.get_by_role("button", name=text["next"]).first.click()
    terminal.click()
    page.keyboard.type("cd ~ && chaos run experiment.json\n")
    page.locator(".xterm-rows").filter(
        has_text="Experiment ended with status: completed"
    ).wait_for()
    page.get_by_role("button", name=text["check"], exact=True).first.click()
    page.locator("#step-2 .check-result.passed").wait_for()

    # The check read the journal: the page swaps in its timeline, without a reload.
    results.locator(".timeline").wait_for()
    assert results.locator("[data-verdict]").inner_text() == text["verdict"]
    marks = results.locator(".timeline-chart .mark")
    assert [marks.nth(n).get_attribute("data-mark") for n in range(marks.count())] == [
        "met",  # the hypothesis before
        "probe",  # the method's probe
        "met",  # the hypothesis after
    ]
    assert results.locator("[data-coverage-summary]").inner_text() == text["coverage"]
    api = results.locator('tr[data-part="api"]')
    assert api.get_attribute("data-state") == "observed" and text["observed"] in api.inner_text()
    assert page.evaluate("window.sameDocument") is True  # no reload: the terminal stayed

    results.get_by_role("button", name=text["refresh"]).click()
    results.locator("[data-results-status]").filter(has_text=text["refreshed"]).wait_for()
    assert results.locator(".timeline").count() == 1
    results.screenshot(path=settings.BASE_DIR / f"var/screenshots/lab-results-{language}.png")

    session.refresh_from_db()
    assert session.checks.filter(passed=True).count() == 2
    assert list(session.journals) == ["journal.json"]
    services.lab_session_stop(session=session)
    context.close()
