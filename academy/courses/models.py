"""Courses, modules, lessons and knowledge checks, plus each learner's progress.

Content rows are written only by ``content_sync`` (content/ is the desired state). Removed
content is retired, not deleted, so that learners' progress survives edits of the course.
"""

from typing import ClassVar, Self, TypeVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

_ContentT = TypeVar("_ContentT", bound=models.Model)


class ContentQuerySet(models.QuerySet[_ContentT]):
    def published(self) -> Self:
        return self.filter(retired_at__isnull=True)


# The translated models' managers have their types written out (objects, _default_manager):
# django-modeltranslation replaces each with a class of its own, made at run time, that
# django-stubs cannot see.
ContentManager = models.Manager.from_queryset(ContentQuerySet)


class Level(models.TextChoices):
    BEGINNER = "beginner", _("Beginner")
    INTERMEDIATE = "intermediate", _("Intermediate")
    ADVANCED = "advanced", _("Advanced")


class Course(models.Model):
    key = models.SlugField(_("key"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=120)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"))
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[ContentManager["Course"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Course"]]  # see ContentManager

    class Meta:
        ordering = ["order", "key"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("courses:course", kwargs={"course_slug": self.slug})


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    key = models.SlugField(_("key"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[ContentManager["Module"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Module"]]  # see ContentManager

    class Meta:
        ordering = ["course", "order"]
        constraints = [
            models.UniqueConstraint(fields=["course", "key"], name="module_key_unique_in_course")
        ]
        verbose_name = _("module")
        verbose_name_plural = _("modules")

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    key = models.SlugField(_("key"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=120)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    # Rendered and sanitised at sync time, once per content version; never per request.
    body_html = models.TextField(_("body (HTML)"), blank=True)
    toc_html = models.TextField(_("table of contents (HTML)"), blank=True)
    reading_minutes = models.PositiveIntegerField(_("reading time in minutes"), default=0)
    content_hash = models.CharField(
        _("content hash"), max_length=80, blank=True
    )  # "<renderer>:<sha256>"
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[ContentManager["Lesson"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Lesson"]]  # see ContentManager

    class Meta:
        ordering = ["course", "order"]
        constraints = [
            models.UniqueConstraint(fields=["course", "key"], name="lesson_key_unique_in_course")
        ]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(
            "courses:lesson",
            kwargs={"course_slug": self.course.slug, "lesson_slug": self.slug},
        )


class Question(models.Model):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(_("key"), max_length=100)
    prompt = models.TextField(_("prompt"))
    explanation = models.TextField(_("explanation"))
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[ContentManager["Question"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Question"]]  # see ContentManager

    class Meta:
        ordering = ["lesson", "order"]
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="question_key_unique_in_lesson")
        ]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.prompt


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    key = models.SlugField(_("key"), max_length=100)
    text = models.TextField(_("text"))
    is_correct = models.BooleanField(_("correct"), default=False)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects: ClassVar[models.Manager["Choice"]] = models.Manager()
    _default_manager: ClassVar[models.Manager["Choice"]]  # see ContentManager

    class Meta:
        ordering = ["question", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "key"], name="choice_key_unique_in_question"
            )
        ]
        verbose_name = _("choice")
        verbose_name_plural = _("choices")

    def __str__(self) -> str:
        return self.text


class LessonProgress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    last_visited_at = models.DateTimeField(_("last visited at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lesson"], name="progress_unique_per_lesson")
        ]
        verbose_name = _("lesson progress")
        verbose_name_plural = _("lesson progress")

    def __str__(self) -> str:
        return f"{self.user} · {self.lesson}"


class QuestionAnswer(models.Model):
    """A learner's latest answer to one knowledge-check question."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="question_answers"
    )
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    choice = models.ForeignKey(Choice, on_delete=models.CASCADE, related_name="+")
    is_correct = models.BooleanField(_("correct"))
    answered_at = models.DateTimeField(_("answered at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "question"], name="answer_unique_per_question")
        ]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")

    def __str__(self) -> str:
        return f"{self.user} · {self.question.key}"
