"""Reads of the learning side: catalogue, outlines, progress, the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404

from academy.courses.models import Course, Lesson, LessonProgress, QuestionAnswer
from academy.i18n import any_language_slug
from labs import selectors as lab_selectors
from labs.selectors import LabProgress


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
    reading_minutes: int = 0
    # The labs that practise this course's lessons, each with this reader's progress.
    labs: list[LabProgress] = field(default_factory=list)

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


def _course_labs(course: Course, labs: list[LabProgress]) -> list[LabProgress]:
    prefix = f"{course.key}/"
    return [item for item in labs if any(ref.startswith(prefix) for ref in item.lab.lesson_refs)]


def course_progress(
    *, course: Course, user, labs: list[LabProgress] | None = None
) -> CourseProgress:
    """A reader's progress in a course, with what its card shows: lessons, labs and time.
    ``labs`` is the lab catalogue with this reader's progress, when the caller has it already."""
    lessons = list(course.lessons.published().order_by("order").select_related("course"))
    done = _completed_ids(user, lessons)
    if labs is None:
        labs = lab_selectors.lab_catalogue(user=user)
    return CourseProgress(
        course=course,
        total=len(lessons),
        completed=len(done),
        continue_lesson=_continue_lesson(user, lessons, done),
        reading_minutes=sum(lesson.reading_minutes for lesson in lessons),
        labs=_course_labs(course, labs),
    )


def catalogue(*, user) -> list[CourseProgress]:
    labs = lab_selectors.lab_catalogue(user=user)
    return [course_progress(course=c, user=user, labs=labs) for c in Course.objects.published()]


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
