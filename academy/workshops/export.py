"""The workshop's results as CSV, for its instructors: one row per attendee.

Columns: display name, joined at, claimed; per lab, the steps passed, the lab's steps and the
minutes to complete it; the game-day outcomes. Headers are in the workshop's language, times on
the venue's clock; UTF-8 with a byte-order mark, so that Excel reads accents right. Anything an
attendee wrote (the display name) is neutralised against formula injection: a cell that starts
with = + - @, a tab or a carriage return gets a leading apostrophe (OWASP's advice), so a
spreadsheet shows it as text and never runs it.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections import defaultdict
from datetime import datetime, tzinfo

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from academy.workshops.models import Attendee, GameDayOutcome, Workshop
from labs.models import CheckResult, Lab, LabSession

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading formula character is quoted away."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _zone(workshop: Workshop) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(workshop.time_zone)
    except (ValueError, KeyError):
        return timezone.get_fixed_timezone(0)


def _lab_results(*, attendee: Attendee, lab: Lab, steps: int) -> tuple[int, str]:
    """Steps passed in the lab since joining, and the minutes from the first start to the
    moment every step had passed ("" while not completed)."""
    sessions = LabSession.objects.filter(
        user=attendee.user, lab=lab, requested_at__gte=attendee.joined_at
    )
    first_pass: dict[int, datetime] = {}
    for step_id, created_at in (
        CheckResult.objects.filter(session__in=sessions, passed=True)
        .order_by("created_at")
        .values_list("step_id", "created_at")
    ):
        first_pass.setdefault(step_id, created_at)
    passed = len(first_pass)
    minutes = ""
    if steps and passed >= steps:
        started = sessions.order_by("requested_at").values_list("requested_at", flat=True).first()
        if started is not None:
            seconds = (max(first_pass.values()) - started).total_seconds()
            minutes = str(max(0, round(seconds / 60)))
    return passed, minutes


def _outcomes(workshop: Workshop) -> dict[int, list[str]]:
    """Each attendee's game-day outcomes, oldest game day first: "Kill a replica: Held"."""
    found: dict[int, list[str]] = defaultdict(list)
    rows = (
        GameDayOutcome.objects.filter(game_day__workshop=workshop)
        .select_related("game_day")
        .order_by("game_day__created_at", "game_day__pk")
    )
    for outcome in rows:
        found[outcome.attendee_id].append(
            _("%(fault)s: %(result)s")
            % {
                "fault": outcome.game_day.get_fault_display(),
                "result": outcome.get_result_display(),
            }
        )
    return found


def workshop_results_csv(*, workshop: Workshop) -> str:
    """The CSV text (with its byte-order mark), in the workshop's language."""
    labs = [(lab, lab.steps.count()) for lab in workshop.ordered_labs()]
    zone = _zone(workshop)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    with translation.override(workshop.language):
        header = [_("Display name"), _("Joined at"), _("Account claimed")]
        for lab, _steps in labs:
            header += [
                # Translators: a CSV column; the lab's title comes first.
                _("%(lab)s: steps passed") % {"lab": lab.title},
                _("%(lab)s: steps") % {"lab": lab.title},
                _("%(lab)s: minutes to complete") % {"lab": lab.title},
            ]
        header.append(_("Game day"))
        writer.writerow([csv_cell(cell) for cell in header])
        outcomes = _outcomes(workshop)
        yes, no = _("yes"), _("no")
        attendees = workshop.attendees.select_related("user").order_by("joined_at", "pk")
        for attendee in attendees:
            joined = timezone.localtime(attendee.joined_at, zone).strftime("%Y-%m-%d %H:%M")
            row: list[object] = [attendee.display_name, joined, yes if attendee.claimed else no]
            for lab, steps in labs:
                passed, minutes = _lab_results(attendee=attendee, lab=lab, steps=steps)
                row += [passed, steps, minutes]
            row.append("; ".join(outcomes.get(attendee.pk, [])))
            writer.writerow([csv_cell(cell) for cell in row])
    return buffer.getvalue()


def workshop_results_filename(*, workshop: Workshop) -> str:
    return f"{workshop.slug}-results.csv"
