"""Reads of the learning side: catalogue, outlines, progress, the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.http import Http404

from academy.courses import caching
from academy.courses.models import Course, Lesson, LessonProgress, QuestionAnswer
from academy.i18n import any_language_slug
from labs import selectors as lab_selectors
from labs.selectors import LabProgress


def course_get_by_slug(*, slug: str) -> Course:
    """A published course by its slug in any language (the view redirects to the right one);
    kept by content version, so that a page finds it with the version's one small query."""
    return caching.cached(
        f"course-by-slug:{slug}:{caching.content_version()}", lambda: _course_by_slug(slug)
    )


def _course_by_slug(slug: str) -> Course:
    course = Course.objects.published().filter(any_language_slug(slug)).first()
    if course is None:
        raise Http404  # not kept: only courses that exist take room in the cache
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


# Rendered HTML is not needed in lists, and it is most of a lesson row.
_LESSON_HEAVY = [
    f"{name}_{code}" for name in ("body_html", "toc_html") for code, _name in settings.LANGUAGES
] + ["body_html", "toc_html"]


def lesson_get_by_slugs(*, course_slug: str, lesson_slug: str) -> Lesson:
    """A published lesson of a published course, both by their slug in any language, with its
    course and module (the view redirects to the right slugs); kept by content version, so that
    a page finds it with the version's one small query."""
    return caching.cached(
        f"lesson-by-slugs:{course_slug}:{lesson_slug}:{caching.content_version()}",
        lambda: _lesson_by_slugs(course_slug, lesson_slug),
    )


def _lesson_by_slugs(course_slug: str, lesson_slug: str) -> Lesson:
    lesson = (
        Lesson.objects.published()
        .filter(course__retired_at__isnull=True)
        .filter(any_language_slug(course_slug, "course__slug"))
        .filter(any_language_slug(lesson_slug))
        .select_related("module", "course")
        .first()
    )
    if lesson is None:
        raise Http404  # not kept: only lessons that exist take room in the cache
    return lesson


@dataclass(frozen=True)
class Visit:
    """A reader's row of progress on one lesson."""

    lesson_id: int
    course_id: int
    last_visited_at: datetime
    completed_at: datetime | None


def lesson_visits(*, user, course: Course | None = None) -> dict[int, Visit]:
    """The reader's progress on the published lessons (of ``course``, or of every course), by
    lesson id: the one progress query of a page."""
    if user is None or not user.is_authenticated:
        return {}
    rows = LessonProgress.objects.filter(user=user, lesson__retired_at__isnull=True)
    if course is not None:
        rows = rows.filter(lesson__course=course)
    return {
        row[0]: Visit(*row)
        for row in rows.values_list(
            "lesson_id", "lesson__course_id", "last_visited_at", "completed_at"
        )
    }


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
    reading_minutes: int = 0
    # The labs that practise this course's lessons, each with this reader's progress.
    labs: list[LabProgress] = field(default_factory=list)
    visited: bool = False  # the reader opened at least one of its lessons

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0

    @property
    def minutes(self) -> int:
        """Estimated time: every lesson's reading time plus every lab's duration."""
        return self.reading_minutes + sum(item.lab.duration_minutes for item in self.labs)

    @property
    def hours(self) -> float:
        """The estimate in hours, rounded to the half hour (never below half an hour)."""
        return max(0.5, round(self.minutes / 30) / 2)

    @property
    def labs_completed(self) -> int:
        return sum(1 for item in self.labs if item.completed)

    @property
    def started(self) -> bool:
        return self.continue_lesson is not None and self.completed > 0

    @property
    def state_key(self) -> str:
        """What the reader's own parts of the course's card show, for the cards' cache key."""
        labs = ".".join(
            f"{item.passed}{'c' if item.completed else ''}"
            f"{item.live_session.pk if item.live_session else ''}"
            for item in self.labs
        )
        return f"{self.completed}/{self.total}/{labs}"


def course_outline(*, course: Course, user, done: set[int] | None = None) -> list[dict]:
    """Modules of a course with their lessons, each marked done for this reader (``done``: the
    ids of the lessons they did, when the caller has them already)."""
    lessons = list(
        course.lessons.published().select_related("module").defer(*_LESSON_HEAVY).order_by("order")
    )
    if done is None:
        done = _completed_ids(user, lessons)
    modules: dict[int, dict] = {}
    for lesson in lessons:
        lesson.course = course  # for its URL, without a query per lesson
        entry = modules.setdefault(lesson.module_id, {"module": lesson.module, "lessons": []})
        entry["lessons"].append({"lesson": lesson, "done": lesson.pk in done})
    return list(modules.values())


def outline_neighbours(outline: list[dict], lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """The lessons before and after ``lesson`` in its course's outline."""
    lessons = [item["lesson"] for entry in outline for item in entry["lessons"]]
    position = next((i for i, other in enumerate(lessons) if other.pk == lesson.pk), None)
    if position is None:
        return None, None
    previous = lessons[position - 1] if position > 0 else None
    following = lessons[position + 1] if position + 1 < len(lessons) else None
    return previous, following


def _continue_lesson(user, lessons: list[Lesson], visits: dict[int, Visit]) -> Lesson | None:
    """Where to pick up: the first unfinished lesson after the last one visited."""
    if not lessons:
        return None
    if user is None or not user.is_authenticated:
        return lessons[0]
    mine = [visits[lesson.pk] for lesson in lessons if lesson.pk in visits]
    last = max(mine, key=lambda visit: visit.last_visited_at, default=None)
    start = next((i for i, lesson in enumerate(lessons) if last and lesson.pk == last.lesson_id), 0)
    if last and last.completed_at is None:
        return lessons[start]
    done = {visit.lesson_id for visit in mine if visit.completed_at}
    ordered = lessons[start:] + lessons[:start]
    return next((lesson for lesson in ordered if lesson.pk not in done), None)


def _course_labs(course: Course, labs: list[LabProgress]) -> list[LabProgress]:
    prefix = f"{course.key}/"
    return [item for item in labs if any(ref.startswith(prefix) for ref in item.lab.lesson_refs)]


def _progress(
    course: Course, lessons: list[Lesson], user, visits: dict[int, Visit], labs
) -> CourseProgress:
    for lesson in lessons:
        lesson.course = course  # for its URL, without a query
    mine = [visits[lesson.pk] for lesson in lessons if lesson.pk in visits]
    return CourseProgress(
        course=course,
        total=len(lessons),
        completed=sum(1 for visit in mine if visit.completed_at),
        continue_lesson=_continue_lesson(user, lessons, visits),
        reading_minutes=sum(lesson.reading_minutes for lesson in lessons),
        labs=_course_labs(course, labs),
        visited=bool(mine),
    )


def course_progress(
    *,
    course: Course,
    user,
    labs: list[LabProgress] | None = None,
    visits: dict[int, Visit] | None = None,
) -> CourseProgress:
    """A reader's progress in a course, with what its card shows: lessons, labs and time.
    ``labs`` is the lab catalogue with this reader's progress and ``visits`` their
    lesson_visits in the course, when the caller has them already."""
    lessons = list(course.lessons.published().order_by("order").defer(*_LESSON_HEAVY))
    if labs is None:
        labs = lab_selectors.lab_catalogue(user=user)
    if visits is None:
        visits = lesson_visits(user=user, course=course)
    return _progress(course, lessons, user, visits, labs)


def catalogue(*, user, labs: list[LabProgress] | None = None) -> list[CourseProgress]:
    """Every published course with the reader's progress, in a fixed number of queries
    whatever the number of courses and lessons. ``labs``: the lab catalogue, when the caller
    has it already."""
    if labs is None:
        labs = lab_selectors.lab_catalogue(user=user)
    courses = list(Course.objects.published())
    lessons: dict[int, list[Lesson]] = {course.pk: [] for course in courses}
    for lesson in (
        Lesson.objects.published()
        .filter(course__in=courses)
        .defer(*_LESSON_HEAVY)
        .order_by("course", "order")
    ):
        lessons[lesson.course_id].append(lesson)
    visits = lesson_visits(user=user)
    return [_progress(course, lessons[course.pk], user, visits, labs) for course in courses]


def dashboard(*, user, labs: list[LabProgress] | None = None) -> dict:
    courses = catalogue(user=user, labs=labs)
    started = [progress for progress in courses if progress.completed or progress.visited]
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
