"""The lab workspace in a real browser: instructions and terminal side by side over the window's
width, a split that is dragged or moved from the keyboard and remembered, code blocks whose
buttons never cover the command, Reset and Stop that ask first, a phone that shows the steps and
says the terminal needs a wider screen, and "Run in terminal" typing into the learner's shell.

The layout tests use a running session row of the sample lab (no containers: the terminal only
tries to connect); the last test runs the real lab on the Docker engine with the real worker.
"""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import CheckResult, Lab, LabSession
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = settings.BASE_DIR / "node_modules/axe-core/axe.min.js"
SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
State = LabSession.State

TEXTS = {
    "en": {
        "separator": "Resize the instructions and the terminal",
        "copy": "Copy",
        "copied": "Copied",
        "run": "Run in terminal",
        "not_connected": "The terminal is not connected yet. Wait for it, or copy the command.",
        "stop": "Stop",
        "stop_title": "Stop this lab session?",
        "stop_lost": "Lost: your files, every change you made in the containers, and journals "
        "that Results has not read yet.",
        "stop_confirm": "Stop the lab",
        "reset": "Reset",
        "reset_lost": "Lost: your files, your experiments and their journals, and every change "
        "you made in the containers.",
        "keep": "Keep working",
        "time_left": "Time left",
        "next": "Next step",
        "narrow": "The terminal needs a wider screen.",
    },
    "es": {
        "separator": "Cambiar el tamaño de las instrucciones y la terminal",
        "copy": "Copiar",
        "copied": "Copiado",
        "run": "Ejecutar en la terminal",
        "not_connected": "La terminal todavía no está conectada. Espérala o copia el comando.",
        "stop": "Detener",
        "stop_title": "¿Detener esta sesión del laboratorio?",
        "stop_lost": "Se pierde: tus archivos, todo cambio que hiciste en los contenedores y los "
        "journals que Resultados todavía no leyó.",
        "stop_confirm": "Detener el laboratorio",
        "reset": "Reiniciar",
        "reset_lost": "Se pierde: tus archivos, tus experimentos y sus journals, y todo cambio "
        "que hiciste en los contenedores.",
        "keep": "Seguir trabajando",
        "time_left": "Tiempo restante",
        "next": "Paso siguiente",
        "narrow": "La terminal necesita una pantalla más ancha.",
    },
}


@pytest.fixture
def sample_lab(tmp_path) -> Lab:
    """The project's first lab alone, without the lessons it links to (its bash blocks are
    what the buttons are for)."""
    lab_dir = tmp_path / "labs/first-steady-state"
    shutil.copytree(settings.CONTENT_DIR / "labs/first-steady-state", lab_dir)
    spec = (lab_dir / "lab.yaml").read_text(encoding="utf-8")
    spec = re.sub(r"^lessons:\n(?:  - .*\n)+", "", spec, flags=re.MULTILINE)
    (lab_dir / "lab.yaml").write_text(spec, encoding="utf-8")
    content_sync(root=tmp_path)
    return Lab.objects.get(key="first-steady-state")


def _running_session(user, lab, minutes: int = 30) -> LabSession:
    return LabSession.objects.create(
        user=user,
        lab=lab,
        state=State.READY,
        expires_at=timezone.now() + timedelta(minutes=minutes),
    )


def _open(browser, server_url, user, session, language, viewport, **options):
    context = browser.new_context(viewport=viewport, locale=language, **options)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": server_url}])
    # Every CSP violation and script error of the page, kept for the test to look at.
    context.add_init_script(
        "window.__cspViolations = []; document.addEventListener('securitypolicyviolation',"
        " (event) => window.__cspViolations.push(event.violatedDirective));"
    )
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    page.set_default_timeout(15_000)
    with translation.override(language):
        url = server_url + session.get_absolute_url()
    page.goto(url)
    return page, url


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, locator
    return box


def _overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _axe(page) -> list[str]:
    page.add_script_tag(path=AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"[{v['impact']}] {v['id']}: {[' '.join(n['target']) for n in v['nodes']][:5]}"
        for v in results["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("language", ["en", "es"])
def test_split_copy_and_confirmations_on_the_desktop(live_server, browser, sample_lab, language):
    text = TEXTS[language]
    user = UserFactory(preferred_language=language)
    session = _running_session(user, sample_lab)
    # bypass_csp only so that axe-core can be injected (test_security_csp.py checks the CSP).
    page, url = _open(browser, live_server.url, user, session, language, DESKTOP, bypass_csp=True)

    # Side by side over the full width, the terminal pane as tall as the window allows.
    separator = page.get_by_role("separator", name=text["separator"])
    assert separator.get_attribute("aria-valuenow") == "40"
    workspace = _box(page.locator("[data-workspace]"))
    assert workspace["width"] > 1200, "the workspace did not escape the narrow column"
    instructions = page.locator("#lab-instructions")
    terminal_pane = page.locator(".workspace-terminal")
    assert _box(terminal_pane)["x"] > _box(instructions)["x"] + _box(instructions)["width"]
    bottom = _box(terminal_pane)["y"] + _box(terminal_pane)["height"]
    assert DESKTOP["height"] - 40 <= bottom <= DESKTOP["height"], bottom
    assert page.locator(".lab-timer").inner_text().startswith(text["time_left"])
    assert re.fullmatch(r"\d+:\d\d", page.locator("[data-countdown]").inner_text())
    # Every status read is told to the rest of the page (the topology diagram listens).
    assert page.evaluate("window.academyLabStatus.id") == session.pk
    told = page.evaluate(
        """() => new Promise((resolve) => document.addEventListener(
            "academy:status", (event) => resolve(event.detail), {once: true}))"""
    )
    assert told["state"] == "ready" and told["live"] is True

    # Dragged to about 60 %, and still there after a reload.
    handle = _box(separator)
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(workspace["x"] + workspace["width"] * 0.6, handle["y"] + 100, steps=8)
    page.mouse.up()
    dragged = int(separator.get_attribute("aria-valuenow"))
    assert 57 <= dragged <= 63, dragged
    width = _box(instructions)["width"]
    assert abs(width - workspace["width"] * dragged / 100) < 20, width
    page.reload()
    assert separator.get_attribute("aria-valuenow") == str(dragged)
    assert abs(_box(instructions)["width"] - width) < 2

    # The keyboard moves it too: arrows, Home, End; Tab reaches it.
    separator.focus()
    page.keyboard.press("ArrowLeft")
    assert separator.get_attribute("aria-valuenow") == str(dragged - 2)
    page.keyboard.press("Home")
    assert separator.get_attribute("aria-valuenow") == "20"
    page.keyboard.press("End")
    assert separator.get_attribute("aria-valuenow") == "75"
    page.keyboard.press("Shift+ArrowLeft")
    assert separator.get_attribute("aria-valuenow") == "65"
    separator.dblclick()
    assert separator.get_attribute("aria-valuenow") == "40"

    # Code blocks: Copy and Run above the command, never over its text.
    step = page.locator("#step-1")
    block = step.locator(".code-block").first
    copy = block.get_by_role("button", name=text["copy"], exact=True)
    run = block.get_by_role("button", name=text["run"], exact=True)
    code = block.locator("code")
    for button in (copy, run):
        assert not _overlaps(_box(button), _box(code)), "a button covers the command"
    # The terminal of this test has no shell to talk to: Run says so, in words.
    run.click()
    assert block.locator(".code-note").inner_text() == text["not_connected"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy.click()
    page.locator("[data-code-announcer]").filter(has_text=text["copied"]).wait_for()
    assert page.evaluate("navigator.clipboard.readText()").startswith("curl -s http://api:8080")

    assert _axe(page) == []

    # The next step is read from its top, and the keyboard goes on from its title.
    instructions.evaluate("pane => { pane.scrollTop = pane.scrollHeight; }")
    step.get_by_role("button", name=text["next"]).click()
    assert instructions.evaluate("pane => pane.scrollTop") == 0
    assert page.evaluate("document.activeElement.closest('.lab-step').id") == "step-2"

    # Below 60rem the panes stack: the terminal under the steps, no separator.
    page.set_viewport_size({"width": 800, "height": 900})
    assert not separator.is_visible()
    assert _box(terminal_pane)["y"] > _box(instructions)["y"] + _box(instructions)["height"]
    assert _box(terminal_pane)["height"] > 300
    page.set_viewport_size(DESKTOP)

    # Every step passed (the checks' rows, as the worker writes them): the next poll says the
    # lab is complete, with a link to its summary, and the workspace still fits the window.
    for lab_step in session.lab.steps.all():
        CheckResult.objects.create(session=session, step=lab_step, passed=True, duration_ms=5)
    complete = page.locator("[data-complete]")
    complete.wait_for()
    assert complete.get_by_role("link").get_attribute("href").endswith("/")
    page.wait_for_function(
        "() => { const pane = document.querySelector('.workspace-terminal');"
        " const bottom = pane.getBoundingClientRect().bottom;"
        " return bottom <= innerHeight && bottom > innerHeight - 40; }"
    )

    assert page.script_errors == []

    # Stop asks first and says what is lost; Escape and "Keep working" keep the session.
    stop = page.locator(".lab-bar-actions").get_by_role("button", name=text["stop"], exact=True)
    stop.click()
    dialog = page.get_by_role("dialog", name=text["stop_title"])
    assert text["stop_lost"] in dialog.inner_text()
    assert page.evaluate("document.activeElement.textContent") == text["keep"]
    assert _axe(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"lab-workspace-stop-{language}-desktop.png")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.textContent") == text["stop"]
    stop.click()
    dialog.get_by_role("button", name=text["keep"]).click()
    session.refresh_from_db()
    assert session.state == State.READY and page.url == url

    page.locator(".lab-bar-actions").get_by_role("button", name=text["reset"]).click()
    assert text["reset_lost"] in page.get_by_role("dialog").inner_text()
    page.keyboard.press("Escape")

    stop.click()
    dialog.get_by_role("button", name=text["stop_confirm"]).click()
    with translation.override(language):
        page.wait_for_url(live_server.url + session.lab.get_absolute_url())
    session.refresh_from_db()
    assert session.state == State.DESTROYED
    page.context.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_phone_shows_the_steps_and_says_the_terminal_needs_a_wider_screen(
    live_server, browser, sample_lab, language
):
    text = TEXTS[language]
    user = UserFactory(preferred_language=language)
    # Four minutes left: the countdown says so in red.
    session = _running_session(user, sample_lab, minutes=4)
    # English in the dark theme, Spanish in the light one: axe measures both.
    scheme = "dark" if language == "en" else "light"
    page, _ = _open(
        browser,
        live_server.url,
        user,
        session,
        language,
        PHONE,
        bypass_csp=True,
        color_scheme=scheme,
    )
    page.locator(".lab-timer.lab-timer-low").wait_for()
    assert page.locator("[data-countdown]").inner_text().startswith("3:")

    page.get_by_text(text["narrow"]).wait_for()
    assert not page.locator(".lab-terminal").is_visible()
    assert not page.locator("[data-workspace-separator]").is_visible()
    assert page.locator("#step-1 h2").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _axe(page) == []
    assert page.script_errors == []
    page.screenshot(path=SCREENSHOTS / f"lab-workspace-{language}-phone.png", full_page=True)

    # Time is up while the page is open: it says so, with nothing left to extend or stop.
    LabSession.objects.filter(pk=session.pk).update(state=State.EXPIRED)
    page.locator("[data-ended-notice]").wait_for()
    assert not page.locator(".lab-bar-actions").is_visible()
    assert not page.locator("[data-timer]").is_visible()
    page.context.close()


@pytest.mark.docker
def test_run_in_terminal_types_the_command_into_the_learners_shell(
    asgi_server, browser, lab_images, sample_lab
):
    user = UserFactory(preferred_language="en")
    session = services.lab_session_start(user=user, lab=sample_lab)
    page, _ = _open(browser, asgi_server, user, session, "en", DESKTOP)
    page.set_default_timeout(30_000)
    try:
        page.locator(".terminal[data-terminal-state=connected]").wait_for(timeout=90_000)
        screen = page.locator(".terminal-screen .xterm-screen").first
        before = _box(screen)["width"]

        block = page.locator("#step-1 .code-block").first
        block.get_by_role("button", name=TEXTS["en"]["run"], exact=True).click()
        page.locator("[data-code-announcer]").filter(has_text="Sent to the terminal").wait_for()
        page.locator(".xterm-rows").filter(has_text='"status": "ok"').wait_for()
        # The command ran in the learner's shell: the file it wrote is there for the check.
        session.refresh_from_db()
        written = runtime.sandbox_exec(
            container_id=session.sandbox["containers"]["toolbox"],
            command=["cat", "/home/learner/health.json"],
            user="learner",
            workdir="/home/learner",
            timeout=10,
        )
        assert '"status": "ok"' in written.output

        # A narrower instructions pane gives the terminal the room: it refits to its pane.
        page.get_by_role("separator").focus()
        page.keyboard.press("Home")
        pane = _box(page.locator(".workspace-terminal"))
        page.wait_for_function(
            "w => document.querySelector('.terminal-screen .xterm-screen')"
            ".getBoundingClientRect().width > w",
            arg=before + 150,
        )
        assert _box(screen)["width"] <= pane["width"]
        # Under the real Content-Security-Policy: nothing refused, no script error.
        assert page.evaluate("window.__cspViolations") == []
        assert page.script_errors == []

        # The workspace at work, in both languages (the same session; the shell stays).
        page.get_by_role("separator").dblclick()
        page.locator("#lab-instructions").focus()
        page.wait_for_timeout(300)  # the terminal's refit is drawn on the next frame
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "lab-workspace-en-desktop.png")
        with translation.override("es"):
            page.goto(asgi_server + session.get_absolute_url())
        page.locator(".terminal[data-terminal-state=connected]").wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=SCREENSHOTS / "lab-workspace-es-desktop.png")
    finally:
        page.context.close()
        services.lab_session_stop(session=session)


def test_without_script_the_panes_sit_side_by_side_and_stop_posts_at_once(
    live_server, browser, sample_lab
):
    user = UserFactory()
    session = _running_session(user, sample_lab)
    page, _ = _open(
        browser, live_server.url, user, session, "en", DESKTOP, java_script_enabled=False
    )

    instructions = _box(page.locator("#lab-instructions"))
    terminal_pane = _box(page.locator(".workspace-terminal"))
    assert terminal_pane["x"] > instructions["x"] + instructions["width"]
    assert terminal_pane["width"] > 600
    assert not page.locator("[data-workspace-separator]").is_visible()

    page.locator(".lab-bar-actions").get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_url(live_server.url + session.lab.get_absolute_url())
    session.refresh_from_db()
    assert session.state == State.DESTROYED
    page.context.close()
