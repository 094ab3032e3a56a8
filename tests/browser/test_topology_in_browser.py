"""Lab diagrams in a real browser: the lab page's topology and the Results coverage picture in
both languages, on a desktop and a phone (screenshots in var/screenshots), and the session
page's live container states following the status that lab.js dispatches."""

import json
import os
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client

from labs import services
from labs.journal import journal_compact
from labs.models import Lab, LabSession
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
JOURNALS = settings.BASE_DIR / "tests/labs/journals"
AXE = settings.BASE_DIR / "node_modules/axe-core/axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
LABS = {"en": "/en/labs", "es": "/es/laboratorios"}
SESSIONS = {"en": "/en/labs/sessions", "es": "/es/laboratorios/sesiones"}


def _real_lab(folder: str) -> Lab:
    data = yaml.safe_load((settings.CONTENT_DIR / "labs" / folder / "lab.yaml").read_text())
    lab = Lab.objects.create(
        key=folder,
        slug_en=data["slug"]["en"],
        slug_es=data["slug"]["es"],
        title_en=data["title"]["en"],
        title_es=data["title"]["es"],
        summary_en=data["summary"]["en"],
        summary_es=data["summary"]["es"],
        difficulty=data["difficulty"],
        duration_minutes=data["duration_minutes"],
        topology=data["containers"],
        shell_container=data["shell"],
        faults_enabled=bool(data.get("faults")),
    )
    return lab


def _sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _axe_blocking(page, within: str = "main") -> list[str]:
    """axe-core's serious and critical violations in ``within`` (both colour schemes)."""
    page.add_script_tag(path=AXE)
    found = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        results = page.evaluate(
            "within => axe.run(document.querySelector(within), {resultTypes: ['violations']})",
            within,
        )
        found += [
            f"{scheme}: {v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}"
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
    return found


def _node_states(page, selector: str) -> dict[str, str]:
    return page.eval_on_selector_all(
        f"{selector} [data-container]",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.container, n.dataset.state || '']))",
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_lab_page_draws_the_topology(browser, live_server, language):
    lab = _real_lab("chaos-meets-gitops")
    slug = lab.slug_en if language == "en" else lab.slug_es
    for size, viewport in SIZES.items():
        # CSP bypassed in this context only, so that axe-core can be injected (see
        # tests/browser/test_accessibility.py; test_security_csp.py checks the CSP itself).
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()
        response = page.goto(f"{live_server.url}{LABS[language]}/{slug}/")
        assert response.status == 200
        svg = page.locator("svg.topology-svg")
        svg.scroll_into_view_if_needed()
        names = set(
            page.eval_on_selector_all(
                "svg.topology-svg [data-container]", "nodes => nodes.map(n => n.dataset.container)"
            )
        )
        assert names == {"toolbox", "git", "reconciler", "web", "api", "faults"}
        # Drawn, not collapsed: the diagram keeps a readable width on a phone too (it scrolls).
        box = svg.bounding_box()
        assert box["width"] >= 500 and box["height"] > 80
        # The text alternative names the containers and the calls.
        desc = page.locator("svg.topology-svg desc").text_content()
        assert "reconciler" in desc and "git" in desc and "web" in desc
        page.locator("section[aria-labelledby=topology-title]").screenshot(
            path=SCREENSHOTS / f"topology-{language}-{size}.png"
        )
        # Keyboard: the scrollable diagram takes focus and shows it.
        page.locator(".topology-scroll").focus()
        outline = page.eval_on_selector(
            ".topology-scroll", "el => getComputedStyle(el).outlineStyle"
        )
        assert outline != "none"
        assert _axe_blocking(page) == []
        context.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_results_show_the_coverage_picture(browser, live_server, language):
    lab = _real_lab("latency-and-timeouts")
    user = UserFactory(preferred_language=language)
    session = LabSession.objects.create(lab=lab, user=user, state=LabSession.State.DESTROYED)
    services.lab_session_journals_store(
        session=session,
        journals={
            f"{name}.json": {
                "modified": "2026-11-26T00:30:00+00:00",
                "size": 4096,
                "journal": journal_compact(json.loads((JOURNALS / f"{name}.json").read_text())),
            }
            for name in ("toxiproxy-latency", "kill-deviated")
        },
    )
    session.refresh_from_db()
    expected = {part["name"]: part for part in session.coverage}
    context = browser.new_context(viewport=SIZES["desktop"], bypass_csp=True)
    page = context.new_page()
    _sign_in(page, live_server, user)
    page.goto(f"{live_server.url}{SESSIONS[language]}/{session.pk}/")
    picture = page.locator("figure.topology-coverage")
    picture.scroll_into_view_if_needed()
    marked = page.eval_on_selector_all(
        "figure.topology-coverage [data-coverage]",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.container, n.dataset.coverage]))",
    )
    # The picture says what the coverage table says, part by part.
    table = page.eval_on_selector_all(
        ".coverage-table [data-part]",
        "rows => Object.fromEntries(rows.map(r => [r.dataset.part, r.dataset.state]))",
    )
    assert marked == table and set(marked) == set(expected)
    assert "faulted" in " ".join(marked.values())
    # The rollback of kill-deviated is drawn as one, with its legend entry.
    assert page.locator(".timeline-legend .mark-rollback").count() == 1
    rollback = page.locator(".timeline-track-rollbacks .mark").first
    assert rollback.evaluate("el => getComputedStyle(el, '::before').content") == '"↶"'
    page.locator("figure.timeline").screenshot(
        path=SCREENSHOTS / f"results-timeline-{language}-desktop.png"
    )
    page.locator("section.coverage").screenshot(
        path=SCREENSHOTS / f"results-coverage-{language}-desktop.png"
    )
    assert _axe_blocking(page, ".coverage") == []
    context.close()


@pytest.fixture
def session_page_with_diagram(settings):
    """The session page with the diagram: as session.html includes it once the lead has wired
    it, else with the one include line added here (a template loaded from memory)."""
    path = settings.BASE_DIR / "labs/templates/labs/session.html"
    template = path.read_text()
    if "labs/_topology.html" in template:
        return
    line = '{% include "labs/_terminal.html" %}'
    assert line in template
    templates = dict(settings.TEMPLATES[0])
    templates["APP_DIRS"] = False
    templates["OPTIONS"] = {
        **templates["OPTIONS"],
        "loaders": [
            (
                "django.template.loaders.locmem.Loader",
                {
                    "labs/session.html": template.replace(
                        line, '{% include "labs/_topology.html" %}' + line
                    )
                },
            ),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ],
    }
    settings.TEMPLATES = [templates]


def test_session_diagram_follows_the_status_lab_js_dispatches(
    browser, live_server, session_page_with_diagram
):
    lab = _real_lab("kill-a-replica")
    user = UserFactory()
    session = LabSession.objects.create(
        lab=lab, user=user, state=LabSession.State.READY, problem={"container": "api-2"}
    )
    page = browser.new_context(viewport=SIZES["desktop"]).new_page()
    _sign_in(page, live_server, user)
    page.goto(f"{live_server.url}{SESSIONS['en']}/{session.pk}/")
    live = "figure[data-topology-live]"
    assert _node_states(page, live)["api-2"] == "down"
    page.locator(live).screenshot(path=SCREENSHOTS / "topology-live-en-desktop.png")
    # lab.js's next poll sees the row restored: the node follows without a reload.
    LabSession.objects.filter(pk=session.pk).update(problem={})
    page.wait_for_function(
        "() => document.querySelector('[data-topology-live] [data-container=\"api-2\"]')"
        ".dataset.state === 'running'"
    )
    node = page.locator(f'{live} [data-container="api-2"]')
    assert "Running" in node.text_content()
    assert "topo-state-down" not in node.get_attribute("class")
    # A forged status (unknown state, markup in a name) changes nothing and injects nothing.
    page.evaluate(
        """() => document.dispatchEvent(new CustomEvent("academy:status", {detail: {containers: [
             {name: "api-1", state: "<img src=x>", state_label: "<img src=x>"},
             {name: "<img src=x onerror=alert(1)>", state: "down", state_label: "x"}]}}))"""
    )
    assert _node_states(page, live)["api-1"] == "running"
    assert page.locator(f"{live} img").count() == 0
    page.context.close()
