"""Writes of the learning side: content sync, progress, knowledge-check answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models, transaction
from django.utils import timezone

from academy.courses.content import LANGUAGES, ContentSet, CourseSpec, LessonSpec, content_read
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
from labs.content import labs_apply


@dataclass
class SyncReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    retired: Counter = field(default_factory=Counter)
    content: ContentSet | None = None
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated or +self.retired)


def localized(name: str, text) -> dict[str, str]:
    return {f"{name}_{language}": text.get(language) for language in LANGUAGES}


def upsert(report: SyncReport, model: type[models.Model], lookup: dict, values: dict):
    """Creates or updates one row; counts only rows whose values really change."""
    values = {**values, "retired_at": None} if _retirable(model) else values
    instance = model.objects.filter(**lookup).first()
    label = model._meta.verbose_name_plural
    if instance is None:
        instance = model.objects.create(**lookup, **values)
        report.created[label] += 1
        return instance
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        instance.save(update_fields=changed)
        report.updated[label] += 1
    return instance


def _retirable(model: type[models.Model]) -> bool:
    return any(f.name == "retired_at" for f in model._meta.fields)


def retire(report: SyncReport, queryset: models.QuerySet, keep_keys: set[str], now) -> None:
    stale = queryset.filter(retired_at__isnull=True).exclude(key__in=keep_keys)
    count = stale.update(retired_at=now)
    if count:
        report.retired[queryset.model._meta.verbose_name_plural] += count


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


def content_sync(*, root: Path, apply: bool = True) -> SyncReport:
    """Reconciles the database to the content tree at ``root``.

    Reads and validates everything first (raising ``ContentError`` with every problem found),
    then applies all of it in one transaction, or nothing. With ``apply=False`` the changes
    are worked out and rolled back, so the report says what a sync would do.
    """
    content = content_read(root=root)
    report = SyncReport(content=content)
    now = timezone.now()
    with transaction.atomic():
        for course_spec in content.courses:
            _apply_course(report, course_spec, now)
        retire(report, Course.objects.all(), {c.key for c in content.courses}, now)
        labs_apply(report, content.labs, now)
        if not apply:
            transaction.set_rollback(True)
    report.applied = apply
    return report


def lesson_visit(*, user, lesson: Lesson) -> None:
    LessonProgress.objects.update_or_create(
        user=user, lesson=lesson, defaults={"last_visited_at": timezone.now()}
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
        chosen = choices.get(answers.get(question.pk))
        result = GradedQuestion(question, chosen, correct)
        graded.append(result)
        if user is not None and user.is_authenticated and chosen is not None:
            QuestionAnswer.objects.update_or_create(
                user=user,
                question=question,
                defaults={"choice": chosen, "is_correct": result.is_correct, "answered_at": now},
            )
    return graded
