"""Writes of the learning side: content sync, progress, knowledge-check answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from academy.contentsync import SyncReport, content_sync, localized, retire, upsert
from academy.courses.content import LANGUAGES, CourseSpec, LessonSpec
from academy.courses.models import (
    Choice,
    Course,
    Lesson,
    LessonProgress,
    Module,
    Question,
    QuestionAnswer,
)
from academy.courses.rendering import RENDERER_VERSION, render_lesson


def _lesson_values(spec: LessonSpec, lesson: Lesson | None) -> dict:
    source_hash = f"{RENDERER_VERSION}:{spec.source_hash}"
    values: dict = {"content_hash": source_hash}
    for language in LANGUAGES:
        version = spec.versions.get(language)
        values[f"slug_{language}"] = version.slug if version else ""
        values[f"title_{language}"] = version.title if version else ""
        values[f"summary_{language}"] = version.summary if version else ""
    if lesson is not None and lesson.content_hash == source_hash:
        return values  # unchanged source: keep the HTML rendered last time
    for language in LANGUAGES:
        version = spec.versions.get(language)
        rendered = render_lesson(version.body_markdown) if version else None
        values[f"body_html_{language}"] = rendered.body_html if rendered else ""
        values[f"toc_html_{language}"] = rendered.toc_html if rendered else ""
        values[f"reading_minutes_{language}"] = rendered.reading_minutes if rendered else 0
    return values


def _apply_course(report: SyncReport, spec: CourseSpec, now) -> None:
    course = upsert(
        report,
        Course,
        {"key": spec.key},
        {
            "order": spec.order,
            "level": spec.level,
            **localized("slug", spec.slug),
            **localized("title", spec.title),
            **localized("summary", spec.summary),
        },
    )
    lesson_order = 0
    for module_order, module_spec in enumerate(spec.modules):
        module = upsert(
            report,
            Module,
            {"course": course, "key": module_spec.key},
            {"order": module_order, **localized("title", module_spec.title)},
        )
        for lesson_key in module_spec.lesson_keys:
            lesson_spec = spec.lessons[lesson_key]
            existing = Lesson.objects.filter(course=course, key=lesson_key).first()
            lesson = upsert(
                report,
                Lesson,
                {"course": course, "key": lesson_key},
                {"module": module, "order": lesson_order, **_lesson_values(lesson_spec, existing)},
            )
            lesson_order += 1
            _apply_questions(report, lesson, lesson_spec, now)
    retire(report, course.modules.all(), {m.key for m in spec.modules}, now)
    retire(report, course.lessons.all(), set(spec.lessons), now)


def _apply_questions(report: SyncReport, lesson: Lesson, spec: LessonSpec, now) -> None:
    for order, question_spec in enumerate(spec.questions):
        question = upsert(
            report,
            Question,
            {"lesson": lesson, "key": question_spec.key},
            {
                "order": order,
                **localized("prompt", question_spec.prompt),
                **localized("explanation", question_spec.explanation),
            },
        )
        for choice_order, choice_spec in enumerate(question_spec.choices):
            upsert(
                report,
                Choice,
                {"question": question, "key": choice_spec.key},
                {
                    "order": choice_order,
                    "is_correct": choice_spec.is_correct,
                    **localized("text", choice_spec.text),
                },
            )
        removed = question.choices.exclude(key__in=[c.key for c in question_spec.choices])
        count, _ = removed.delete()
        if count:
            report.retired[Choice._meta.verbose_name_plural] += count
    retire(report, lesson.questions.all(), {q.key for q in spec.questions}, now)


def courses_apply(report: SyncReport, courses: list[CourseSpec], now) -> None:
    """Writes courses, modules, lessons and knowledge checks; inside content_sync's
    transaction (registered in CoursesConfig.ready)."""
    for course_spec in courses:
        _apply_course(report, course_spec, now)
    retire(report, Course.objects.all(), {c.key for c in courses}, now)


# A reader's visits to the lesson they read last are written at most this often: reloading it,
# or coming back to it from another page, changes nothing another page shows.
VISIT_RESOLUTION = timedelta(minutes=5)


def lesson_visit(*, user, lesson: Lesson, visits: dict | None = None) -> None:
    """Records that ``user`` read ``lesson`` now: one UPDATE on every visit but the first.

    ``visits``: the reader's lesson_visits in every course, when the page read them. When
    ``lesson`` is already the one they visited last, less than VISIT_RESOLUTION ago, nothing is
    written: which lesson they read last (where the dashboard and the course cards resume) is
    the same either way, and the page costs no write."""
    now = timezone.now()
    if visits:
        latest = max(visits.values(), key=lambda visit: visit.last_visited_at)
        if latest.lesson_id == lesson.pk and now - latest.last_visited_at < VISIT_RESOLUTION:
            return
    if not LessonProgress.objects.filter(user=user, lesson=lesson).update(last_visited_at=now):
        LessonProgress.objects.update_or_create(
            user=user, lesson=lesson, defaults={"last_visited_at": now}
        )


def lesson_complete(*, user, lesson: Lesson) -> LessonProgress:
    now = timezone.now()
    progress, created = LessonProgress.objects.get_or_create(
        user=user, lesson=lesson, defaults={"last_visited_at": now, "completed_at": now}
    )
    if not created and progress.completed_at is None:
        progress.completed_at = now
        progress.save(update_fields=["completed_at"])
    return progress


@dataclass(frozen=True)
class GradedQuestion:
    question: Question
    chosen: Choice | None
    correct_choice: Choice

    @property
    def is_correct(self) -> bool:
        return self.chosen is not None and self.chosen.pk == self.correct_choice.pk


def knowledge_check_grade(*, lesson: Lesson, answers: dict[int, int], user=None) -> list:
    """Grades answers ({question id: choice id}) on the server; stores them for a learner.

    Unknown ids are treated as unanswered, so a tampered form cannot score.
    """
    graded = []
    now = timezone.now()
    questions = lesson.questions.published().prefetch_related("choices")
    for question in questions:
        choices = {choice.pk: choice for choice in question.choices.all()}
        correct = next(choice for choice in choices.values() if choice.is_correct)
        picked = answers.get(question.pk)
        chosen = choices.get(picked) if picked is not None else None
        result = GradedQuestion(question, chosen, correct)
        graded.append(result)
        if user is not None and user.is_authenticated and chosen is not None:
            QuestionAnswer.objects.update_or_create(
                user=user,
                question=question,
                defaults={"choice": chosen, "is_correct": result.is_correct, "answered_at": now},
            )
    return graded


__all__ = ["content_sync", "courses_apply"]  # content_sync: the registry's, kept here for callers
