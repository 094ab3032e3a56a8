"""The results CSV: its content, formula neutralisation, language and who may download it."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from academy.workshops import export, services
from academy.workshops.models import GameDay, GameDayOutcome
from labs.models import CheckResult, LabSession
from tests.factories import UserFactory
from tests.workshops.conftest import make_instructor

pytestmark = pytest.mark.django_db


def csv_url(workshop) -> str:
    with translation.override("en"):
        return reverse("workshops:results_csv", kwargs={"pk": workshop.pk})


def rows_of(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    "value", ["=1+2", "+41 22", "-2", "@SUM(A1:A2)", "\tcmd", "\rcmd", '=HYPERLINK("x")']
)
def test_cells_that_a_spreadsheet_would_run_are_kept_as_text(value):
    assert export.csv_cell(value) == "'" + value
    assert export.csv_cell("Ana = 1") == "Ana = 1"
    assert export.csv_cell(3) == "3"


def test_one_row_per_attendee_with_steps_times_and_game_day(client, make_workshop, instructor):
    workshop = make_workshop(language="en")
    first, second = workshop.ordered_labs()
    ana, _ = services.attendee_join(workshop=workshop, display_name="=cmd|' /C calc'!A0")
    services.attendee_join(workshop=workshop, display_name="Bruno")
    started = timezone.now()
    session = LabSession.objects.create(
        user=ana.user, lab=first, state="completed", requested_at=started
    )
    step = first.steps.get()
    CheckResult.objects.create(
        session=session, step=step, passed=False, duration_ms=5, created_at=started
    )
    CheckResult.objects.create(
        session=session,
        step=step,
        passed=True,
        duration_ms=5,
        created_at=started + timedelta(minutes=12),
    )
    game_day = GameDay.objects.create(
        workshop=workshop, lab=first, fault="kill", target="api", duration_seconds=60
    )
    GameDayOutcome.objects.create(game_day=game_day, attendee=ana, result="held")
    client.force_login(instructor)
    response = client.get(csv_url(workshop))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    header, *rows = rows_of(response.content.decode("utf-8"))
    assert header[:3] == ["Display name", "Joined at", "Account claimed"]
    assert header[3:6] == [
        f"{first.title}: steps passed",
        f"{first.title}: steps",
        f"{first.title}: minutes to complete",
    ]
    assert header[-1] == "Game day"
    assert len(header) == 3 + 3 * 2 + 1
    assert [row[0] for row in rows] == ["'=cmd|' /C calc'!A0", "Bruno"]
    ana_row, bruno_row = rows
    assert ana_row[2] == "no"
    assert ana_row[3:6] == ["1", "1", "12"]
    assert ana_row[6:9] == ["0", str(second.steps.count()), ""]
    assert ana_row[-1] == "Kill a replica: Held"
    assert bruno_row[3:6] == ["0", "1", ""]
    assert bruno_row[-1] == ""


def test_headers_and_lab_titles_follow_the_workshops_language(client, make_workshop, instructor):
    workshop = make_workshop(language="es")
    services.attendee_join(workshop=workshop, display_name="Ana")
    client.force_login(instructor)
    text = client.get(csv_url(workshop)).content.decode("utf-8")  # asked in English
    header = rows_of(text)[0]
    lab = workshop.ordered_labs()[0]
    with translation.override("es"):
        spanish_title = str(lab.title)
        assert header[0] == translation.gettext("Display name")
    assert header[3].startswith(spanish_title)
    assert spanish_title != lab.title_en


def test_only_the_workshops_instructors_may_download_it(client, make_workshop):
    workshop = make_workshop()
    attendee, _ = services.attendee_join(workshop=workshop, display_name="Ana")
    for person in (UserFactory(), attendee.user, make_instructor(username="another")):
        client.force_login(person)
        assert client.get(csv_url(workshop)).status_code == 404
    client.logout()
    assert client.get(csv_url(workshop)).status_code == 302
