"""Terminal tabs in a real browser: a second tab is a shell of its own, every open tab and its
history come back after a reload (four tabs and a reload stay within the terminal limit), the
tabs work from the keyboard, and window.academyTerminal.run types into the selected tab.
Screenshots terminal-tabs-<lang>-desktop.png."""

import os
import re
import time
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import Lab, LabSession
from tests.factories import PASSWORD, UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

AXE = settings.BASE_DIR / "node_modules/axe-core/axe.min.js"
SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
SIGN_IN = {
    "en": ("/en/accounts/sign-in/", "Username", "Password", "Sign in"),
    "es": ("/es/cuentas/iniciar-sesion/", "Nombre de usuario", "Contraseña", "Iniciar sesión"),
}


def texts(language: str) -> dict:
    """The terminal's texts as the page shows them in ``language`` (from the catalogue, so that
    a new wording needs no change here)."""
    with translation.override(language):
        return {
            "tabs": gettext("Terminals"),
            "tab": gettext("Terminal %(number)s").replace("%(number)s", "{n}"),
            "add": gettext("Open another terminal"),
            "close": gettext("Close terminal %(number)s").replace("%(number)s", "{n}"),
            "connected": gettext("Connected"),
            "full": gettext("At most %(number)s terminals can be open at once.") % {"number": 4},
        }


@pytest.fixture
def ready_session(lab_images, tmp_path):
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    made: list[LabSession] = []

    def make(user) -> LabSession:
        lab = Lab.objects.get(key="tiny-lab")
        session = LabSession.objects.create(lab=lab, user=user, state=LabSession.State.PROVISIONING)
        made.append(session)
        services.lab_session_provision(session=session)
        session.refresh_from_db()
        assert session.state == LabSession.State.READY, session.error
        return session

    yield make
    for session in made:
        services.lab_session_stop(session=session)


def rows_of(page, number: int):
    return page.locator(f"#terminal-panel-{number} .xterm-rows")


def axe_violations(page) -> list[str]:
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"[{v['impact']}] {v['id']}: {[' '.join(n['target']) for n in v['nodes']][:5]}"
        for v in results["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def wait_line(page, number: int, line: str) -> None:
    """Until tab ``number``'s terminal shows ``line`` as a whole line (not inside a command)."""
    page.wait_for_function(
        """([number, line]) => {
            const rows = document.querySelector(`#terminal-panel-${number} .xterm-rows`);
            return rows !== null && rows.innerText.split("\\n").some((l) => l.trim() === line);
        }""",
        arg=[number, line],
    )


def wait_connected(page, text: dict, number: int) -> None:
    page.locator(f"#terminal-tab-{number}[aria-selected=true]").wait_for()
    page.locator("[data-terminal-status]").filter(has_text=text["connected"]).wait_for()
    page.locator(f"#terminal-panel-{number} .xterm-rows").filter(has_text="$").wait_for()


@pytest.mark.parametrize("language", ["en", "es"])
def test_tabs_are_separate_shells_and_come_back_after_a_reload(
    asgi_server, browser, ready_session, language, settings
):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's own hashers
    text = texts(language)
    sign_in, username, password, submit = SIGN_IN[language]
    user = UserFactory(preferred_language=language)
    session = ready_session(user)
    with translation.override(language):
        url = asgi_server + reverse("labs:session", kwargs={"session_id": session.pk})
    # bypass_csp only so that axe-core can be injected (test_security_csp.py checks the CSP).
    context = browser.new_context(
        locale=language, viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(asgi_server + sign_in)
    page.get_by_label(username).fill(user.username)
    page.get_by_label(password, exact=True).fill(PASSWORD)
    page.get_by_role("button", name=submit).click()
    page.wait_for_url(re.compile(r"^(?!.*(sign-in|iniciar-sesion))"))
    page.goto(url)

    tablist = page.get_by_role("tablist", name=text["tabs"])
    tab = lambda n: tablist.get_by_role("tab", name=text["tab"].format(n=n))  # noqa: E731
    wait_connected(page, text, 1)
    assert tab(1).get_attribute("aria-selected") == "true"
    page.locator("#terminal-panel-1 .xterm").click()
    # A marker that scrolls off the screen into the shell's history, then one that stays.
    page.keyboard.type("echo one-$((20 + 1)); seq 1 60; echo tail-$((20 + 1))\n")
    rows_of(page, 1).filter(has_text="tail-21").wait_for()

    # A second tab: selected, focused, and a shell of its own.
    page.get_by_role("button", name=text["add"]).click()
    wait_connected(page, text, 2)
    assert page.locator("#terminal-panel-1").is_hidden()
    assert (
        page.evaluate("document.activeElement.closest('[role=tabpanel]').id") == "terminal-panel-2"
    )
    page.keyboard.type("export MINE=two; echo two-$((20 + 2)):${WHERE:-own}\n")
    rows_of(page, 2).filter(has_text="two-22:own").wait_for()
    assert "two-22" not in rows_of(page, 1).inner_text()

    # From the keyboard: the arrows move between the tabs, Enter focuses the terminal.
    tab(2).focus()
    page.keyboard.press("ArrowLeft")
    assert tab(1).get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "terminal-tab-1"
    page.keyboard.press("End")
    assert tab(2).get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    assert (
        page.evaluate("document.activeElement.closest('[role=tabpanel]').id") == "terminal-panel-2"
    )
    page.keyboard.press("Shift+Tab")  # Tab is the shell's; Shift+Tab leaves the terminal
    assert page.evaluate("document.activeElement.id") == "terminal-tab-2"
    page.keyboard.press("Enter")

    # Run from the page (the steps' "Run in terminal"): typed into the selected tab.
    assert page.evaluate("window.academyTerminal.run('echo hi-from-run')") is True
    wait_line(page, 2, "hi-from-run")
    assert (
        page.evaluate("document.activeElement.closest('[role=tabpanel]').id") == "terminal-panel-2"
    )
    # Up to four tabs: then "+" says why it does nothing.
    add = page.get_by_role("button", name=text["add"])
    add.click()
    wait_connected(page, text, 3)
    add.click()
    wait_connected(page, text, 4)
    assert add.is_disabled() and add.get_attribute("title") == text["full"]
    tab(2).click()
    wait_connected(page, text, 2)
    page.add_script_tag(path=AXE)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], scheme
    page.emulate_media(color_scheme="light")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"terminal-tabs-{language}-desktop.png")

    # A reload: the four tabs come back (the old page's places are given back first), tab 2
    # still selected, each with its shell and what it showed.
    page.reload()
    wait_connected(page, text, 2)
    assert tablist.get_by_role("tab").count() == 4
    rows_of(page, 2).filter(has_text="hi-from-run").wait_for()
    for number in (3, 4, 1):
        tab(number).click()
        wait_connected(page, text, number)
    # Tab 1's first marker left the screen before the reload: it is in the scrollback now.
    rows_of(page, 1).filter(has_text="tail-21").wait_for()
    assert "one-21" not in rows_of(page, 1).inner_text()
    # Scrolled back from the keyboard (the terminal has the focus since its tab was clicked).
    assert page.evaluate("document.activeElement.closest('[role=tabpanel]').id") == (
        "terminal-panel-1"
    )
    for _ in range(4):  # a page a time: up to the top of the scrollback
        page.keyboard.press("Shift+PageUp")
    wait_line(page, 1, "one-21")
    shown = rows_of(page, 1).inner_text()
    assert shown.count("one-21\n") == 1 and "one-21\n1\n2\n3\n" in shown

    # A dropped connection: the page keeps what it showed, and tmux's drawing on the reconnect
    # adds nothing to the scrollback (a screenful there would show one page up).
    for _ in range(4):
        page.keyboard.press("Shift+PageDown")
    page.keyboard.press("Shift+PageUp")
    one_page_up = rows_of(page, 1).inner_text()
    for _ in range(4):
        page.keyboard.press("Shift+PageDown")
    opened = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    clients = runtime.sandbox_exec(  # tmux's clients of tab 1 end; the shell stays
        container_id=session.sandbox["containers"]["toolbox"],
        command=["sh", "-c", "kill -KILL $(tmux list-clients -t =lab -F '#{client_pid}')"],
        user="learner",
        timeout=10,
    )
    assert clients.exit_code == 0, clients.output
    deadline = time.monotonic() + 30
    while not any("tab=1&" in url for url in opened):
        assert time.monotonic() < deadline, "the page did not reconnect"
        page.wait_for_timeout(100)
    assert not any("history=1" in url for url in opened)  # the page still has it
    wait_connected(page, text, 1)
    seen = None
    while seen != one_page_up:  # until tmux's drawing has come in full
        assert time.monotonic() < deadline, f"{seen!r} != {one_page_up!r}"
        for _ in range(4):
            page.keyboard.press("Shift+PageDown")
        page.keyboard.press("Shift+PageUp")
        seen = rows_of(page, 1).inner_text()

    # Closing tab 4 (from the keyboard) ends its shell; tab 1 has nothing to close it with.
    tab(4).focus()
    page.keyboard.press("Delete")
    assert tablist.get_by_role("tab").count() == 3
    assert tab(3).get_attribute("aria-selected") == "true"
    tab(1).click()
    assert page.get_by_role("button", name=text["close"].format(n=1)).count() == 0
    tab(2).click()
    assert page.get_by_role("button", name=text["close"].format(n=2)).is_visible()
    page.reload()
    wait_connected(page, text, 2)
    assert tablist.get_by_role("tab").count() == 3
    context.close()
