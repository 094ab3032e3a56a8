"""What a learner did in a course, and where a finished lab leads within its courses.

Read-only and always for the signed-in learner: the completion pages take no user or session id
from the request. A course is complete when every published lesson is marked done (the same
rule the certifications' prerequisites use); its labs and knowledge checks are reported beside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from academy.certifications.selectors import (
    Eligibility,
    certification_eligibility,
    certifications_for_course,
)
from academy.courses.models import Course, Lesson, LessonProgress, Question, QuestionAnswer
from academy.courses.selectors import CourseProgress, course_progress
from labs.completion import LabCompletion, duration_text, lab_completion, lab_is_completed_by
from labs.models import Lab, LabSession
from labs.selectors import labs_for_course


@dataclass(frozen=True)
class LessonDone:
    lesson: Lesson
    completed_at: datetime | None
    questions: int
    answered: int
    correct: int


@dataclass
class LabInCourse:
    """Where a finished lab sits in one of its courses, and what comes after it."""

    course: Course
    lessons: list[LessonDone]  # the lessons of this course the lab practises
    next_lab: Lab | None
    next_lab_completed: bool
    certifications: list[Eligibility] = field(default_factory=list)


def _lessons_done(user, lessons: list[Lesson]) -> list[LessonDone]:
    completed = dict(
        LessonProgress.objects.filter(
            user=user, lesson__in=lessons, completed_at__isnull=False
        ).values_list("lesson_id", "completed_at")
    )
    counts = {
        row["lesson_id"]: row["total"]
        for row in Question.objects.published()
        .filter(lesson__in=lessons)
        .order_by()  # the model's ordering would split the groups
        .values("lesson_id")
        .annotate(total=Count("pk"))
    }
    answers = {
        row["question__lesson_id"]: row
        for row in QuestionAnswer.objects.filter(
            user=user, question__lesson__in=lessons, question__retired_at__isnull=True
        )
        .order_by()
        .values("question__lesson_id")
        .annotate(answered=Count("pk"), correct=Count("pk", filter=Q(is_correct=True)))
    }
    return [
        LessonDone(
            lesson=lesson,
            completed_at=completed.get(lesson.pk),
            questions=counts.get(lesson.pk, 0),
            answered=answers[lesson.pk]["answered"] if lesson.pk in answers else 0,
            correct=answers[lesson.pk]["correct"] if lesson.pk in answers else 0,
        )
        for lesson in lessons
    ]


def lab_next_steps(*, lab: Lab, user) -> list[LabInCourse]:
    """For each course ``lab`` practises: the lessons it relates to, the next lab in the
    course's order and the course's certifications with ``user``'s eligibility."""
    keys: dict[str, list[str]] = {}
    for ref in lab.lesson_refs or []:
        course_key, _sep, lesson_key = str(ref).partition("/")
        keys.setdefault(course_key, []).append(lesson_key)
    places = []
    for course in Course.objects.published().filter(key__in=keys).order_by("order", "key"):
        lessons = {
            lesson.key: lesson
            for lesson in course.lessons.published().filter(key__in=keys[course.key])
        }
        ordered = [lessons[key] for key in keys[course.key] if key in lessons]
        labs = labs_for_course(course=course)
        position = next((i for i, other in enumerate(labs) if other.pk == lab.pk), None)
        following = (
            labs[position + 1] if position is not None and position + 1 < len(labs) else None
        )
        places.append(
            LabInCourse(
                course=course,
                lessons=_lessons_done(user, ordered),
                next_lab=following,
                next_lab_completed=following is not None
                and lab_is_completed_by(lab=following, user=user),
                certifications=[
                    certification_eligibility(certification=certification, user=user)
                    for certification in certifications_for_course(course=course)
                ],
            )
        )
    return places


@dataclass
class CourseCompletion:
    course: Course
    lessons: list[LessonDone]
    labs: list[LabCompletion]
    certifications: list[Eligibility]
    other_courses: list[CourseProgress]
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return bool(self.lessons) and all(item.completed_at for item in self.lessons)

    @property
    def lessons_done(self) -> int:
        return sum(1 for item in self.lessons if item.completed_at)

    @property
    def remaining(self) -> list[LessonDone]:
        return [item for item in self.lessons if not item.completed_at]

    @property
    def labs_completed(self) -> int:
        return sum(1 for item in self.labs if item.completed)

    @property
    def questions(self) -> int:
        return sum(item.questions for item in self.lessons)

    @property
    def answered(self) -> int:
        return sum(item.answered for item in self.lessons)

    @property
    def correct(self) -> int:
        return sum(item.correct for item in self.lessons)

    @property
    def duration(self) -> timedelta | None:
        if not (self.completed and self.started_at and self.finished_at):
            return None
        return max(self.finished_at - self.started_at, timedelta(0))

    @property
    def duration_text(self) -> str:
        return duration_text(self.duration)


def course_completion(*, course: Course, user) -> CourseCompletion | None:
    """The signed-in ``user``'s work in ``course``: lessons, labs, knowledge checks, the time
    from the first thing they did in it (a lesson marked done or a lab started) to the last
    (a lesson marked done or a lab's last step passed), and what comes next."""
    if user is None or not user.is_authenticated:
        return None
    lessons = list(course.lessons.published().order_by("order"))
    done = _lessons_done(user, lessons)
    found = [lab_completion(lab=lab, user=user) for lab in labs_for_course(course=course)]
    labs = [item for item in found if item is not None]
    moments_start = [item.completed_at for item in done if item.completed_at]
    moments_end = list(moments_start)
    first_session = LabSession.objects.filter(
        user=user, lab__in=[item.lab for item in labs]
    ).aggregate(first=Min("requested_at"))["first"]
    if first_session:
        moments_start.append(first_session)
    moments_end += [item.finished_at for item in labs if item.completed and item.finished_at]
    return CourseCompletion(
        course=course,
        lessons=done,
        labs=labs,
        certifications=[
            certification_eligibility(certification=certification, user=user)
            for certification in certifications_for_course(course=course)
        ],
        other_courses=[
            course_progress(course=other, user=user)
            for other in Course.objects.published().exclude(pk=course.pk)
        ],
        started_at=min(moments_start) if moments_start else None,
        finished_at=max(moments_end) if moments_end else None,
    )
