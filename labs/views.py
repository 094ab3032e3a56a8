"""Lab pages: catalogue, a lab's page, the session page and its live status and actions.

Views only read rows and call services; Docker work goes to the lab host's Celery worker.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from academy.accounts.typing import AuthenticatedRequest
from academy.i18n import alternate_urls
from labs import completion, selectors, services
from labs.models import Lab, LabSession
from labs.services import limits


def catalogue(request: HttpRequest) -> HttpResponse:
    return render(
        request, "labs/catalogue.html", {"labs": selectors.lab_catalogue(user=request.user)}
    )


def lab_detail(request: HttpRequest, lab_slug: str) -> HttpResponse:
    lab = selectors.lab_get_by_slug(slug=lab_slug)
    if lab_slug != lab.slug:
        return redirect(lab, permanent=True)
    steps = selectors.lab_steps_listed(lab=lab)
    context = {
        "lab": lab,
        "steps": steps,
        "progress": selectors.lab_progress(lab=lab, user=request.user, step_count=len(steps)),
        # The diagram, the same for every reader, is cached by the lab row's digest.
        "lab_key": selectors.lab_row_key(lab),
        "alternate_urls": alternate_urls(lab.get_absolute_url),
    }
    return render(request, "labs/lab_detail.html", context)


def _too_many(
    request: HttpRequest,
    error: services.LabRateLimited,
    *,
    wants_json: bool,
    back: Lab | LabSession,
) -> HttpResponse:
    """429 with Retry-After for fetch() callers; a message on the page for form posts."""
    if wants_json:
        response = JsonResponse({"error": str(error), "retry_after": error.retry_after}, status=429)
        response["Retry-After"] = str(error.retry_after)
        return response
    messages.error(request, str(error))
    return redirect(back)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def lab_start(request: AuthenticatedRequest, lab_slug: str) -> HttpResponse:
    lab = selectors.lab_get_by_slug(slug=lab_slug)
    address = limits.client_address(request)
    try:
        limits.rate_limit("start", user=request.user, address=address)
        session = services.lab_session_start(user=request.user, lab=lab, client_address=address)
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=_wants_json(request), back=lab)
    return redirect(session)


def _results_context(request: HttpRequest, session: LabSession) -> dict[str, Any]:
    return {
        "session": session,
        "is_owner": session.user_id == request.user.pk,
        **selectors.session_results(session=session, journal_path=request.GET.get("journal")),
    }


def _not_for_exam(session: LabSession) -> None:
    """An exam's task has no checks, results, extension, reset or stop of its own: it is
    graded, and its sandbox ended, when the exam is submitted."""
    if session.lab.exam_only:
        raise Http404


@login_required
def session_detail(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    session = selectors.session_get_for_user(session_id=session_id, user=request.user)
    if session.lab.exam_only:
        context = {
            "session": session,
            "is_owner": services.session_may_act(session, request.user),
            "lab": session.lab,
            "steps": session.lab.steps.order_by("number"),
            "status": selectors.session_status(session=session),
            "exam_url": selectors.session_exam_url(session=session),
            "alternate_urls": alternate_urls(session.get_absolute_url),
        }
        return render(request, "labs/exam_session.html", context)
    steps = list(session.lab.steps.order_by("number"))
    context = {
        **_results_context(request, session),
        "lab": session.lab,
        "steps": steps,
        "status": selectors.session_status(session=session, lab_steps=steps),
        "alternate_urls": alternate_urls(session.get_absolute_url),
    }
    return render(request, "labs/session.html", context)


@login_required
def session_status(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    session = selectors.session_get_for_user(session_id=session_id, user=request.user)
    return JsonResponse(selectors.session_status(session=session))


@login_required
def session_results(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    """The Results section alone, for the page to swap in when new journals arrive."""
    session = selectors.session_get_for_user(session_id=session_id, user=request.user)
    _not_for_exam(session)
    return render(request, "labs/_results.html", _results_context(request, session))


def _owned(request: AuthenticatedRequest, session_id: int) -> LabSession:
    """Only the owner acts on a session; staff who watch get a 404 here, like strangers."""
    session = selectors.session_get_for_user(session_id=session_id, user=request.user)
    if not services.session_may_act(session, request.user):
        raise Http404
    return session


@login_required
@require_POST
def session_check(request: AuthenticatedRequest, session_id: int, number: int) -> HttpResponse:
    session = _owned(request, session_id)
    _not_for_exam(session)
    step = get_object_or_404(session.lab.steps, number=number)
    try:
        limits.rate_limit(
            "check", user=request.user, session=session, address=limits.client_address(request)
        )
        asked = services.lab_session_check_request(
            session=session, step=step, language=translation.get_language()
        )
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=True, back=session)
    except services.LabSessionError as error:
        return JsonResponse({"error": str(error)}, status=409)
    body: dict[str, object] = {
        "queued": True,
        "step": asked.step_number,
        "pending": asked.already_pending,
    }
    if asked.step_number != step.number:
        body["message"] = _(
            "Another step's check is still running. Wait for its result, then check this step."
        )
    return JsonResponse(body, status=202)


@login_required
@require_POST
def session_results_refresh(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    """Reads the learner's journals again, on the lab host's worker."""
    session = _owned(request, session_id)
    _not_for_exam(session)
    wants_json = _wants_json(request)
    try:
        limits.rate_limit(
            "refresh", user=request.user, session=session, address=limits.client_address(request)
        )
        services.lab_session_results_request(session=session)
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=wants_json, back=session)
    except services.LabSessionError as error:
        if wants_json:
            return JsonResponse({"error": str(error)}, status=409)
        messages.error(request, str(error))
        return redirect(session)
    if wants_json:
        return JsonResponse({"queued": True}, status=202)
    messages.success(request, _("Reading your journals. Reload the page in a moment to see them."))
    return redirect(session.get_absolute_url() + "#results")


@login_required
@require_POST
def session_extend(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    session = _owned(request, session_id)
    _not_for_exam(session)
    try:
        limits.rate_limit(
            "extend", user=request.user, session=session, address=limits.client_address(request)
        )
        services.lab_session_extend(session=session)
        messages.success(request, _("You have more time for this lab."))
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=_wants_json(request), back=session)
    except services.LabSessionError as error:
        messages.error(request, str(error))
    return redirect(session)


@login_required
@require_POST
def session_stop(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    session = _owned(request, session_id)
    _not_for_exam(session)
    services.lab_session_end(session=session)
    messages.success(request, _("The lab session has stopped. Its containers are being removed."))
    return redirect(session.lab)


@login_required
@require_POST
def session_reset(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    """A fresh session of the same lab: the old one is stopped, its containers removed."""
    session = _owned(request, session_id)
    _not_for_exam(session)
    address = limits.client_address(request)
    try:
        limits.rate_limit("reset", user=request.user, session=session, address=address)
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=_wants_json(request), back=session)
    services.lab_session_end(session=session)
    try:  # the old session has ended: it no longer counts against the live-session limits
        fresh = services.lab_session_start(
            user=request.user, lab=session.lab, client_address=address
        )
    except services.LabRateLimited as error:
        return _too_many(request, error, wants_json=_wants_json(request), back=session.lab)
    messages.success(request, _("A fresh lab session is starting."))
    return redirect(fresh)


@login_required
@require_POST
def session_restore(request: AuthenticatedRequest, session_id: int) -> HttpResponse:
    """Brings a broken session's containers back, on the lab host's worker (the owner only)."""
    session = _owned(request, session_id)
    try:
        services.lab_session_restore_request(session=session)
    except services.LabSessionError as error:
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"error": str(error)}, status=409)
        messages.error(request, str(error))
        return redirect(session)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"queued": True}, status=202)
    return redirect(session)


@login_required
@require_safe
def lab_complete(request: AuthenticatedRequest, lab_slug: str) -> HttpResponse:
    """The signed-in learner's summary of a lab they finished, or what remains when they have
    not. Only ever their own work: the URL names the lab, never a session or a learner."""
    # The course side (next lab, lessons, certification) lives with the courses; the lab engine
    # itself does not depend on it.
    from academy.courses.completion import lab_next_steps

    lab = selectors.lab_get_by_slug(slug=lab_slug)
    if lab_slug != lab.slug:
        return redirect("labs:complete", lab_slug=lab.slug, permanent=True)
    summary = completion.lab_completion(lab=lab, user=request.user)
    context = {
        "lab": lab,
        "summary": summary,
        "progress": selectors.lab_progress(lab=lab, user=request.user),
        "places": lab_next_steps(lab=lab, user=request.user)
        if summary is not None and summary.completed
        else [],
        "alternate_urls": alternate_urls(
            lambda: reverse("labs:complete", kwargs={"lab_slug": lab.slug})
        ),
    }
    return render(request, "labs/lab_complete.html", context)
