"""The game-day notice on the attendee's room bar, in a real browser over the real room socket
(uvicorn): a game day on Ana's lab shows on her page without a reload, Bruno (no session of
that lab) sees nothing of it, and when it ends each sees their own result only. The game day's
rows are written here as a lab host's worker writes them, from another process, so what
delivers them is the room socket's 5 s refresh (the push path of game_day_start is proven in
tests/workshops/test_board_gameday.py). Screenshots: gameday-notice-<lang>-<desktop|phone>.png
(running), gameday-notice-result-<lang>-desktop.png and the lab page's one-line bar,
gameday-notice-session-<scheme>-<lang>.png; axe on both pages with the notice."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from academy.courses.models import Course
from academy.courses.services import content_sync
from academy.workshops import selectors, services
from academy.workshops.models import GameDay, GameDayOutcome
from labs.models import LabSession
from tests.browser.test_accessibility import a11y_page  # noqa: F401  (a fixture)
from tests.workshops.conftest import make_instructor, write_workshop_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
Result = GameDayOutcome.Result


def _signed_in(browser, base: str, user, locale: str, viewport: str = "desktop"):
    client = Client()
    client.force_login(user)
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[viewport])
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _home(language: str, workshop) -> str:
    with translation.override(language):
        return reverse("workshops:home", kwargs={"slug": workshop.slug})


def _room(language: str):
    """An open workshop with Ana (a running session of its first lab) and Bruno (none)."""
    instructor = make_instructor(username="profe")
    now = timezone.now()
    course = Course.objects.get(key="demo-course")
    workshop = services.workshop_create(
        created_by=instructor,
        title="Caos en la comunidad",
        language=language,
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=2),
        time_zone="UTC",
        course=course,
        labs=selectors.course_labs(course=course)[:2],
        capacity=30,
    )
    ana, _ = services.attendee_join(workshop=workshop, display_name="Ana")
    bruno, _ = services.attendee_join(workshop=workshop, display_name="Bruno")
    lab = workshop.ordered_labs()[0]
    session = LabSession.objects.create(
        user=ana.user, lab=lab, state=LabSession.State.READY, sandbox={}
    )
    return instructor, workshop, lab, ana, bruno, session


def _running_game_day(workshop, lab, instructor, attendee, session) -> GameDayOutcome:
    """What game_day_start and the worker record: the game day, and Ana's outcome in its
    window (injected, one measurement so far)."""
    game_day = GameDay.objects.create(
        workshop=workshop,
        lab=lab,
        fault=GameDay.Fault.KILL,
        target="api",
        duration_seconds=60,
        probe={"container": "api", "port": 8080, "path": "/"},
        started_by=instructor,
    )
    return GameDayOutcome.objects.create(
        game_day=game_day,
        attendee=attendee,
        session=session,
        injected_at=timezone.now(),
        measurements=[
            {"at": timezone.now().isoformat(), "phase": "before", "ok": True, "status": 200}
        ],
    )


def _finish(outcome: GameDayOutcome, result: str) -> None:
    outcome.result = result
    outcome.fault_ended_at = timezone.now()
    outcome.save()
    GameDay.objects.filter(pk=outcome.game_day_id).update(
        state=GameDay.State.FINISHED, finished_at=timezone.now()
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_attendee_is_told_of_a_game_day_on_their_lab_and_of_their_own_result(
    asgi_server, browser, tmp_path, language
):
    content_sync(root=write_workshop_content(tmp_path))
    instructor, workshop, lab, ana, bruno, session = _room(language)
    url = asgi_server + _home(language, workshop)
    refused = []
    pages = {}
    for name, user, viewport in (
        ("ana", ana.user, "desktop"),
        ("ana-phone", ana.user, "phone"),
        ("bruno", bruno.user, "desktop"),
    ):
        page = _signed_in(browser, asgi_server, user, "en-US", viewport)
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(url)
        # The live region is in the page before anything is said into it.
        region = page.locator("[data-room-gameday]")
        expect(region).to_have_attribute("aria-live", "polite")
        expect(region).to_be_empty()
        pages[name] = page

    outcome = _running_game_day(workshop, lab, instructor, ana, session)
    # No reload: the room socket brings it (its refresh, as from a lab host's worker).
    for name in ("ana", "ana-phone"):
        notice = pages[name].locator("[data-room-gameday] .room-gameday")
        expect(notice).to_have_class("room-gameday is-running", timeout=20_000)
        expect(notice).to_contain_text("api")
        expect(notice).to_contain_text("60 s")
        notice.scroll_into_view_if_needed()
    for name, viewport in (("ana", "desktop"), ("ana-phone", "phone")):
        pages[name].screenshot(path=SCREENSHOTS / f"gameday-notice-{language}-{viewport}.png")

    _finish(outcome, Result.HELD)
    notice = pages["ana"].locator("[data-room-gameday] .room-gameday")
    expect(notice).to_have_class("room-gameday is-held", timeout=20_000)
    expect(notice.locator(".room-gameday-status")).not_to_be_empty()
    # The socket's notice (written by the script) links to her own timeline; it opens.
    link = notice.locator("a.room-gameday-link")
    expect(link).to_be_visible()
    pages["ana"].screenshot(path=SCREENSHOTS / f"gameday-notice-result-{language}-desktop.png")
    link.focus()
    pages["ana"].keyboard.press("Enter")
    pages["ana"].wait_for_url(f"**/{outcome.game_day_id}/")
    expect(pages["ana"].locator(".gameday-row")).to_have_count(1)
    expect(pages["ana"].locator(".gameday-row .gameday-mark")).to_have_count(1)

    # Bruno had no session of the lab: no fault in his lab, no notice, nothing of Ana's; a
    # refresh of his room (reload) says the same.
    bruno_page = pages["bruno"]
    bruno_page.reload()
    bruno_page.wait_for_timeout(6_000)  # one refresh of his socket has come and gone
    expect(bruno_page.locator("[data-room-gameday]")).to_be_empty()
    assert "api" not in bruno_page.locator("[data-room]").inner_text()
    assert refused == []
    for page in pages.values():
        page.context.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_room_bar_with_the_notice_passes_axe(live_server, a11y_page, language, tmp_path):  # noqa: F811
    from tests.browser.test_accessibility import _audit, _sign_in

    content_sync(root=write_workshop_content(tmp_path))
    instructor, workshop, lab, ana, _bruno, session = _room(language)
    outcome = _running_game_day(workshop, lab, instructor, ana, session)
    _sign_in(a11y_page, live_server, ana.user)
    url = live_server.url + _home(language, workshop)
    blocking, dangling = _audit(a11y_page, url)
    assert a11y_page.locator(".room-gameday.is-running").count() == 1
    # The lab session page's one-line room bar, with the same notice.
    with translation.override(language):
        session_url = live_server.url + reverse("labs:session", kwargs={"session_id": session.pk})
    found = _audit(a11y_page, session_url)
    blocking += found[0]
    dangling += found[1]
    assert a11y_page.locator(".room-bar.is-compact .room-gameday.is-running").count() == 1
    scheme = a11y_page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    a11y_page.locator(".room-bar").screenshot(
        path=SCREENSHOTS / f"gameday-notice-session-{'dark' if scheme else 'light'}-{language}.png"
    )
    for result in (Result.DEVIATED, Result.HELD):
        if result == Result.HELD:  # a second game day, held this time
            outcome = _running_game_day(workshop, lab, instructor, ana, session)
        _finish(outcome, result)
        found = _audit(a11y_page, url)
        assert a11y_page.locator(f".room-gameday.is-{result}").count() == 1
        assert a11y_page.locator(".room-gameday-link").count() == 1
        blocking += found[0]
        dangling += found[1]
    assert dangling == [], dangling
    assert blocking == [], "\n".join(blocking)
