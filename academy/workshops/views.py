"""Workshop pages: the instructor's list, form, room page and projector; joining, resuming and
the attendee's home; claiming a guest account; the public page. Views parse input and call
services and selectors."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import timedelta, tzinfo
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from academy.accounts.throttle import throttle_claim, throttle_failure, throttle_release
from academy.accounts.typing import AuthenticatedRequest, authenticated
from academy.net import client_ip
from academy.workshops import selectors, services, throttle
from academy.workshops.forms import (
    ClaimForm,
    DisplayNameForm,
    JoinCodeForm,
    ResumeForm,
    WorkshopForm,
)
from academy.workshops.models import DISPLAY_NAME_MAX_LENGTH, Attendee, Workshop

RESUME_SESSION_KEY = "workshop_resume_code"
BACKEND = "django.contrib.auth.backends.ModelBackend"


_P = ParamSpec("_P")


def instructor_required(
    view: Callable[Concatenate[AuthenticatedRequest, _P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponseBase]:
    """Signed in, and an instructor; anyone else finds nothing here (404, like others' labs)."""

    def wrapped(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponseBase:
        if not selectors.user_is_instructor(request.user):
            raise Http404
        return view(authenticated(request), *args, **kwargs)

    update_wrapper(wrapped, view)  # not @wraps: typeshed's _Wrapped loses the signature
    return login_required(wrapped)


def _in_language(language: str, name: str, **kwargs: object) -> str:
    with translation.override(language):
        return reverse(name, kwargs=kwargs or None)


def _times(workshop: Workshop) -> dict[str, str]:
    """The workshop's date and times on the venue's clock, in the active language."""
    zone: tzinfo
    try:
        zone = zoneinfo.ZoneInfo(workshop.time_zone)
    except (ValueError, KeyError):
        zone = timezone.get_fixed_timezone(0)
    starts = timezone.localtime(workshop.starts_at, zone)
    ends = timezone.localtime(workshop.ends_at, zone)
    return {
        "date": formats.date_format(starts, "DATE_FORMAT"),
        "starts": formats.time_format(starts, "TIME_FORMAT"),
        "ends": formats.time_format(ends, "TIME_FORMAT"),
        "ends_date": ""
        if ends.date() == starts.date()
        else formats.date_format(ends, "DATE_FORMAT"),
        "zone": workshop.time_zone,
        "iso": starts.isoformat(),
    }


# --- Instructors --------------------------------------------------------------------------------


@instructor_required
def instructor_list(request: AuthenticatedRequest) -> HttpResponse:
    workshops = list(selectors.workshops_for_instructor(user=request.user))
    rows = [(workshop, _times(workshop)) for workshop in workshops]
    return render(request, "workshops/instructor_list.html", {"rows": rows})


def _form_services_kwargs(form: WorkshopForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "language": data["language"],
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "time_zone": data["time_zone"],
        "course": data["course"],
        "labs": data["labs"],
        "capacity": data["capacity"],
        "co_instructors": data["co_instructors"],
    }


def _form_page(request: HttpRequest, form: WorkshopForm, workshop: Workshop | None) -> HttpResponse:
    return render(
        request,
        "workshops/workshop_form.html",
        {"form": form, "workshop": workshop, "lab_courses": form.lab_courses()},
    )


def _apply_error(form: WorkshopForm, error: services.WorkshopError) -> None:
    field = error.code if error.code in form.fields else None
    form.add_error(field, error.message)


@instructor_required
def workshop_create(request: AuthenticatedRequest) -> HttpResponse:
    form = WorkshopForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            workshop = services.workshop_create(
                created_by=request.user, **_form_services_kwargs(form)
            )
        except services.WorkshopError as error:
            _apply_error(form, error)
        else:
            messages.success(
                request,
                _("The workshop is ready. Its join code is %(code)s.") % {"code": workshop.code},
            )
            return redirect("workshops:manage", pk=workshop.pk)
    return _form_page(request, form, None)


@instructor_required
def workshop_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    form = WorkshopForm(request.POST or None, user=request.user, workshop=workshop)
    if request.method == "POST" and form.is_valid():
        try:
            services.workshop_update(
                workshop=workshop, by=request.user, **_form_services_kwargs(form)
            )
        except services.WorkshopError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("Your changes to the workshop are saved."))
            return redirect("workshops:manage", pk=workshop.pk)
    return _form_page(request, form, workshop)


def _join_url(workshop: Workshop) -> str:
    return settings.SITE_URL + _in_language(
        workshop.language, "workshops:join_code", code=workshop.code
    )


def _qr_svg(url: str) -> str:
    # Black on white whatever the theme: phones read a QR code best that way.
    return segno.make(url, error="m", micro=False).svg_inline(
        scale=8,
        border=2,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="workshop-qr",
        lineclass=None,
    )


@instructor_required
def instructor_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    context = {
        "workshop": workshop,
        "times": _times(workshop),
        "labs": workshop.ordered_labs(),
        "attendees": list(workshop.attendees.order_by("joined_at", "pk")),
        "instructors": list(workshop.instructors.order_by("username")),
        "join_url": _join_url(workshop),
        "join_refusal": services.join_refusal(workshop=workshop),
    }
    return render(request, "workshops/instructor_detail.html", context)


@instructor_required
@require_POST
def attendee_resume_code_renew(
    request: AuthenticatedRequest, pk: int, attendee_id: int
) -> HttpResponse:
    """A fresh resume code for an attendee who lost theirs, read out by the instructor: no
    guessing, so no throttle."""
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    attendee = workshop.attendees.filter(pk=attendee_id).first()
    if attendee is None:
        raise Http404
    code = services.attendee_resume_code_renew(attendee=attendee)
    messages.success(
        request,
        _("New resume code for “%(name)s”: %(code)s. Their old one no longer works.")
        % {"name": attendee.display_name, "code": code},
    )
    return redirect("workshops:manage", pk=workshop.pk)


@instructor_required
def projector(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    if translation.get_language() != workshop.language:
        # The room's language, whatever the instructor reads in.
        return HttpResponseRedirect(_in_language(workshop.language, "workshops:projector", pk=pk))
    join_url = _join_url(workshop)
    short = settings.SITE_URL.split("://", 1)[-1] + _in_language(
        workshop.language, "workshops:join"
    )
    context = {
        "workshop": workshop,
        "times": _times(workshop),
        "qr_svg": mark_safe(_qr_svg(join_url)),  # segno's own SVG of our own URL
        "join_url": join_url,
        "short_url": short,
        "code_spaced": f"{workshop.code[:3]} {workshop.code[3:]}",
    }
    return render(request, "workshops/projector.html", context)


# --- Joining ------------------------------------------------------------------------------------


def _too_many(response: HttpResponse, wait: int) -> HttpResponse:
    if wait:
        response.status_code = 429
        response["Retry-After"] = str(wait)
    return response


def _find_open_workshop(request: HttpRequest, code: str) -> tuple[Workshop | None, str, int]:
    """The open workshop with this code; a code that matches none counts against the address."""
    keys = throttle.code_keys(address=client_ip(request))
    wait = throttle_claim(keys)
    if wait:
        return None, throttle.wait_message(wait), wait
    workshop = selectors.workshop_get_open_by_code(code=code)
    if workshop is None:
        throttle_failure(keys)
        shown = selectors.join_code_normalize(code)[:12]
        return (
            None,
            _("No open workshop has the code “%(code)s”. Check it on the projector.")
            % {"code": shown},
            0,
        )
    throttle_release(keys)
    return workshop, "", 0


def join(request: HttpRequest) -> HttpResponse:
    form = JoinCodeForm(request.POST or None)
    wait = 0
    if request.method == "POST" and form.is_valid():
        workshop, error, wait = _find_open_workshop(request, form.cleaned_data["code"])
        if workshop is not None:
            return redirect("workshops:join_code", code=workshop.code)
        form.add_error("code", error)
    context = {"form": form, "current": selectors.attendance_current(user=request.user)}
    return _too_many(render(request, "workshops/join.html", context), wait)


def _session_until_workshop_ends(request: HttpRequest, workshop: Workshop) -> None:
    """A guest stays signed in in this browser until the workshop is over (and a margin)."""
    until = workshop.ends_at + timedelta(hours=settings.WORKSHOP_SESSION_GRACE_HOURS)
    current = request.session.get_expiry_date()
    if request.session.get("workshop_guest") and current > until:
        return
    request.session.set_expiry(until)
    request.session["workshop_guest"] = True


def join_code(request: HttpRequest, code: str) -> HttpResponse:
    workshop, error, wait = _find_open_workshop(request, code)
    if workshop is None:
        code_form = JoinCodeForm(initial={"code": selectors.join_code_normalize(code)[:12]})
        context = {"form": code_form, "code_error": error, "current": None}
        response = render(request, "workshops/join.html", context)
        response.status_code = 404
        return _too_many(response, wait)
    if code != workshop.code:  # typed in lower case, or with a space
        return redirect("workshops:join_code", code=workshop.code)
    attendee = selectors.attendee_for(workshop=workshop, user=request.user)
    if attendee is not None:  # the same browser, back again
        return HttpResponseRedirect(
            _in_language(translation.get_language(), "workshops:home", slug=workshop.slug)
        )
    form = DisplayNameForm(request.POST or None)
    refusal = services.join_refusal(workshop=workshop)
    wait = 0
    if request.method == "POST" and refusal is None and form.is_valid():
        keys = throttle.join_keys(address=client_ip(request))
        wait = throttle_claim(keys)
        if wait:
            form.add_error(None, throttle.wait_message(wait))
        else:
            try:
                user = request.user if request.user.is_authenticated else None
                attendee, resume_code = services.attendee_join(
                    workshop=workshop, display_name=form.cleaned_data["display_name"], user=user
                )
            except services.WorkshopError as error:
                throttle_release(keys)
                if error.code == "closed":
                    refusal = error.message
                else:
                    # The suggestion, or what was typed (bounded: a 10 KB name is not echoed).
                    typed = form.cleaned_data["display_name"][: DISPLAY_NAME_MAX_LENGTH * 2]
                    form = DisplayNameForm({"display_name": error.suggestion or typed})
                    form.errors.clear()
                    form.add_error("display_name", error.message)
            else:
                throttle_failure(keys)  # every join counts, like a password-reset request
                return _joined(request, attendee, resume_code)
    context = {"workshop": workshop, "times": _times(workshop), "form": form, "refusal": refusal}
    return _too_many(render(request, "workshops/join_name.html", context), wait)


def _joined(request: HttpRequest, attendee: Attendee, resume_code: str) -> HttpResponse:
    workshop = attendee.workshop
    if not request.user.is_authenticated:
        login(request, attendee.user, backend=BACKEND)
    if not attendee.claimed:
        _session_until_workshop_ends(request, workshop)
    request.session[RESUME_SESSION_KEY] = {"attendee": attendee.pk, "code": resume_code}
    language = workshop.language if not attendee.claimed else translation.get_language()
    response = redirect(_in_language(language, "workshops:home", slug=workshop.slug))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        # A str setting to django-stubs; set_cookie takes one of its literals.
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
        secure=getattr(settings, "LANGUAGE_COOKIE_SECURE", False),
    )
    return response


def resume(request: HttpRequest) -> HttpResponse:
    form = ResumeForm(request.POST or None)
    wait = 0
    if request.method == "POST" and form.is_valid():
        workshop, error, wait = _find_open_workshop(request, form.cleaned_data["code"])
        if workshop is None:
            form.add_error("code", error)
        else:
            keys = throttle.resume_keys(address=client_ip(request), workshop_id=workshop.pk)
            wait = throttle_claim(keys)
            if wait:
                form.add_error(None, throttle.wait_message(wait))
            else:
                attendee = services.attendee_resume(
                    workshop=workshop, resume_code=form.cleaned_data["resume_code"]
                )
                if attendee is None:
                    throttle_failure(keys)
                    form.add_error(
                        "resume_code",
                        _("That resume code is not right for this workshop. Check each character."),
                    )
                else:
                    throttle_release(keys)
                    login(request, attendee.user, backend=BACKEND)
                    if not attendee.claimed:
                        _session_until_workshop_ends(request, workshop)
                    messages.success(
                        request, _("Welcome back, %(name)s.") % {"name": attendee.display_name}
                    )
                    return redirect("workshops:home", slug=workshop.slug)
    return _too_many(render(request, "workshops/resume.html", {"form": form}), wait)


# --- Attendees ----------------------------------------------------------------------------------


def _own_attendee(request: HttpRequest, slug: str) -> Attendee:
    workshop = selectors.workshop_get_public(slug=slug)
    attendee = selectors.attendee_for(workshop=workshop, user=request.user)
    if attendee is None:
        raise Http404
    attendee.workshop = workshop
    return attendee


@login_required
def home(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    attendee = _own_attendee(request, slug)
    now = timezone.now()
    if attendee.last_seen_at is None or (now - attendee.last_seen_at).total_seconds() > 60:
        Attendee.objects.filter(pk=attendee.pk).update(last_seen_at=now)
    shown = request.session.get(RESUME_SESSION_KEY) or {}
    home = selectors.attendee_home(attendee=attendee)
    context = {
        **vars(home),
        "completed": home.completed,
        "times": _times(attendee.workshop),
        "resume_code": shown.get("code") if shown.get("attendee") == attendee.pk else None,
        "ended": selectors.workshop_has_ended(attendee.workshop, now=now),
    }
    return render(request, "workshops/home.html", context)


@login_required
@require_POST
def resume_code_hide(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    _own_attendee(request, slug)
    request.session.pop(RESUME_SESSION_KEY, None)
    return redirect("workshops:home", slug=slug)


@login_required
@require_POST
def resume_code_renew(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    attendee = _own_attendee(request, slug)
    code = services.attendee_resume_code_renew(attendee=attendee)
    request.session[RESUME_SESSION_KEY] = {"attendee": attendee.pk, "code": code}
    messages.success(request, _("Here is your new resume code. The old one no longer works."))
    return redirect("workshops:home", slug=slug)


@login_required
def claim(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    attendee = _own_attendee(request, slug)
    if attendee.claimed:
        messages.info(request, _("Your account already has an e-mail address and a password."))
        return redirect("workshops:home", slug=slug)
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.attendee_claim(
            attendee=attendee,
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        request.user.refresh_from_db()
        update_session_auth_hash(request, request.user)
        request.session.set_expiry(None)
        request.session.pop("workshop_guest", None)
        messages.success(
            request,
            _("Your account is yours now: sign in with your username and password anytime."),
        )
        return redirect("workshops:home", slug=slug)
    return render(request, "workshops/claim.html", {"form": form, "attendee": attendee})


# --- Everyone -----------------------------------------------------------------------------------


def public(request: HttpRequest, slug: str) -> HttpResponse:
    workshop = selectors.workshop_get_public(slug=slug)
    context = {
        "workshop": workshop,
        "times": _times(workshop),
        "labs": workshop.ordered_labs(),
        "ended": selectors.workshop_has_ended(workshop),
        "attendee": selectors.attendee_for(workshop=workshop, user=request.user),
    }
    return render(request, "workshops/public.html", context)


# --- Starting, ending, exporting (prewarm.py, ending.py, export.py) -----------------------------


@instructor_required
@require_POST
def start(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    try:
        services.workshop_start(workshop=workshop, by=request.user)
    except services.WorkshopError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("The workshop is live. Attendees' labs start from the warm pool.")
        )
    return redirect("workshops:manage", pk=workshop.pk)


@instructor_required
def end(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: what ending destroys, and a confirmation; POST: end it."""
    from academy.workshops import ending

    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    if request.method == "POST":
        try:
            count = services.workshop_end(workshop=workshop, by=request.user)
        except services.WorkshopError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                ngettext(
                    "The workshop has ended: %(count)d lab session is being removed.",
                    "The workshop has ended: %(count)d lab sessions are being removed.",
                    count,
                )
                % {"count": count},
            )
        return redirect("workshops:manage", pk=workshop.pk)
    context = {
        "workshop": workshop,
        "times": _times(workshop),
        "summary": ending.workshop_end_summary(workshop=workshop),
    }
    return render(request, "workshops/end_confirm.html", context)


@instructor_required
def results_csv(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    from academy.workshops import export

    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    response = HttpResponse(
        export.workshop_results_csv(workshop=workshop), content_type="text/csv; charset=utf-8"
    )
    filename = export.workshop_results_filename(workshop=workshop)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- The live board, the room's actions and the game day (issue 13, items 4 and 5) -------------
# Kept in one block; academy/workshops/board.py and gameday.py hold the logic.

from django.http import JsonResponse  # noqa: E402
from django.utils.http import url_has_allowed_host_and_scheme  # noqa: E402

from academy.workshops import board as room  # noqa: E402
from academy.workshops import gameday  # noqa: E402
from academy.workshops.models import (  # noqa: E402
    ANNOUNCEMENT_MAX_LENGTH,
    GAMEDAY_MAX_SECONDS,
    GAMEDAY_MIN_SECONDS,
    GameDay,
)


@instructor_required
def board(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    context = {
        "workshop": workshop,
        "snapshot": room.board_snapshot(workshop=workshop),
        "announcements": room.announcements_recent(workshop),
        "announcement_max": ANNOUNCEMENT_MAX_LENGTH,
        "game_day": workshop.game_days.first(),
        "board_labels": {
            "live": _("Live: updates as they happen."),
            "offline": _("Reconnecting… the board may be out of date."),
            "passed": _("Passed"),
            "failed": _("Failed"),
            "all_passed": _("All passed"),
            "clear": _("Asks for help: clear"),
            "watch": _("Watch"),
            "paused": _("Paused"),
        },
    }
    return render(request, "workshops/board.html", context)


def _room_done(
    request: HttpRequest, workshop: Workshop, text: str | None = None, *, error: bool = False
) -> HttpResponse:
    if text:
        (messages.error if error else messages.success)(request, text)
    return redirect("workshops:board", pk=workshop.pk)


@instructor_required
@require_POST
def board_announce(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    try:
        room.announcement_send(
            workshop=workshop, by=request.user, text=request.POST.get("text", "")
        )
    except room.RoomError as refusal:
        return _room_done(request, workshop, str(refusal), error=True)
    return _room_done(request, workshop, _("The announcement was sent to every attendee."))


@instructor_required
@require_POST
def board_extend(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    try:
        count = room.room_extend(workshop=workshop, by=request.user)
    except room.RoomError as refusal:
        return _room_done(request, workshop, str(refusal), error=True)
    text = ngettext(
        "%(count)d running lab session was extended.",
        "%(count)d running lab sessions were extended.",
        count,
    ) % {"count": count}
    return _room_done(request, workshop, text)


@instructor_required
@require_POST
def board_timer(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    try:
        if request.POST.get("action") == "resume":
            room.timer_resume(workshop=workshop, by=request.user)
            text = _("The room's timer runs again.")
        else:
            room.timer_pause(workshop=workshop, by=request.user)
            text = _("The room's timer is paused.")
    except room.RoomError as refusal:
        return _room_done(request, workshop, str(refusal), error=True)
    return _room_done(request, workshop, text)


@instructor_required
@require_POST
def board_help_clear(request: AuthenticatedRequest, pk: int, attendee_id: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    attendee = workshop.attendees.filter(pk=attendee_id).first()
    if attendee is None:
        raise Http404
    room.help_clear(workshop=workshop, attendee=attendee, by=request.user)
    return _room_done(request, workshop)


@login_required
@require_POST
def help_toggle(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """The attendee's "Ask for help" button: only ever their own hand, in their own workshop."""
    attendee = _own_attendee(request, slug)
    try:
        raised = room.help_toggle(attendee=attendee)
    except room.RoomError as refusal:
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"error": str(refusal)}, status=429)
        messages.error(request, str(refusal))
        raised = None
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"help": raised})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = reverse("workshops:home", kwargs={"slug": slug})
    return HttpResponseRedirect(back)


@instructor_required
def gameday_new(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    labs = gameday.game_day_labs(workshop)
    error = ""
    if request.method == "POST":
        lab_id, _sep, choice = request.POST.get("fault", "").partition(":")
        fault, _sep, target = choice.partition(":")
        lab = next((lab for lab, _c in labs if str(lab.pk) == lab_id), None)
        try:
            duration = int(request.POST.get("duration", ""))
        except ValueError:
            duration = -1
        if lab is None:
            error = _("Pick a fault in one of the workshop's labs.")
        else:
            try:
                game_day = gameday.game_day_start(
                    workshop=workshop,
                    by=request.user,
                    lab=lab,
                    fault=fault,
                    target=target,
                    duration_seconds=duration,
                )
            except gameday.GameDayError as refusal:
                error = str(refusal)
            else:
                count = game_day.outcomes.count()
                messages.success(
                    request,
                    ngettext(
                        "The fault is being injected into %(count)d attendee's lab.",
                        "The fault is being injected into %(count)d attendees' labs.",
                        count,
                    )
                    % {"count": count},
                )
                return redirect("workshops:board", pk=workshop.pk)
    context = {
        "workshop": workshop,
        "labs": labs,
        "error": error,
        "min": GAMEDAY_MIN_SECONDS,
        "max": GAMEDAY_MAX_SECONDS,
        "running": room.game_day_running(workshop),
        "past": list(workshop.game_days.all()[:10]),
    }
    return render(request, "workshops/gameday_new.html", context, status=400 if error else 200)


@instructor_required
def gameday_debrief(request: AuthenticatedRequest, pk: int, game_day_id: int) -> HttpResponse:
    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    game_day = GameDay.objects.filter(pk=game_day_id, workshop=workshop).first()
    if game_day is None:
        raise Http404
    context = {
        "workshop": workshop,
        **gameday.game_day_debrief(game_day=game_day),
        "phases": gameday.PHASE_LABELS,
        "probe_timeout": f"{gameday.PROBE_TIMEOUT:g}",
    }
    return render(request, "workshops/gameday_debrief.html", context)


@login_required
def gameday_mine(request: AuthenticatedRequest, slug: str, game_day_id: int) -> HttpResponse:
    """An attendee's own game-day timeline: their outcome only, of a game day of THEIR
    workshop that took part in their lab; 404 for anything else."""
    attendee = _own_attendee(request, slug)
    game_day = GameDay.objects.filter(
        pk=game_day_id, workshop=attendee.workshop, outcomes__attendee=attendee
    ).first()
    if game_day is None:
        raise Http404
    debrief = gameday.game_day_debrief(game_day=game_day, attendee=attendee)
    context = {
        "workshop": attendee.workshop,
        **debrief,
        "result_text": room.GAMEDAY_RESULTS.get(debrief["rows"][0]["outcome"].result, ""),
        "phases": gameday.PHASE_LABELS,
        "probe_timeout": f"{gameday.PROBE_TIMEOUT:g}",
    }
    return render(request, "workshops/gameday_mine.html", context)


@instructor_required
def board_watch(request: AuthenticatedRequest, pk: int, attendee_id: int) -> HttpResponse:
    """The attendee's terminal, read-only, from the instructor's seat (the attendee's page shows
    that they are watched while this is open)."""
    from labs.services import session_is_running

    workshop = selectors.workshop_get_for_instructor(pk=pk, user=request.user)
    attendee = workshop.attendees.filter(pk=attendee_id).first()
    if attendee is None:
        raise Http404
    session = room.attendee_session(workshop=workshop, attendee=attendee)
    if session is None or not room.may_watch(request.user, session):
        raise Http404
    context = {
        "workshop": workshop,
        "attendee": attendee,
        "session": session,
        "status": {"terminal": session_is_running(session)},
    }
    return render(request, "workshops/watch.html", context)
