"""Practitioner certifications as content: the blueprint, its domains and the item pool.

Content rows are written only by ``content_sync`` (content/certifications/ is the desired
state). Removed content is retired, not deleted, so that attempts and certificates that point
at it keep their meaning.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ContentQuerySet(models.QuerySet):
    def published(self):
        return self.filter(retired_at__isnull=True)


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

    objects = ContentQuerySet.as_manager()

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

    objects = ContentQuerySet.as_manager()

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

    objects = ContentQuerySet.as_manager()

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

    class Meta:
        ordering = ["item", "order"]
        constraints = [
            models.UniqueConstraint(fields=["item", "key"], name="option_key_unique_in_item")
        ]
        verbose_name = _("option")
        verbose_name_plural = _("options")

    def __str__(self) -> str:
        return self.text
