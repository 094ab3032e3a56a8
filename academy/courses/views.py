from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from academy.certifications import selectors as certification_selectors
from academy.courses import completion, selectors, services
from academy.courses.models import Lesson
from academy.i18n import alternate_urls
from labs import selectors as lab_selectors


def _translation_missing(obj, field: str) -> bool:
    language = translation.get_language()
    return language != settings.LANGUAGE_CODE and not getattr(obj, f"{field}_{language}", "")


def home(request):
    context = {
        "courses": selectors.catalogue(user=request.user),
        "certifications": certification_selectors.certifications_published(),
        "labs": lab_selectors.lab_catalogue(user=request.user),
    }
    return render(request, "courses/home.html", context)


def catalogue(request):
    return render(
        request, "courses/catalogue.html", {"courses": selectors.catalogue(user=request.user)}
    )


def course_detail(request, course_slug: str):
    course = selectors.course_get_by_slug(slug=course_slug)
    if course_slug != course.slug:
        return redirect(course, permanent=True)
    context = {
        "course": course,
        "outline": selectors.course_outline(course=course, user=request.user),
        "progress": selectors.course_progress(course=course, user=request.user),
        "certifications": certification_selectors.certifications_for_course(course=course),
        "alternate_urls": alternate_urls(course.get_absolute_url),
        "translation_missing": _translation_missing(course, "title"),
    }
    return render(request, "courses/course_detail.html", context)


def _lesson_or_redirect(course_slug: str, lesson_slug: str):
    course = selectors.course_get_by_slug(slug=course_slug)
    lesson = selectors.lesson_get_by_slug(course=course, slug=lesson_slug)
    if (course_slug, lesson_slug) != (course.slug, lesson.slug):
        return lesson, redirect(lesson, permanent=True)
    return lesson, None


def _parse_answers(post) -> dict[int, int]:
    answers = {}
    for name, value in post.items():
        if name.startswith("question-"):
            try:
                answers[int(name.removeprefix("question-"))] = int(value)
            except ValueError:
                continue  # a tampered field counts as unanswered
    return answers


def lesson_detail(request, course_slug: str, lesson_slug: str):
    lesson, redirection = _lesson_or_redirect(course_slug, lesson_slug)
    if redirection:
        return redirection
    graded = None
    if request.method == "POST":
        graded = services.knowledge_check_grade(
            lesson=lesson, answers=_parse_answers(request.POST), user=request.user
        )
    elif request.user.is_authenticated:
        services.lesson_visit(user=request.user, lesson=lesson)
        saved = selectors.lesson_saved_answers(lesson=lesson, user=request.user)
        if saved:
            graded = services.knowledge_check_grade(lesson=lesson, answers=saved)
    previous, following = selectors.lesson_neighbours(lesson=lesson)
    questions = list(lesson.questions.published().prefetch_related("choices"))
    context = {
        "course": lesson.course,
        "lesson": lesson,
        "previous": previous,
        "next": following,
        "questions": questions,
        "graded": {result.question.pk: result for result in graded} if graded else {},
        "score": sum(result.is_correct for result in graded) if graded else None,
        "completed": selectors.lesson_is_completed(lesson=lesson, user=request.user),
        "outline": selectors.course_outline(course=lesson.course, user=request.user),
        "alternate_urls": alternate_urls(lesson.get_absolute_url),
        "translation_missing": _translation_missing(lesson, "body_html"),
        "labs": lab_selectors.labs_for_lesson(course_key=lesson.course.key, lesson_key=lesson.key),
    }
    return render(request, "courses/lesson_detail.html", context)


@login_required
@require_POST
def lesson_mark_complete(request, course_slug: str, lesson_slug: str):
    course = selectors.course_get_by_slug(slug=course_slug)
    lesson: Lesson = selectors.lesson_get_by_slug(course=course, slug=lesson_slug)
    services.lesson_complete(user=request.user, lesson=lesson)
    messages.success(request, _("Lesson marked as complete."))
    _previous, following = selectors.lesson_neighbours(lesson=lesson)
    return redirect(following or lesson.course)


@login_required
def dashboard(request):
    context = selectors.dashboard(user=request.user)
    context["labs"] = [
        item
        for item in lab_selectors.lab_catalogue(user=request.user)
        if item.passed or item.live_session
    ]
    return render(request, "courses/dashboard.html", context)


@login_required
@require_safe
def course_complete(request, course_slug: str):
    """The signed-in learner's summary of a course they finished, or what remains when they have
    not. Only ever their own work: the URL names the course, never a learner."""
    course = selectors.course_get_by_slug(slug=course_slug)
    if course_slug != course.slug:
        return redirect("courses:course_complete", course_slug=course.slug, permanent=True)
    context = {
        "course": course,
        "summary": completion.course_completion(course=course, user=request.user),
        "alternate_urls": alternate_urls(
            lambda: reverse("courses:course_complete", kwargs={"course_slug": course.slug})
        ),
    }
    return render(request, "courses/course_complete.html", context)
