from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from academy.certifications import selectors as certification_selectors
from academy.courses import caching, completion, selectors, services
from academy.courses.models import Lesson, Question
from academy.i18n import alternate_urls
from labs import selectors as lab_selectors


def _translation_missing(obj, field: str) -> bool:
    language = translation.get_language()
    return language != settings.LANGUAGE_CODE and not getattr(obj, f"{field}_{language}", "")


def home(request):
    labs = lab_selectors.lab_catalogue(user=request.user)
    courses = selectors.catalogue(user=request.user, labs=labs)
    context = {
        "courses": courses,
        # Only read when the certifications' cached part is not there yet.
        "certifications": SimpleLazyObject(
            lambda: list(certification_selectors.certifications_published())
        ),
        "labs": labs,
        "version": caching.content_version_of(course.course for course in courses),
        "cards_state": _cards_state(courses, labs),
    }
    return render(request, "courses/home.html", context)


def _cards_state(courses, labs) -> str:
    """What the reader's own parts of the cards show (progress, a running session), for the
    cards' cache key: readers in the same state share the cards."""
    return "|".join(
        [progress.state_key for progress in courses]
        + [
            f"{item.lab.pk}:{item.lab.content_hash}:{item.passed}{'c' if item.completed else ''}"
            f"{item.live_session.pk if item.live_session else ''}"
            for item in labs
        ]
    )


def catalogue(request):
    courses = selectors.catalogue(user=request.user)
    context = {
        "courses": courses,
        "version": caching.content_version_of(progress.course for progress in courses),
        "cards_state": _cards_state(courses, []),
    }
    return render(request, "courses/catalogue.html", context)


def course_detail(request, course_slug: str):
    course = selectors.course_get_by_slug(slug=course_slug)
    if course_slug != course.slug:
        return redirect(course, permanent=True)
    version = caching.course_version(course)
    visits = selectors.lesson_visits(user=request.user, course=course)
    # The page shows how many labs practise the course and their time, never a reader's
    # progress in them: the catalogue as a visitor sees it, kept by content version.
    labs = caching.cached(
        f"lab-catalogue:{version}", lambda: lab_selectors.lab_catalogue(user=None)
    )
    progress = selectors.course_progress(course=course, user=request.user, visits=visits, labs=labs)
    done = {visit.lesson_id for visit in visits.values() if visit.completed_at}
    context = {
        "course": course,
        "version": version,
        "done_key": ",".join(map(str, sorted(done))),
        # Only read when the outline's cached part is not there yet.
        "outline": SimpleLazyObject(
            lambda: selectors.course_outline(course=course, user=request.user, done=done)
        ),
        "progress": progress,
        "certifications": SimpleLazyObject(
            lambda: list(certification_selectors.certifications_for_course(course=course))
        ),
        "alternate_urls": alternate_urls(course.get_absolute_url),
        "translation_missing": _translation_missing(course, "title"),
    }
    return render(request, "courses/course_detail.html", context)


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
    lesson = selectors.lesson_get_by_slugs(course_slug=course_slug, lesson_slug=lesson_slug)
    course = lesson.course
    if (course_slug, lesson_slug) != (course.slug, lesson.slug):
        return redirect(lesson, permanent=True)
    # Every course's: lesson_visit writes nothing when this lesson is the one read last.
    visits = selectors.lesson_visits(user=request.user)
    done = {
        visit.lesson_id
        for visit in visits.values()
        if visit.completed_at and visit.course_id == course.pk
    }
    version = caching.course_version(course)
    has_questions = caching.cached(
        f"lesson-has-questions:{lesson.pk}:{version}",
        lambda: lesson.questions.published().exists(),
    )
    graded = None
    if request.method == "POST":
        graded = services.knowledge_check_grade(
            lesson=lesson, answers=_parse_answers(request.POST), user=request.user
        )
    elif request.user.is_authenticated:
        services.lesson_visit(user=request.user, lesson=lesson, visits=visits)
        # A lesson without a knowledge check has no answers to read.
        saved = (
            selectors.lesson_saved_answers(lesson=lesson, user=request.user)
            if has_questions
            else {}
        )
        if saved:
            graded = services.knowledge_check_grade(lesson=lesson, answers=saved)
    # What every reader sees alike is cached by content version and language (the template's
    # {% cache %} parts); these are read only when a part is not there yet.
    outline = SimpleLazyObject(
        lambda: selectors.course_outline(course=course, user=request.user, done=done)
    )
    # The lazy outline stands in for the list it reads only when a part is not cached.
    neighbours = SimpleLazyObject(
        lambda: selectors.outline_neighbours(outline, lesson)  # type: ignore[arg-type]
    )
    questions: list[Question] | SimpleLazyObject[list[Question]]
    if graded:
        questions = [result.question for result in graded]
    else:
        questions = SimpleLazyObject(
            lambda: list(lesson.questions.published().prefetch_related("choices"))
        )
    context = {
        "course": course,
        "lesson": lesson,
        "version": version,
        "done_key": ",".join(map(str, sorted(done))),
        "neighbours": neighbours,
        "has_questions": bool(graded) or has_questions,
        "questions": questions,
        "graded": {result.question.pk: result for result in graded} if graded else {},
        "score": sum(result.is_correct for result in graded) if graded else None,
        "completed": lesson.pk in done,
        "outline": outline,
        "alternate_urls": alternate_urls(lesson.get_absolute_url),
        "translation_missing": _translation_missing(lesson, "body_html"),
        "labs": SimpleLazyObject(
            lambda: lab_selectors.labs_for_lesson(course_key=course.key, lesson_key=lesson.key)
        ),
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
    labs = lab_selectors.lab_catalogue(user=request.user)
    context = selectors.dashboard(user=request.user, labs=labs)
    context["labs"] = [item for item in labs if item.passed or item.live_session]
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
