"""Where a game day stands: the board says whether it is running or over and how long its fault
window has left; an outcome recorded "deviated" while its fault still runs is "measuring"
(deviated so far) on the board and the debrief, and final only after its window; and each
attendee's own result page shows their timeline, nobody else's."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from academy.workshops import board, gameday
from academy.workshops.models import GameDay, GameDayOutcome, HelpRequest
from tests.factories import UserFactory
from tests.workshops.test_board import _attendee, _client, url
from tests.workshops.test_board_gameday import finish, mark, start

Result = GameDayOutcome.Result


@pytest.fixture(autouse=True)
def _fresh_counters():
    from django.core.cache import cache

    cache.clear()


def snapshot(workshop, *, at):
    with translation.override("en"):
        return board.board_snapshot(workshop=workshop, now=at)


def cells(snap) -> dict:
    return {row["name"]: (row["game_day_label"], row["game_day_measuring"]) for row in snap["rows"]}


@pytest.mark.django_db
def test_a_deviation_while_the_fault_runs_is_measuring_until_the_window_ends(workshop, instructor):
    ana, bruno = _attendee(workshop, "Ana"), _attendee(workshop, "Bruno")
    game_day, outcomes = start(workshop, instructor, [ana, bruno])
    began = game_day.created_at
    # Ana's lab host injected and one measurement failed: recorded "deviated" at once.
    outcome = outcomes[ana.pk]
    outcome.injected_at = began
    outcome.result = Result.DEVIATED
    outcome.measurements = [mark(True, "before"), mark(False)]
    outcome.save()

    snap = snapshot(workshop, at=began + timedelta(seconds=30))
    assert cells(snap) == {
        "Ana": ("Measuring: deviated so far", True),
        "Bruno": ("Measuring", True),
    }
    state = snap["game_day"]
    assert (state["state"], state["running"]) == ("running", True)
    assert (state["held"], state["deviated"], state["measuring"], state["total"]) == (0, 0, 2, 2)
    assert state["summary"] == "Game day running: Kill a replica (api) in 2 labs."
    # 60 s from Ana's injection, read 30 s in; the page ticks it from the countdown.
    assert state["remaining_seconds"] == 30
    assert state["window_ends_at"] == (began + timedelta(seconds=60)).isoformat()
    assert state["status"] == "The fault window ends in 0:30."
    assert state["countdown"] == "The fault window ends in %(time)s."

    # The window is over but the lab hosts still measure the recovery: still not a result.
    later = snapshot(workshop, at=began + timedelta(seconds=75))["game_day"]
    assert later["running"] is True and later["remaining_seconds"] == 0
    assert later["status"] == "The fault window is over; 2 labs are still being measured."
    assert later["countdown"] == ""

    # The debrief counts both as still measuring, none as deviated, and says it is not final.
    client = _client(instructor)
    page = client.get(url("gameday_debrief", pk=workshop.pk, game_day_id=game_day.pk))
    html = page.content.decode()
    assert "The game day is still running: these results are not final yet." in html
    assert "2 systems are still being measured." in html
    assert "0 systems deviated." in html
    assert "Measuring: deviated so far" in html

    # The fault ended on both labs and the game day finished: now the results are final.
    finish(game_day, {outcomes[ana.pk]: Result.DEVIATED, outcomes[bruno.pk]: Result.HELD})
    snap = snapshot(workshop, at=began + timedelta(seconds=90))
    assert cells(snap) == {"Ana": ("Deviated", False), "Bruno": ("Held", False)}
    state = snap["game_day"]
    assert (state["state"], state["running"], state["remaining_seconds"]) == ("finished", False, 0)
    assert (state["held"], state["deviated"], state["measuring"]) == (1, 1, 0)
    assert state["summary"] == "Game day over: Kill a replica (api): 1 of 2 labs held."
    assert state["status"] == "" and state["countdown"] == ""
    html = client.get(url("gameday_debrief", pk=workshop.pk, game_day_id=game_day.pk)).content
    html = html.decode()
    assert "The game day is over: these results are final." in html
    assert "1 system deviated." in html
    # Final: no "still being measured" line, and no "could not be injected" line at zero.
    assert "still being measured" not in html and "could not be injected" not in html
    assert "Measuring" not in html


@pytest.mark.django_db
def test_a_deviated_outcome_of_a_game_day_finished_as_stale_is_final(workshop, instructor):
    """A lab host that never came back: the game day is finished for it (_finish_stale) while
    the outcome's fault never ended. It is no longer "measuring"."""
    ana = _attendee(workshop, "Ana")
    game_day, outcomes = start(workshop, instructor, [ana])
    GameDayOutcome.objects.filter(pk=outcomes[ana.pk].pk).update(
        result=Result.DEVIATED, injected_at=timezone.now()
    )
    GameDay.objects.filter(pk=game_day.pk).update(
        state=GameDay.State.FINISHED, finished_at=timezone.now()
    )
    snap = snapshot(workshop, at=timezone.now())
    assert cells(snap) == {"Ana": ("Deviated", False)}
    assert snap["game_day"]["summary"] == "Game day over: Kill a replica (api): 0 of 1 lab held."


@pytest.mark.django_db
def test_the_help_badge_is_neutral_at_zero_and_alert_above(workshop, instructor):
    ana = _attendee(workshop, "Ana")
    client = _client(instructor)
    html = client.get(url("board", pk=workshop.pk)).content.decode()
    assert '<span class="board-help-count" data-board-help-count>0 ask for help</span>' in html
    assert snapshot(workshop, at=timezone.now())["help_label"] == "0 ask for help"
    HelpRequest.objects.create(attendee=ana)
    html = client.get(url("board", pk=workshop.pk)).content.decode()
    assert (
        '<span class="board-help-count is-alert" data-board-help-count>1 asks for help</span>'
        in html
    )


@pytest.mark.django_db
def test_each_attendee_sees_only_their_own_game_day_timeline(workshop, make_workshop, instructor):
    ana, bruno, carla = (_attendee(workshop, name) for name in ("Ana", "Bruno", "Carla"))
    game_day, outcomes = start(workshop, instructor, [ana, bruno])
    finish(game_day, {outcomes[ana.pk]: Result.DEVIATED, outcomes[bruno.pk]: Result.HELD})
    mine = url("gameday_mine", slug=workshop.slug, game_day_id=game_day.pk)

    page = _client(ana.user).get(mine)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ana" in html and "Bruno" not in html and "Carla" not in html
    assert html.count('class="card gameday-row') == 1
    assert "Your system deviated from its steady state." in html
    assert html.count('class="gameday-mark is-bad" style=') == 1  # her one failed measurement
    bruno_html = _client(bruno.user).get(mine).content.decode()
    assert "Bruno" in bruno_html and "Ana" not in bruno_html
    assert "Your system held its steady state." in bruno_html
    # In Spanish too, at the Spanish URL.
    spanish = url("gameday_mine", "es", slug=workshop.slug, game_day_id=game_day.pk)
    assert spanish.startswith("/es/") and _client(ana.user).get(spanish).status_code == 200

    # Carla attends but her lab took no part; a signed-in stranger; a guest of another
    # workshop, at this workshop's URL and at their own with this game day's id: all 404.
    other = make_workshop(title="Otro")
    dora = _attendee(other, "Dora")
    stranger = UserFactory()
    for user in (carla.user, stranger, dora.user):
        assert _client(user).get(mine).status_code == 404
    theirs = url("gameday_mine", slug=other.slug, game_day_id=game_day.pk)
    assert _client(dora.user).get(theirs).status_code == 404
    # Ana, at the other workshop's URL (she does not attend it), gets nothing either.
    assert _client(ana.user).get(theirs).status_code == 404
    # An id that is no game day.
    missing = url("gameday_mine", slug=workshop.slug, game_day_id=game_day.pk + 99)
    assert _client(ana.user).get(missing).status_code == 404
    # Signed out: to the sign-in page, nothing shown.
    anonymous = Client().get(mine)
    assert anonymous.status_code == 302 and "Ana" not in anonymous.content.decode()


@pytest.mark.django_db
def test_the_room_bar_links_to_the_attendees_own_timeline_once_it_is_over(workshop, instructor):
    from django.template import engines
    from django.test import RequestFactory

    ana = _attendee(workshop, "Ana")
    game_day, outcomes = start(workshop, instructor, [ana])
    template = engines["django"].from_string('{% include "workshops/_room_bar.html" %}')

    def render() -> str:
        request = RequestFactory().get("/")
        request.user = ana.user
        with translation.override("en"):
            return template.render({"request": request}, request)

    mine = url("gameday_mine", slug=workshop.slug, game_day_id=game_day.pk)
    assert mine not in render()  # running: no result yet
    finish(game_day, {outcomes[ana.pk]: Result.HELD})
    html = render()
    assert f'<a class="room-gameday-link" href="{mine}">See your timeline of the game day</a>' in (
        html
    )
    assert gameday.outcome_measuring(outcomes[ana.pk], GameDay.objects.get()) is False
