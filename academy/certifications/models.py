"""Practitioner certifications as content: the blueprint, its domains and the item pool.

Content rows are written only by ``content_sync`` (content/certifications/ is the desired
state). Removed content is retired, not deleted, so that attempts and certificates that point
at it keep their meaning.
"""

import uuid
from datetime import datetime
from typing import ClassVar, Self, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

_ContentT = TypeVar("_ContentT", bound=models.Model)


class ContentQuerySet(models.QuerySet[_ContentT]):
    def published(self) -> Self:
        return self.filter(retired_at__isnull=True)


# The translated models' managers have their types written out (objects, _default_manager):
# django-modeltranslation replaces each with a class of its own, made at run time, that
# django-stubs cannot see.
ContentManager = models.Manager.from_queryset(ContentQuerySet)


class Certification(models.Model):
    key = models.SlugField(_("key"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=120)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"))
    order = models.PositiveIntegerField(_("order"), default=0)
    # The blueprint: what one attempt is and how often a learner may make one.
    questions = models.PositiveIntegerField(_("questions per attempt"))
    minutes = models.PositiveIntegerField(_("minutes allowed"))
    pass_mark = models.PositiveIntegerField(_("pass mark (percent of the points)"))
    cooldown_hours = models.PositiveIntegerField(_("hours between two attempts"))
    attempts_count = models.PositiveIntegerField(_("attempts per period"))
    attempts_days = models.PositiveIntegerField(_("period of the attempts (days)"))
    validity_months = models.PositiveIntegerField(_("validity (months)"))
    prerequisites = models.JSONField(_("prerequisites"), default=dict, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[ContentManager["Certification"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Certification"]]  # see ContentManager

    class Meta:
        ordering = ["order", "key"]
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")

    def __str__(self) -> str:
        return self.title


class Domain(models.Model):
    certification = models.ForeignKey(
        Certification, on_delete=models.CASCADE, related_name="domains"
    )
    key = models.SlugField(_("key"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    weight = models.PositiveIntegerField(_("weight (percent)"))
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[ContentManager["Domain"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Domain"]]  # see ContentManager

    class Meta:
        ordering = ["certification", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["certification", "key"], name="domain_key_unique_in_certification"
            )
        ]
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.title


class ItemKind(models.TextChoices):
    SINGLE = "single", _("Single answer")
    MULTIPLE = "multiple", _("Multiple answers")
    SCENARIO = "scenario", _("Scenario")


class Item(models.Model):
    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="items")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(_("key"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=ItemKind.choices)
    # course-key/lesson-key: the lesson the item draws on, for feedback after an attempt.
    lesson_ref = models.CharField(_("lesson"), max_length=201)
    scenario = models.TextField(_("scenario"), blank=True)
    prompt = models.TextField(_("prompt"))
    explanation = models.TextField(_("explanation"))
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[ContentManager["Item"]] = ContentManager()
    _default_manager: ClassVar[ContentManager["Item"]]  # see ContentManager

    class Meta:
        ordering = ["certification", "domain__order", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["certification", "key"], name="item_key_unique_in_certification"
            )
        ]
        verbose_name = _("item")
        verbose_name_plural = _("items")

    def __str__(self) -> str:
        return self.key


class Option(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="options")
    key = models.SlugField(_("key"), max_length=100)
    text = models.TextField(_("text"))
    is_correct = models.BooleanField(_("correct"), default=False)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects: ClassVar[models.Manager["Option"]] = models.Manager()
    _default_manager: ClassVar[models.Manager["Option"]]  # see ContentManager

    class Meta:
        ordering = ["item", "order"]
        constraints = [
            models.UniqueConstraint(fields=["item", "key"], name="option_key_unique_in_item")
        ]
        verbose_name = _("option")
        verbose_name_plural = _("options")

    def __str__(self) -> str:
        return self.text


class CertificationTask(models.Model):
    """A practical task of a certification: an exam-only lab (content/certifications/<slug>/
    tasks/<task>/, the lab format) whose checks score points in one domain."""

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="tasks")
    lab = models.ForeignKey(
        "labs.Lab", on_delete=models.PROTECT, related_name="certification_tasks"
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="tasks")
    order = models.PositiveIntegerField(_("order"), default=0)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects = ContentQuerySet.as_manager()

    class Meta:
        ordering = ["certification", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["certification", "lab"], name="certification_task_lab_unique"
            )
        ]
        verbose_name = _("practical task")
        verbose_name_plural = _("practical tasks")

    def __str__(self) -> str:
        return str(self.lab)


# --- Attempts --------------------------------------------------------------------------------


class AttemptQuerySet(models.QuerySet["Attempt"]):
    def in_progress(self) -> Self:
        return self.filter(state=Attempt.State.IN_PROGRESS)

    def finished(self) -> Self:
        return self.filter(state=Attempt.State.GRADED)


class Attempt(models.Model):
    """One sitting of a certification's exam by one candidate.

    The draw, the option order and the key of each question are fixed on the server when the
    attempt starts; the deadline is the server's. Once submitted, nothing the candidate sends
    changes it: ``attempt_answer`` refuses anything but an attempt in progress before its
    deadline.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        # Submitted; practical tasks are being graded on the lab host.
        GRADING = "grading", _("Being graded")
        GRADED = "graded", _("Graded")

    class SubmittedBy(models.TextChoices):
        CANDIDATE = "candidate", _("The candidate")
        DEADLINE = "deadline", _("The deadline")

    public_id = models.UUIDField(_("public id"), unique=True, default=uuid.uuid4, editable=False)
    certification = models.ForeignKey(
        Certification, on_delete=models.PROTECT, related_name="attempts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certification_attempts"
    )
    language = models.CharField(_("language"), max_length=8)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.IN_PROGRESS
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.CharField(
        _("submitted by"), max_length=20, choices=SubmittedBy.choices, blank=True
    )
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True)
    # The blueprint as it was when the attempt started: content may change afterwards.
    pass_mark = models.PositiveIntegerField(_("pass mark (percent)"))
    points = models.PositiveIntegerField(_("points earned"), null=True, blank=True)
    points_possible = models.PositiveIntegerField(_("points possible"), null=True, blank=True)
    score = models.PositiveIntegerField(_("score (percent)"), null=True, blank=True)
    passed = models.BooleanField(_("passed"), null=True, blank=True)
    # [{"domain": key, "title_en": ..., "title_es": ..., "points": n, "possible": n}]
    domain_scores = models.JSONField(_("scores per domain"), default=list, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "certification"],
                condition=models.Q(state="in_progress"),
                name="one_attempt_in_progress_per_certification",
            )
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="attempt_state_deadline")]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")

    def __str__(self) -> str:
        return f"{self.certification} · {self.user} · {self.started_at:%Y-%m-%d %H:%M}"


class AttemptQuestion(models.Model):
    """A drawn item in one attempt: its position, the shuffled options and the key."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="questions")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="attempt_questions")
    position = models.PositiveSmallIntegerField(_("position"))
    # Option ids in the order this candidate sees them.
    option_order = models.JSONField(_("option order"), default=list)
    # The key at draw time: never sent to the browser.
    correct_options = models.JSONField(_("correct options"), default=list)
    selected = models.JSONField(_("selected options"), default=list, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    correct = models.BooleanField(_("correct"), null=True, blank=True)

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "position"], name="attempt_question_position_unique"
            ),
            models.UniqueConstraint(
                fields=["attempt", "item"], name="attempt_question_item_unique"
            ),
        ]
        verbose_name = _("attempt question")
        verbose_name_plural = _("attempt questions")

    def __str__(self) -> str:
        return f"{self.attempt_id} #{self.position}"


class AttemptTask(models.Model):
    """A practical task of one attempt: an exam-only lab, graded by its checks at submission."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="tasks")
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="attempt_tasks")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="attempt_tasks")
    position = models.PositiveSmallIntegerField(_("position"))
    session = models.ForeignKey(
        "labs.LabSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attempt_tasks",
    )
    points = models.PositiveIntegerField(_("points earned"), null=True, blank=True)
    points_possible = models.PositiveIntegerField(_("points possible"), default=0)
    # [{"step": key, "passed": bool}]: what the checks said at grading, for the record.
    verdicts = models.JSONField(_("verdicts"), default=list, blank=True)
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True)

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "lab"], name="attempt_task_lab_unique")
        ]
        verbose_name = _("attempt task")
        verbose_name_plural = _("attempt tasks")

    def __str__(self) -> str:
        return f"{self.attempt_id} task {self.position}"


# --- Certificates ----------------------------------------------------------------------------


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def valid(self, now: datetime | None = None) -> Self:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, valid_from__lte=now, valid_until__gt=now)


class Certificate(models.Model):
    """A certification held: the signed Open Badges 3.0 credential and its status entry.

    The credential is stored as signed (its data; the database may keep its keys in another
    order) and always served in one layout; any change to its data would break its proof.
    Revocation flips the certificate's bit in the status list, never the credential.
    """

    public_id = models.UUIDField(_("public id"), unique=True, default=uuid.uuid4, editable=False)
    certification = models.ForeignKey(
        Certification, on_delete=models.PROTECT, related_name="certificates"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates"
    )
    # Null for a certification awarded by staff outside the exam flow.
    attempt = models.OneToOneField(
        Attempt, on_delete=models.PROTECT, null=True, blank=True, related_name="certificate"
    )
    language = models.CharField(_("language"), max_length=8)
    recipient_name = models.CharField(_("recipient name"), max_length=200)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    status_index = models.PositiveIntegerField(_("status list index"), unique=True)
    credential = models.JSONField(_("signed credential"), default=dict)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="certificates_awarded",
    )
    award_reason = models.TextField(_("reason for the award"), blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="certificates_revoked",
    )
    revocation_reason = models.TextField(_("reason for the revocation"), blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")

    def __str__(self) -> str:
        return f"{self.certification} · {self.recipient_name}"
