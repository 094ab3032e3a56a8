"""Item statistics and attempt exports for staff: read-only selectors over the attempt rows.

Only graded attempts count towards the item statistics: an attempt in progress or still being
graded has answers that may change or a score that is not final.

How a candidate's strength is measured
--------------------------------------
Each candidate draws a different set of items, so strength is the *proportion* of the
attempt's drawn questions answered correctly, not a count. For each item it is taken as the
**rest score**: the proportion correct over the attempt's *other* questions, leaving the item
itself out. With 20 questions an item is 5% of the total and would otherwise correlate with
itself; the rest score removes that inflation (the "corrected item-total" of classical test
theory). Practical tasks are left out of the criterion: they are few, scored on their own
scale and measure something else than the item pool does.

Discrimination: both indices, for different readers
---------------------------------------------------
* ``discrimination`` is the upper-lower index **D = p_upper - p_lower**: among the candidates
  who drew the item, ranked by rest score, the top and bottom 27% (Kelley's groups; ties at the
  cut broken by the earlier attempt). It reads plainly ("the strong candidates got it right 80%
  of the time, the weak ones 30%"), is robust to outliers and is what item writers are taught,
  so the flags use it.
* ``point_biserial`` is the Pearson correlation between answering the item right (1/0) and the
  rest score, over every candidate who drew it. It uses the whole middle of the distribution
  that D throws away, so it is steadier with few attempts; it is shown beside D as a second
  opinion, not flagged on.

Both are ``None`` when they cannot be computed (too few candidates, or everyone alike).

Flags wait for ``min_draws`` draws (default ``MIN_DRAWS``): a proportion over three candidates
says nothing yet, and an item drawn fewer times is flagged ``few_draws`` instead.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from academy.certifications.models import (
    Attempt,
    AttemptQuestion,
    Certification,
    Domain,
    Item,
    Option,
)

# Thresholds of the flags (classical test theory's usual rules of thumb).
TOO_EASY_ABOVE = 0.9  # p above this: nearly everyone gets it right
TOO_HARD_BELOW = 0.3  # p below this: most candidates get it wrong
LOW_DISCRIMINATION_BELOW = 0.2  # D below this: strong and weak candidates barely differ
MIN_DRAWS = 10  # draws before an item (or an unpicked option) is judged
# Share of the ranked candidates in each of the upper and lower groups of D.
DISCRIMINATION_GROUP = Decimal("0.27")


class ItemFlag(models.TextChoices):
    FEW_DRAWS = "few_draws", _("Too few draws to judge")
    TOO_EASY = "too_easy", _("Too easy")
    TOO_HARD = "too_hard", _("Too hard")
    LOW_DISCRIMINATION = "low_discrimination", _("Low discrimination")
    NEGATIVE_DISCRIMINATION = "negative_discrimination", _("Negative discrimination")
    UNPICKED_DISTRACTOR = "unpicked_distractor", _("A distractor nobody picks")


@dataclass
class OptionStatistic:
    option: Option
    # Times the option was shown (it is in the question's option order) and picked.
    offered: int = 0
    picked: int = 0
    # Picks within the upper and lower groups of D: a working distractor draws the weak.
    picked_upper: int = 0
    picked_lower: int = 0
    unpicked: bool = False

    @property
    def is_correct(self) -> bool:
        return self.option.is_correct

    @property
    def share(self) -> float | None:
        return self.picked / self.offered if self.offered else None


@dataclass
class ItemStatistic:
    item: Item
    drawn: int = 0
    answered: int = 0
    correct: int = 0
    difficulty: float | None = None  # p: proportion of the draws answered correctly
    discrimination: float | None = None  # D = p_upper - p_lower
    group_size: int = 0  # candidates in each of the upper and lower groups
    point_biserial: float | None = None
    options: list[OptionStatistic] = field(default_factory=list)
    flags: list[ItemFlag] = field(default_factory=list)

    @property
    def domain(self) -> Domain:
        return self.item.domain


def _graded_attempts(*, certification: Certification, since: datetime | None) -> QuerySet[Attempt]:
    attempts = Attempt.objects.finished().filter(certification=certification)
    if since is not None:
        attempts = attempts.filter(started_at__gte=since)
    return attempts


def _group_size(count: int) -> int:
    """Kelley's 27% of ``count``, rounded half up; 0 when there is nobody to compare."""
    if count < 2:
        return 0
    size = int((DISCRIMINATION_GROUP * count).to_integral_value(rounding=ROUND_HALF_UP))
    return max(1, size)


def _point_biserial(correct: list[bool], rest: list[float]) -> float | None:
    count = len(rest)
    if count < 2:
        return None
    right = [score for score, ok in zip(rest, correct, strict=True) if ok]
    wrong = [score for score, ok in zip(rest, correct, strict=True) if not ok]
    if not right or not wrong:
        return None
    mean = sum(rest) / count
    deviation = math.sqrt(sum((score - mean) ** 2 for score in rest) / count)
    if deviation == 0:
        return None
    p = len(right) / count
    mean_right = sum(right) / len(right)
    mean_wrong = sum(wrong) / len(wrong)
    return (mean_right - mean_wrong) / deviation * math.sqrt(p * (1 - p))


def item_statistics(
    *,
    certification: Certification,
    since: datetime | None = None,
    min_draws: int = MIN_DRAWS,
) -> list[ItemStatistic]:
    """Per item of ``certification``: draws, p, D, the point-biserial, option picks, flags.

    Over graded attempts started at or after ``since``. Lists every published item (those never
    drawn with zero draws) and retired items that were drawn, by domain and order. Three
    queries, whatever the number of items or attempts: the items, their options, and the
    attempt questions, read once.
    """
    items = list(
        Item.objects.filter(certification=certification)
        .select_related("domain")
        .prefetch_related("options")
    )
    rows = (
        AttemptQuestion.objects.filter(
            attempt__in=_graded_attempts(certification=certification, since=since)
        )
        .order_by()
        .values_list("attempt_id", "item_id", "option_order", "selected", "correct")
    )

    # attempt id -> [questions, correct]; item id -> its draws.
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    draws: dict[int, list[tuple[int, bool, list[Any], list[Any]]]] = defaultdict(list)
    for attempt_id, item_id, option_order, selected, correct in rows.iterator(chunk_size=2000):
        ok = bool(correct)
        totals[attempt_id][0] += 1
        totals[attempt_id][1] += ok
        draws[item_id].append((attempt_id, ok, option_order or [], selected or []))

    statistics = []
    for item in items:
        item_draws = draws.get(item.pk, [])
        if item.retired_at is not None and not item_draws:
            continue
        statistics.append(
            _item_statistic(item=item, draws=item_draws, totals=totals, min_draws=min_draws)
        )
    return statistics


def _item_statistic(
    *,
    item: Item,
    draws: list[tuple[int, bool, list[Any], list[Any]]],
    totals: dict[int, list[int]],
    min_draws: int,
) -> ItemStatistic:
    options = {option.pk: OptionStatistic(option=option) for option in item.options.all()}
    statistic = ItemStatistic(item=item, options=list(options.values()))
    statistic.drawn = len(draws)
    statistic.correct = sum(ok for _attempt, ok, _order, _selected in draws)
    statistic.answered = sum(bool(selected) for _attempt, _ok, _order, selected in draws)
    if draws:
        statistic.difficulty = statistic.correct / statistic.drawn

    # Rest scores of the candidates who drew the item and answered at least one other question.
    ranked = []
    for attempt_id, ok, _order, selected in draws:
        questions, right = totals[attempt_id]
        if questions > 1:
            ranked.append(((right - ok) / (questions - 1), attempt_id, ok, selected))
    ranked.sort(key=lambda row: (-row[0], row[1]))
    size = _group_size(len(ranked))
    upper, lower = ranked[:size], ranked[len(ranked) - size :]
    if size:
        statistic.group_size = size
        p_upper = sum(row[2] for row in upper) / size
        p_lower = sum(row[2] for row in lower) / size
        statistic.discrimination = p_upper - p_lower
    statistic.point_biserial = _point_biserial(
        [row[2] for row in ranked], [row[0] for row in ranked]
    )

    for _attempt, _ok, order, selected in draws:
        for option_id in set(order):
            if option_id in options:
                options[option_id].offered += 1
        for option_id in set(selected):
            if option_id in options:
                options[option_id].picked += 1
    for group, attribute in ((upper, "picked_upper"), (lower, "picked_lower")):
        for _rest, _attempt, _ok, selected in group:
            for option_id in set(selected):
                if option_id in options:
                    option = options[option_id]
                    setattr(option, attribute, getattr(option, attribute) + 1)
    for option in statistic.options:
        option.unpicked = option.offered >= min_draws and option.picked == 0

    statistic.flags = _flags(statistic=statistic, min_draws=min_draws)
    return statistic


def _flags(*, statistic: ItemStatistic, min_draws: int) -> list[ItemFlag]:
    if statistic.drawn < min_draws:
        return [ItemFlag.FEW_DRAWS]
    flags = []
    p = statistic.difficulty
    if p is not None and p > TOO_EASY_ABOVE:
        flags.append(ItemFlag.TOO_EASY)
    if p is not None and p < TOO_HARD_BELOW:
        flags.append(ItemFlag.TOO_HARD)
    d = statistic.discrimination
    if d is not None and d < 0:
        flags.append(ItemFlag.NEGATIVE_DISCRIMINATION)
    elif d is not None and d < LOW_DISCRIMINATION_BELOW:
        flags.append(ItemFlag.LOW_DISCRIMINATION)
    if any(option.unpicked and not option.is_correct for option in statistic.options):
        flags.append(ItemFlag.UNPICKED_DISTRACTOR)
    return flags


# --- Overview --------------------------------------------------------------------------------


@dataclass
class CertificationOverview:
    certification: Certification
    attempts: int
    in_progress: int
    graded: int
    passed: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None

    @property
    def pass_percent(self) -> int | None:
        return round(100 * self.passed / self.graded) if self.graded else None


def certifications_overview() -> list[CertificationOverview]:
    """Every certification (retired ones too) with its attempt counts: one query."""
    certifications = Certification.objects.annotate(
        attempt_count=Count("attempts"),
        in_progress_count=Count("attempts", filter=Q(attempts__state=Attempt.State.IN_PROGRESS)),
        graded_count=Count("attempts", filter=Q(attempts__state=Attempt.State.GRADED)),
        passed_count=Count(
            "attempts", filter=Q(attempts__state=Attempt.State.GRADED, attempts__passed=True)
        ),
    )
    return [
        CertificationOverview(
            certification=certification,
            attempts=certification.attempt_count,
            in_progress=certification.in_progress_count,
            graded=certification.graded_count,
            passed=certification.passed_count,
        )
        for certification in certifications
    ]


def graded_attempt_count(*, certification: Certification, since: datetime | None = None) -> int:
    return _graded_attempts(certification=certification, since=since).count()


# --- Attempts as CSV rows --------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def _percent(points: object, possible: object) -> int | str:
    """A whole percentage, rounded as the candidate's result page rounds it (and a whole number
    because "66.7" reads as text in a Spanish Excel)."""
    if not isinstance(points, int | float) or not isinstance(possible, int | float):
        return ""
    if possible <= 0:
        return ""
    return round(100 * points / possible)


def attempts_csv_rows(
    *, certification: Certification, since: datetime | None = None
) -> Iterator[list[str | int]]:
    """The header, then one row per attempt of ``certification`` (every state), newest first.

    One column per domain of the certification with the attempt's percentage in it (empty when
    the attempt has no score there yet). Cells are plain values: escaping against formulas is
    the writer's job. Header labels are in the active language.
    """
    domains = list(Domain.objects.filter(certification=certification).order_by("order", "pk"))
    yield [
        gettext("Attempt"),
        gettext("Username"),
        gettext("Language"),
        gettext("Started"),
        gettext("Submitted"),
        gettext("Submitted by"),
        gettext("State"),
        gettext("Score (%)"),
        gettext("Passed"),
        gettext("Points"),
        gettext("Points possible"),
        # Translators: a CSV column: the attempt's score in one domain of the certification.
        *(gettext("%(domain)s (%%)") % {"domain": domain.title} for domain in domains),
        gettext("Certificate"),
    ]
    attempts = (
        Attempt.objects.filter(certification=certification)
        .select_related("user", "certificate")
        .order_by("-started_at", "-pk")
    )
    if since is not None:
        attempts = attempts.filter(started_at__gte=since)
    yes, no = gettext("yes"), gettext("no")
    for attempt in attempts.iterator(chunk_size=500):
        scores = {
            entry.get("domain"): entry
            for entry in attempt.domain_scores or []
            if isinstance(entry, dict)
        }
        certificate = getattr(attempt, "certificate", None)
        yield [
            str(attempt.public_id),
            attempt.user.get_username(),
            attempt.language,
            _when(attempt.started_at),
            _when(attempt.submitted_at),
            attempt.get_submitted_by_display() if attempt.submitted_by else "",
            attempt.get_state_display(),
            "" if attempt.score is None else attempt.score,
            "" if attempt.passed is None else (yes if attempt.passed else no),
            "" if attempt.points is None else attempt.points,
            "" if attempt.points_possible is None else attempt.points_possible,
            *(
                _percent(
                    scores.get(domain.key, {}).get("points"),
                    scores.get(domain.key, {}).get("possible"),
                )
                for domain in domains
            ),
            str(certificate.public_id) if certificate else "",
        ]


def _figure(value: float | None) -> float | str:
    # A number, not text: a negative D must not look like a formula to the CSV writer.
    return "" if value is None else round(value, 3)


def item_statistics_csv_rows(
    *, statistics: list[ItemStatistic]
) -> Iterator[list[str | int | float]]:
    """The header, then one row per item of ``item_statistics``' result.

    Options go in one cell, as "key: picked/offered", the correct ones marked with an asterisk.
    Figures use a decimal point whatever the language: the file is for spreadsheets and scripts.
    """
    yield [
        gettext("Domain"),
        gettext("Item"),
        gettext("Kind"),
        gettext("Retired"),
        gettext("Drawn"),
        gettext("Answered"),
        gettext("Correct"),
        gettext("Difficulty (p)"),
        gettext("Discrimination (D)"),
        gettext("Group size"),
        gettext("Point-biserial"),
        gettext("Options (picked/offered, * correct)"),
        gettext("Flags"),
        gettext("Prompt"),
    ]
    yes, no = gettext("yes"), gettext("no")
    for statistic in statistics:
        item = statistic.item
        yield [
            statistic.domain.key,
            item.key,
            item.get_kind_display(),
            yes if item.retired_at else no,
            statistic.drawn,
            statistic.answered,
            statistic.correct,
            _figure(statistic.difficulty),
            _figure(statistic.discrimination),
            statistic.group_size,
            _figure(statistic.point_biserial),
            "; ".join(
                f"{option.option.key}{'*' if option.is_correct else ''}: "
                f"{option.picked}/{option.offered}"
                for option in statistic.options
            ),
            "; ".join(str(flag.label) for flag in statistic.flags),
            item.prompt,
        ]
