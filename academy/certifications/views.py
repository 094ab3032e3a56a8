"""The exam pages: catalogue, a certification's blueprint and eligibility, taking an attempt,
its result. Views parse input and call academy.certifications.exams; nothing here grades."""

from __future__ import annotations

import json
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, translate_url
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from academy.accounts.typing import AuthenticatedRequest
from academy.certifications import exams, selectors
from academy.certifications.models import Attempt
from academy.i18n import alternate_urls
from labs.services import limits

# An answer is a handful of small ids; anything bigger is not one.
MAX_ANSWER_BODY = 2048


def catalogue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "certifications/catalogue.html",
        {"entries": selectors.certifications_catalogue(user=request.user)},
    )


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    certification = selectors.certification_get_by_slug(slug=slug)
    if slug != certification.slug:
        return redirect("certifications:detail", slug=certification.slug, permanent=True)
    attempts = []
    if request.user.is_authenticated:
        attempts = list(
            Attempt.objects.filter(user=request.user, certification=certification).select_related(
                "certificate"
            )
        )
    context = {
        "certification": certification,
        "domains": certification.domains.published().order_by("order"),
        "tasks": certification.tasks.published().select_related("lab", "domain"),
        "eligibility": selectors.certification_eligibility(
            certification=certification, user=request.user
        ),
        "attempts": attempts,
        "languages": settings.LANGUAGES,
        "alternate_urls": alternate_urls(
            lambda: reverse("certifications:detail", kwargs={"slug": certification.slug})
        ),
    }
    return render(request, "certifications/detail.html", context)


def _attempt_url(name: str, attempt: Attempt) -> str:
    """The attempt's page in the attempt's language: the exam is taken in one language."""
    with translation.override(attempt.language):
        return reverse(name, kwargs={"public_id": attempt.public_id})


def _limited(request: HttpRequest, action: str) -> limits.LabRateLimited | None:
    try:
        limits.rate_limit(action, user=request.user, address=limits.client_address(request))
    except limits.LabRateLimited as error:
        return error
    return None


@login_required
@require_POST
def start(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    certification = selectors.certification_get_by_slug(slug=slug)
    language = request.POST.get("language", translation.get_language())
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language()
    refusal = _limited(request, "exam_start")
    if refusal:
        messages.error(request, str(refusal))
        return redirect("certifications:detail", slug=certification.slug)
    try:
        attempt = exams.attempt_start(
            user=request.user, certification=certification, language=language
        )
    except exams.ExamError as error:
        messages.error(request, str(error.message))
        return redirect("certifications:detail", slug=certification.slug)
    return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))


def _own_attempt(request: AuthenticatedRequest, public_id: UUID) -> Attempt:
    return selectors.attempt_get_for_user(public_id=public_id, user=request.user)


def _in_attempt_language(request: HttpRequest, attempt: Attempt) -> HttpResponse | None:
    if translation.get_language() != attempt.language:
        return HttpResponseRedirect(translate_url(request.get_full_path(), attempt.language))
    return None


@login_required
def attempt(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    attempt = _own_attempt(request, public_id)
    if attempt.state != Attempt.State.IN_PROGRESS:
        return HttpResponseRedirect(_attempt_url("certifications:result", attempt))
    if timezone.now() >= attempt.deadline:
        # The candidate came back after the deadline: beat may not have swept yet.
        exams.attempt_submit(attempt=attempt, by=Attempt.SubmittedBy.DEADLINE)
        return HttpResponseRedirect(_attempt_url("certifications:result", attempt))
    redirection = _in_attempt_language(request, attempt)
    if redirection:
        return redirection
    questions = selectors.attempt_questions(attempt=attempt)
    context = {
        "attempt": attempt,
        "certification": attempt.certification,
        "questions": questions,
        "answered": sum(1 for q in questions if q.answered),
        "tasks": attempt.tasks.select_related("lab", "session").order_by("position"),
        "seconds_left": max(0, int((attempt.deadline - timezone.now()).total_seconds())),
    }
    response = render(request, "certifications/attempt.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _posted_answers(post: QueryDict) -> dict[int, list[int]]:
    """``q-<position>`` fields of the no-script form; tampered values are dropped here and
    refused by the service if they reach it."""
    answers: dict[int, list[int]] = {}
    for name in post:
        if not name.startswith("q-"):
            continue
        try:
            position = int(name.removeprefix("q-"))
            answers[position] = [int(v) for v in post.getlist(name)][: exams.MAX_SELECTED + 1]
        except ValueError:
            continue
        if len(answers) > 200:
            break
    return answers


def _save_posted(request: HttpRequest, attempt: Attempt) -> list[str]:
    problems = []
    for position, option_ids in _posted_answers(request.POST).items():
        try:
            exams.attempt_answer(attempt=attempt, position=position, option_ids=option_ids)
        except exams.ExamError as error:
            problems.append(str(error.message))
    return problems


@login_required
@require_POST
def answer(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """Saves one answer as it is given (the page's script), JSON in and out."""
    attempt = _own_attempt(request, public_id)
    refusal = _limited(request, "exam_answer")
    if refusal:
        response = JsonResponse({"error": str(refusal)}, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    if len(request.body) > MAX_ANSWER_BODY:
        return JsonResponse({"error": translation.gettext("That answer is too long.")}, status=400)
    try:
        payload = json.loads(request.body)
        position = payload["position"]
        option_ids = payload["options"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": translation.gettext("That answer could not be read.")}, status=400
        )
    try:
        with translation.override(attempt.language):
            exams.attempt_answer(attempt=attempt, position=position, option_ids=option_ids)
    except exams.ExamError as error:
        with translation.override(attempt.language):
            message = str(error.message)
        attempt.refresh_from_db()
        status = 409 if attempt.state != Attempt.State.IN_PROGRESS else 400
        return JsonResponse({"error": message, "state": attempt.state}, status=status)
    answered = attempt.questions.exclude(selected=[]).count()
    return JsonResponse({"saved": True, "answered": answered})


@login_required
@require_POST
def save(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    """The no-script path: the whole form saved at once, then back to the exam."""
    attempt = _own_attempt(request, public_id)
    refusal = _limited(request, "exam_answer")
    if refusal:
        messages.error(request, str(refusal))
        return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))
    problems = _save_posted(request, attempt)
    if problems:
        messages.error(request, problems[0])
    else:
        messages.success(request, translation.gettext("Your answers are saved."))
    return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))


@login_required
@require_POST
def submit(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    attempt = _own_attempt(request, public_id)
    if attempt.state == Attempt.State.IN_PROGRESS:
        with translation.override(attempt.language):
            _save_posted(request, attempt)  # the answers on the page, if still in time
        exams.attempt_submit(attempt=attempt)
    return HttpResponseRedirect(_attempt_url("certifications:result", attempt))


@login_required
@require_POST
def task_start(request: AuthenticatedRequest, public_id: UUID, position: int) -> HttpResponse:
    attempt = _own_attempt(request, public_id)
    task = get_object_or_404(attempt.tasks, position=position)
    refusal = _limited(request, "start")
    if refusal:
        messages.error(request, str(refusal))
        return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))
    try:
        session = exams.attempt_task_start(attempt=attempt, task=task)
    except exams.ExamError as error:
        messages.error(request, str(error.message))
        return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))
    return redirect("labs:session", session_id=session.pk)


@login_required
def result(request: AuthenticatedRequest, public_id: UUID) -> HttpResponse:
    attempt = _own_attempt(request, public_id)
    if attempt.state == Attempt.State.IN_PROGRESS:
        if timezone.now() < attempt.deadline:
            return HttpResponseRedirect(_attempt_url("certifications:attempt", attempt))
        attempt = exams.attempt_submit(attempt=attempt, by=Attempt.SubmittedBy.DEADLINE)
    language = translation.get_language()
    certificate = getattr(attempt, "certificate", None) if attempt.passed else None
    context = {
        "attempt": attempt,
        "certification": attempt.certification,
        "domain_scores": selectors.attempt_domain_scores(attempt=attempt, language=language),
        "certificate": certificate,
        "grading": attempt.state == Attempt.State.GRADING,
    }
    return render(request, "certifications/result.html", context)
