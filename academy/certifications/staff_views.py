"""Staff pages of the certifications: item statistics and CSV exports.

Staff only. A visitor who is not signed in is sent to sign in; a signed-in user who is not
staff gets a 404, so the pages do not even admit that they exist.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, time
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec, TypeVar

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from academy.accounts.typing import AuthenticatedRequest, authenticated, signed_in
from academy.certifications import statistics as stats
from academy.certifications.models import Certification

_P = ParamSpec("_P")


def staff_required(
    view: Callable[Concatenate[AuthenticatedRequest, _P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponseBase]:
    def wrapper(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponseBase:
        user = signed_in(request.user)
        if user is None:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise Http404
        return view(authenticated(request), *args, **kwargs)

    update_wrapper(wrapper, view)  # not @wraps: typeshed's _Wrapped loses the signature
    return wrapper


class SinceForm(forms.Form):
    since = forms.DateField(
        label=_("Attempts started on or after"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _since(request: HttpRequest) -> tuple[SinceForm, datetime | None]:
    """The ?since= date as the start of that day in the site's time zone; an invalid one is
    shown as an error on the form and ignored."""
    form = SinceForm(request.GET or None)
    if form.is_valid() and form.cleaned_data["since"]:
        since = datetime.combine(form.cleaned_data["since"], time.min)
        return form, timezone.make_aware(since)
    return form, None


def _certification(key: str) -> Certification:
    return get_object_or_404(Certification, key=key)


# --- CSV -------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


_Cell = TypeVar("_Cell")


def csv_cell(value: _Cell) -> _Cell | str:
    """Neutralise a text cell a spreadsheet would run as a formula: prefix an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line: csv.writer writes, the response
    streams (the pattern of Django's documentation for large CSV files)."""

    def write(self, value: str) -> str:
        return value


def _csv_response(*, rows: Iterable[Sequence[object]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    # The generator runs after the view has returned: keep the request's language for it.
    language = translation.get_language()

    def stream() -> Iterator[str]:
        yield "\ufeff"  # the BOM: without it Excel reads UTF-8 as Windows-1252
        with translation.override(language):
            for row in rows:
                yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _filename(certification: Certification, what: str) -> str:
    return f"{certification.key}-{what}-{timezone.localdate():%Y-%m-%d}.csv"


# --- Sorting ---------------------------------------------------------------------------------


def _domain_order(statistic: stats.ItemStatistic) -> tuple[int, int, int, int]:
    return (statistic.domain.order, statistic.domain.pk, statistic.item.order, statistic.item.pk)


# The only sort keys accepted; "-key" sorts the other way. Missing figures always go last.
# Each column's own kind of value (a tuple, a text, a count, a figure or None).
SORTS: dict[str, Callable[[stats.ItemStatistic], Any]] = {
    "domain": _domain_order,
    "item": lambda statistic: statistic.item.key,
    "drawn": lambda statistic: statistic.drawn,
    "p": lambda statistic: statistic.difficulty,
    "d": lambda statistic: statistic.discrimination,
    "r": lambda statistic: statistic.point_biserial,
    "flags": lambda statistic: len(statistic.flags),
}
DEFAULT_SORT = "domain"


def _sorted(
    statistics: list[stats.ItemStatistic], sort: str
) -> tuple[list[stats.ItemStatistic], str]:
    descending = sort.startswith("-")
    name = sort.removeprefix("-")
    if name not in SORTS:
        name, descending = DEFAULT_SORT, False
    key = SORTS[name]
    # Ties keep the domain order, whichever way the column sorts.
    statistics = sorted(statistics, key=_domain_order)
    present = [statistic for statistic in statistics if key(statistic) is not None]
    missing = [statistic for statistic in statistics if key(statistic) is None]
    present.sort(key=key, reverse=descending)
    return present + missing, ("-" if descending else "") + name


# --- Views -----------------------------------------------------------------------------------


@staff_required
def index(request: AuthenticatedRequest) -> HttpResponse:
    return render(
        request,
        "certifications/staff/index.html",
        {"overviews": stats.certifications_overview()},
    )


@staff_required
def statistics(request: AuthenticatedRequest, key: str) -> HttpResponse:
    certification = _certification(key)
    form, since = _since(request)
    items, sort = _sorted(
        stats.item_statistics(certification=certification, since=since),
        request.GET.get("sort", DEFAULT_SORT),
    )
    columns = [
        ("item", _("Item")),
        ("drawn", _("Drawn")),
        ("p", _("Difficulty (p)")),
        ("d", _("Discrimination (D)")),
        ("r", _("Point-biserial")),
        ("flags", _("Flags")),
    ]
    context = {
        "certification": certification,
        "form": form,
        "since": since,
        "items": items,
        "sort": sort,
        "columns": [
            {
                "name": name,
                "label": label,
                # The column's link sorts it; on the sorted column it turns the order round.
                "next": f"-{name}" if sort == name else name,
                "current": "descending"
                if sort == f"-{name}"
                else ("ascending" if sort == name else ""),
            }
            for name, label in columns
        ],
        "graded": stats.graded_attempt_count(certification=certification, since=since),
        "flagged": sum(1 for statistic in items if statistic.flags),
        "thresholds": {
            "too_easy": stats.TOO_EASY_ABOVE,
            "too_hard": stats.TOO_HARD_BELOW,
            "low_discrimination": stats.LOW_DISCRIMINATION_BELOW,
            "min_draws": stats.MIN_DRAWS,
            "group": int(stats.DISCRIMINATION_GROUP * 100),
        },
    }
    return render(request, "certifications/staff/statistics.html", context)


@staff_required
def attempts_csv(request: AuthenticatedRequest, key: str) -> StreamingHttpResponse:
    certification = _certification(key)
    _form, since = _since(request)
    return _csv_response(
        rows=stats.attempts_csv_rows(certification=certification, since=since),
        filename=_filename(certification, "attempts"),
    )


@staff_required
def statistics_csv(request: AuthenticatedRequest, key: str) -> StreamingHttpResponse:
    certification = _certification(key)
    _form, since = _since(request)
    items = stats.item_statistics(certification=certification, since=since)
    return _csv_response(
        rows=stats.item_statistics_csv_rows(statistics=items),
        filename=_filename(certification, "item-statistics"),
    )
