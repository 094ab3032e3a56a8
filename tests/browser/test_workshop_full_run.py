"""A whole workshop in real browsers, on the real Docker engine and a real Celery worker.

The instructor (Spanish pages) creates a Spanish workshop with the real "kill a replica" lab
through the form, reads the join code off the projector page. Two attendees join: one on a
phone typing the code, one on a desktop who then switches their own pages to English. Both start
the lab from the workshop home and get a running session (with the room bar on the lab page);
the board shows them live. The instructor runs a game day ("kill a replica" on api-1, the
shortest allowed): each attendee's own faults sidecar kills and restarts their own api-1, the
board and the debrief show each outcome in Spanish, the CSV export carries it. Ending the
workshop leaves no container of either session on the engine.

Screenshots: var/screenshots/workshop-run-<step>-<lang>-<desktop|phone>.png.
"""

import csv
import io
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from playwright.sync_api import expect

from academy.courses.models import Course
from academy.workshops import gameday
from academy.workshops.models import Attendee, GameDay, GameDayOutcome, Workshop
from labs import runtime
from labs import services as lab_services
from labs.models import Lab, LabSession
from tests.factories import PASSWORD
from tests.workshops.conftest import make_instructor

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
LAB = "kill-a-replica"
LAB_ES = "Mata una réplica detrás de un balanceador de carga"
LAB_EN = "Kill a replica behind a load balancer"
COURSE = "chaos-engineering-foundations"
# What the instructor's Spanish pages call each outcome of the game day.
RESULT_ES = {
    GameDayOutcome.Result.HELD: "Se mantuvo",
    GameDayOutcome.Result.DEVIATED: "Se desvió",
}
MEASURED = re.compile(r"^(Se mantuvo|Se desvió)$")
# Provisioning a five-container lab and its sidecar, twice at once, on a loaded 2-core machine.
LAB_READY_MS = 180_000
GAMEDAY_DONE_MS = 150_000


def _context(browser, *, locale: str, viewport: dict, refused: list):
    context = browser.new_context(locale=locale, viewport=viewport, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def _fault_records(session: LabSession) -> list[tuple[str, str, bool]]:
    """What the session's own faults sidecar says it ran (its records, not the platform's)."""
    import json

    status, body = gameday._call(
        session.sandbox["containers"]["faults"],
        "GET",
        "http://127.0.0.1:7000/v1/records",
        None,
        5.0,
        limit=200_000,
    )
    assert status == 200, body
    return [(r["action"], r["target"], r["ok"]) for r in json.loads(body)["records"]]


def _wait_until_gone(session: LabSession, timeout: float = 90) -> None:
    """Polls the engine (not a page) until nothing carries the session's labels."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not runtime.sandbox_list(labels=lab_services.session_labels(session)):
            return
        time.sleep(0.3)
    left = runtime.sandbox_list(labels=lab_services.session_labels(session))
    raise AssertionError(f"session {session.pk} still has {left} on the engine")


def _wait_until_finished(game_day: GameDay, timeout: float = GAMEDAY_DONE_MS / 1000) -> None:
    """Polls the database (the worker's record) until every outcome is measured."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        game_day.refresh_from_db()
        if game_day.state == GameDay.State.FINISHED:
            return
        time.sleep(0.5)
    raise AssertionError(f"game day still {game_day.state}: {list(game_day.outcomes.values())}")


def _join(page, base: str, code: str, name: str, *, type_code: bool) -> None:
    if type_code:
        page.goto(base + "/es/unirse/")
        page.get_by_label("Código del taller").fill(code.lower())
        page.get_by_role("button", name="Continuar").click()
    else:  # the QR code's target
        page.goto(base + f"/es/unirse/{code}/")
    page.wait_for_url(f"**/es/unirse/{code}/")
    page.get_by_label("Tu nombre visible").fill(name)
    page.get_by_role("button", name="Unirme").click()
    page.wait_for_url("**/es/talleres/*/mis-laboratorios/")
    expect(page.get_by_role("heading", name="Anota esto: tu código para retomar")).to_be_visible()
    assert re.fullmatch(
        r"[A-Z2-9]{8}", page.locator(".workshop-resume-code .workshop-code").inner_text().strip()
    )


def test_a_workshop_from_join_code_to_csv_with_a_game_day(
    asgi_server, browser, lab_images, fault_relay, real_content, settings
):
    base = asgi_server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The server is another process, with the real password hashers.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    make_instructor(username="profe", preferred_language="es")
    course = Course.objects.get(key=COURSE)
    lab = Lab.objects.get(key=LAB)
    assert lab.faults_enabled
    refused: list[str] = []
    teacher = _context(browser, locale="es-CR", viewport=DESKTOP, refused=refused)
    ana = _context(browser, locale="es-CR", viewport=PHONE, refused=refused)
    bruno = _context(browser, locale="en-US", viewport=DESKTOP, refused=refused)
    try:
        # 1. The instructor signs in and creates the workshop, in Spanish.
        teacher.goto(base + "/es/cuentas/iniciar-sesion/")
        teacher.get_by_label("Nombre de usuario").fill("profe")
        teacher.get_by_label("Contraseña", exact=True).fill(PASSWORD)
        teacher.get_by_role("button", name="Iniciar sesión").click()
        teacher.wait_for_url(re.compile(r"/es/(?!cuentas/iniciar-sesion/)"))
        teacher.goto(base + "/es/talleres/gestionar/nuevo/")
        # Half an hour ahead: joining is open (an hour before), and no warm pool is prepared
        # for it yet (20 minutes before), so the engine holds only the attendees' sessions.
        starts = datetime.now(UTC) + timedelta(minutes=30)
        teacher.fill("#id_title", "Jornada de caos en la comunidad")
        teacher.select_option("#id_language", "es")
        teacher.select_option("#id_time_zone", "UTC")
        teacher.fill("#id_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
        teacher.fill("#id_ends_at", (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        teacher.select_option("#id_course", str(course.pk))
        teacher.get_by_label(LAB_ES).check()
        teacher.fill("#id_capacity", "10")
        teacher.get_by_role("button", name="Crear el taller").click()
        teacher.wait_for_url("**/es/talleres/gestionar/*/")
        workshop = Workshop.objects.get()
        assert workshop.language == "es" and workshop.capacity == 10
        assert [item.key for item in workshop.ordered_labs()] == [LAB]
        teacher.get_by_role("link", name="Abrir la página del proyector").click()
        teacher.wait_for_url("**/es/talleres/gestionar/*/proyector/")
        shown = teacher.locator(".projector-code").inner_text()
        code = shown.replace(" ", "")
        assert re.fullmatch(r"[A-Z2-9]{6}", code) and code == workshop.code

        # 2. Ana joins on her phone by typing the code; Bruno on a desktop by the QR link,
        # then reads his own pages in English (the workshop stays Spanish for Ana).
        _join(ana, base, code, "María José", type_code=True)
        _no_sideways_scroll(ana)
        _join(bruno, base, code, "Bruno Díaz", type_code=False)
        bruno.get_by_role("button", name="English").click()
        bruno.wait_for_url("**/en/workshops/*/my-labs/")
        assert bruno.locator("html").get_attribute("lang") == "en"
        expect(bruno.get_by_role("heading", name=re.compile(r"^Your lab"))).to_be_visible()
        ana.reload()
        assert ana.locator("html").get_attribute("lang") == "es"
        expect(ana.get_by_role("heading", name=re.compile(r"^Tu laboratorio"))).to_be_visible()
        attendees = {a.display_name: a for a in Attendee.objects.filter(workshop=workshop)}
        assert set(attendees) == {"María José", "Bruno Díaz"}

        # 3. Both start the lab from the workshop home and get a running session.
        ana.get_by_role("button", name=f"Empezar «{LAB_ES}»").click()
        bruno.get_by_role("button", name=f"Start “{LAB_EN}”").click()
        for page in (ana, bruno):
            page.wait_for_url(re.compile(r"/(sessions|sesiones)/\d+/$"))
        for page in (ana, bruno):
            expect(page.locator(".lab-session")).to_have_attribute(
                "data-state", "ready", timeout=LAB_READY_MS
            )
        # The room bar, in each attendee's own language.
        expect(ana.locator(".room-bar").get_by_role("button")).to_have_text("Pedir ayuda")
        expect(bruno.locator(".room-bar").get_by_role("button")).to_have_text("Ask for help")
        expect(ana.locator(".lab-bar h1")).to_have_text(LAB_ES)
        expect(bruno.locator(".lab-bar h1")).to_have_text(LAB_EN)
        ana.screenshot(path=SCREENSHOTS / "workshop-run-lab-es-phone.png")
        bruno.screenshot(path=SCREENSHOTS / "workshop-run-lab-en-desktop.png")
        sessions = {
            name: LabSession.objects.live().get(user=attendee.user, lab=lab)
            for name, attendee in attendees.items()
        }
        assert all(s.state == LabSession.State.READY for s in sessions.values())

        # 4. The instructor's board shows both, live, in their lab.
        teacher.goto(base + f"/es/talleres/gestionar/{workshop.pk}/")
        teacher.get_by_role("link", name="Tablero en vivo").click()
        expect(teacher.locator("[data-board-status]")).to_have_attribute("data-live", "1")
        rows = {name: teacher.locator("tr[data-attendee]", has_text=name) for name in attendees}
        for row in rows.values():
            expect(row.locator("td").nth(0)).to_have_text(LAB_ES)
            expect(row.locator("td").nth(4)).to_contain_text("Lista")
            expect(row.locator("td").nth(5)).to_have_text("\u2013")  # nothing yet

        # 5. A game day: kill api-1 in every attendee's lab, for the shortest time allowed.
        teacher.goto(base + f"/es/talleres/gestionar/{workshop.pk}/")
        teacher.get_by_role("link", name="Iniciar una jornada de caos (game day)").click()
        teacher.get_by_label("Matar una réplica en «api-1»").check()
        expect(teacher.locator("#duration")).to_have_attribute("min", "10")
        teacher.fill("#duration", "10")
        teacher.get_by_role(
            "button", name="Inyectar en el laboratorio de cada participante"
        ).click()
        teacher.wait_for_url("**/es/talleres/gestionar/*/tablero/")
        game_day = GameDay.objects.get(workshop=workshop)
        assert (game_day.fault, game_day.target, game_day.duration_seconds) == ("kill", "api-1", 10)
        assert game_day.probe["container"] == "lb"  # the platform measures the load balancer
        summary = teacher.locator("[data-board-gameday]")
        expect(summary).to_contain_text("Matar una réplica (api-1)")
        # The board says the game day is running (its fault window is at least 10 s long).
        expect(summary).to_have_attribute("data-state", "running")
        teacher.screenshot(
            path=SCREENSHOTS / "workshop-run-board-running-es-desktop.png", full_page=True
        )
        for row in rows.values():  # each outcome, measured on the lab host, arrives live
            expect(row.locator("td").nth(5)).to_have_text(MEASURED, timeout=GAMEDAY_DONE_MS)
        # "Deviated" shows as soon as one measurement fails, while the window still runs: the
        # game day is over once the lab host restarted api-1 and measured "after" everywhere.
        _wait_until_finished(game_day)
        outcomes = {o.attendee.display_name: o for o in game_day.outcomes.all()}
        assert set(outcomes) == set(attendees)
        for name, outcome in outcomes.items():
            assert outcome.result in RESULT_ES, (name, outcome.result, outcome.error)
            assert outcome.session_id == sessions[name].pk
            expect(rows[name].locator("td").nth(5)).to_have_text(RESULT_ES[outcome.result])
            phases = [mark["phase"] for mark in outcome.measurements]
            assert {"before", "during", "after"} <= set(phases), phases
        held = sum(o.result == GameDayOutcome.Result.HELD for o in outcomes.values())
        # Over: the board says so, with the final count (the sentence is board.board_game_day's).
        expect(summary).to_have_attribute("data-state", "finished", timeout=15_000)
        expect(summary).to_have_attribute("data-held", str(held))
        expect(summary).to_have_attribute("data-total", "2")
        expect(summary.locator("[data-board-gameday-status]")).to_be_hidden()
        # Each attendee's own sidecar killed and restarted their own api-1.
        for session in sessions.values():
            session.refresh_from_db()
            records = _fault_records(session)
            assert ("kill", "api-1", True) in records, records
            assert ("restart", "api-1", True) in records, records
        teacher.locator("[data-board-rows]").scroll_into_view_if_needed()
        teacher.screenshot(path=SCREENSHOTS / "workshop-run-board-es-desktop.png", full_page=True)

        # The debrief lists both timelines.
        teacher.get_by_role("link", name="Análisis del último game day").click()
        teacher.wait_for_url(f"**/{game_day.pk}/")
        timelines = teacher.locator(".gameday-row")
        expect(timelines).to_have_count(2)
        for name, outcome in outcomes.items():
            timeline = timelines.filter(has_text=name)
            expect(timeline.locator(".gameday-result")).to_have_text(RESULT_ES[outcome.result])
            expect(timeline.locator(".gameday-window")).to_have_count(1)
            expect(timeline.locator(".gameday-mark")).to_have_count(len(outcome.measurements))
        teacher.screenshot(path=SCREENSHOTS / "workshop-run-debrief-es-desktop.png", full_page=True)

        # Each attendee's room bar links to their own timeline once it is over (pushed over the
        # room socket, or found by its 5 s re-read); Bruno's in English.
        expect(
            bruno.locator(".room-bar").get_by_role("link", name=re.compile("timeline"))
        ).to_be_visible(timeout=15_000)
        link = ana.locator(".room-bar .room-gameday-link")
        expect(link).to_be_visible(timeout=15_000)
        ana.evaluate("window.scrollTo(0, 0)")
        ana.screenshot(path=SCREENSHOTS / "workshop-run-lab-over-es-phone.png")
        href = link.get_attribute("href")
        assert href.startswith("/es/") and href.endswith(f"/{game_day.pk}/"), href
        mine = ana.context.new_page()
        mine.goto(base + href)
        expect(mine.locator(".gameday-row")).to_have_count(1)
        expect(mine.locator(".gameday-row")).to_contain_text("María José")
        expect(mine.locator("main")).not_to_contain_text("Bruno")
        outcome = outcomes["María José"]
        expect(mine.locator(".gameday-row .gameday-result")).to_have_text(RESULT_ES[outcome.result])
        expect(mine.locator(".gameday-row .gameday-mark")).to_have_count(len(outcome.measurements))
        _no_sideways_scroll(mine)
        mine.screenshot(path=SCREENSHOTS / "workshop-run-mine-es-phone.png", full_page=True)
        mine.close()

        # 6. The results, as the instructor downloads them.
        teacher.goto(base + f"/es/talleres/gestionar/{workshop.pk}/")
        with teacher.expect_download() as download:
            teacher.get_by_role("link", name="Descargar los resultados (CSV)").click()
        data = Path(download.value.path()).read_bytes()
        assert data.startswith("\ufeff".encode())
        table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        steps = lab.steps.count()
        assert [row["Nombre visible"] for row in table] == ["María José", "Bruno Díaz"]
        for row in table:
            outcome = outcomes[row["Nombre visible"]]
            assert row[f"{LAB_ES}: pasos superados"] == "0"
            assert row[f"{LAB_ES}: pasos"] == str(steps) and steps == 3
            assert row["Game day (jornada de caos)"] == (
                f"Matar una réplica: {RESULT_ES[outcome.result]}"
            )

        # 7. The end: the attendees' sessions go, and their containers with them.
        teacher.get_by_role("link", name="Terminar el taller…").click()
        # The confirmation says what goes: both attendees' sessions.
        expect(teacher.locator("main")).to_contain_text("se destruyen 2 sesiones de laboratorio")
        teacher.get_by_role("button", name="Terminar el taller y destruir sus laboratorios").click()
        teacher.wait_for_url(f"**/es/talleres/gestionar/{workshop.pk}/")
        expect(teacher.get_by_text("se están eliminando 2 sesiones de laboratorio")).to_be_visible()
        workshop.refresh_from_db()
        assert workshop.state == Workshop.State.ENDED
        for session in sessions.values():
            session.refresh_from_db()
            assert session.state == LabSession.State.DESTROYED
            _wait_until_gone(session)
        # Ana's lab page hears that her session ended; Bruno's workshop home says it is over.
        expect(ana.locator(".lab-session")).to_have_attribute("data-state", "destroyed")
        bruno.goto(base + f"/en/workshops/{workshop.slug}/my-labs/")
        expect(bruno.locator(".notice", has_text="This workshop has ended.")).to_be_visible()
        expect(bruno.locator(".room-bar")).to_have_count(0)
        expect(bruno.get_by_role("button", name=f"Start “{LAB_EN}”")).to_have_count(0)
        assert refused == [], refused
    finally:
        for context in {page.context for page in (teacher, ana, bruno)}:
            context.close()
        for session in LabSession.objects.filter(user__workshop_attendances__isnull=False):
            if session.is_live:
                lab_services.lab_session_stop(session=session)
            runtime.sandbox_destroy(labels=lab_services.session_labels(session))
