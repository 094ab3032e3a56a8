"""Reads of the learning side: catalogue, outlines, progress, the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from academy.courses.models import Course, Lesson, LessonProgress, QuestionAnswer
from academy.i18n import any_language_slug


def course_get_by_slug(*, slug: str) -> Course:
    """A published course by its slug in any language (the view redirects to the right one)."""
    course = Course.objects.published().filter(any_language_slug(slug)).first()
    if course is None:
        raise Http404
    return course


def lesson_get_by_slug(*, course: Course, slug: str) -> Lesson:
    lesson = (
        Lesson.objects.published()
        .filter(course=course)
        .filter(any_language_slug(slug))
        .select_related("module", "course")
        .first()
    )
    if lesson is None:
        raise Http404
    return lesson


def _completed_ids(user, lessons) -> set[int]:
    if user is None or not user.is_authenticated:
        return set()
    return set(
        LessonProgress.objects.filter(
            user=user, lesson__in=lessons, completed_at__isnull=False
        ).values_list("lesson_id", flat=True)
    )


@dataclass
class CourseProgress:
    course: Course
    total: int
    completed: int
    continue_lesson: Lesson | None

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0

    @property
    def started(self) -> bool:
        return self.continue_lesson is not None and self.completed > 0


def course_outline(*, course: Course, user) -> list[dict]:
    """Modules of a course with their lessons, each marked done for this reader."""
    lessons = list(course.lessons.published().select_related("module").order_by("order"))
    done = _completed_ids(user, lessons)
    modules: dict[int, dict] = {}
    for lesson in lessons:
        entry = modules.setdefault(lesson.module_id, {"module": lesson.module, "lessons": []})
        entry["lessons"].append({"lesson": lesson, "done": lesson.pk in done})
    return list(modules.values())


def _continue_lesson(user, lessons: list[Lesson], done: set[int]) -> Lesson | None:
    """Where to pick up: the first unfinished lesson after the last one visited."""
    if not lessons:
        return None
    if user is None or not user.is_authenticated:
        return lessons[0]
    last = (
        LessonProgress.objects.filter(user=user, lesson__in=lessons)
        .order_by("-last_visited_at")
        .first()
    )
    start = next((i for i, lesson in enumerate(lessons) if last and lesson.pk == last.lesson_id), 0)
    if last and last.completed_at is None:
        return lessons[start]
    ordered = lessons[start:] + lessons[:start]
    return next((lesson for lesson in ordered if lesson.pk not in done), None)


def course_progress(*, course: Course, user) -> CourseProgress:
    lessons = list(course.lessons.published().order_by("order").select_related("course"))
    done = _completed_ids(user, lessons)
    return CourseProgress(
        course=course,
        total=len(lessons),
        completed=len(done),
        continue_lesson=_continue_lesson(user, lessons, done),
    )


def catalogue(*, user) -> list[CourseProgress]:
    return [course_progress(course=c, user=user) for c in Course.objects.published()]


def dashboard(*, user) -> dict:
    courses = catalogue(user=user)
    started = [progress for progress in courses if progress.completed or _visited(user, progress)]
    latest = (
        LessonProgress.objects.filter(user=user, lesson__retired_at__isnull=True)
        .select_related("lesson__course")
        .order_by("-last_visited_at")
        .first()
    )
    resume = None
    if latest is not None:
        resume = next(
            (p.continue_lesson for p in courses if p.course.pk == latest.lesson.course_id), None
        )
    answered = QuestionAnswer.objects.filter(user=user)
    return {
        "courses": courses,
        "started": started,
        "resume": resume,
        "answers_total": answered.count(),
        "answers_correct": answered.filter(is_correct=True).count(),
    }


def _visited(user, progress: CourseProgress) -> bool:
    return LessonProgress.objects.filter(user=user, lesson__course=progress.course).exists()


def lesson_neighbours(*, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    siblings = lesson.course.lessons.published()
    previous = siblings.filter(order__lt=lesson.order).order_by("-order").first()
    following = siblings.filter(order__gt=lesson.order).order_by("order").first()
    return previous, following


def lesson_is_completed(*, lesson: Lesson, user) -> bool:
    return lesson.pk in _completed_ids(user, [lesson])


def lesson_saved_answers(*, lesson: Lesson, user) -> dict[int, int]:
    if user is None or not user.is_authenticated:
        return {}
    return dict(
        QuestionAnswer.objects.filter(user=user, question__lesson=lesson).values_list(
            "question_id", "choice_id"
        )
    )
