"""Certifications are content: the sync writes them, the admin shows them. Edit
content/certifications/ instead; a change made here is undone by the next sync."""

from django.contrib import admin
from modeltranslation.admin import TabbedTranslationAdmin, TranslationTabularInline

from academy.certifications.models import Certification, Domain, Item, Option


class DomainInline(TranslationTabularInline):
    model = Domain
    fields = ("key", "title", "weight", "order", "retired_at")
    readonly_fields = ("key", "weight", "order", "retired_at")
    extra = 0
    can_delete = False


@admin.register(Certification)
class CertificationAdmin(TabbedTranslationAdmin):
    list_display = ("title", "key", "questions", "minutes", "pass_mark", "order", "retired_at")
    list_filter = ("retired_at",)
    search_fields = ("key", "title_en", "title_es")
    readonly_fields = ("key", "prerequisites", "content_hash", "retired_at")
    inlines = [DomainInline]


class OptionInline(TranslationTabularInline):
    model = Option
    fields = ("key", "text", "is_correct", "order")
    readonly_fields = ("key", "is_correct", "order")
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(TabbedTranslationAdmin):
    list_display = ("key", "certification", "domain", "kind", "lesson_ref", "retired_at")
    list_filter = ("certification", "domain", "kind", "retired_at")
    search_fields = ("key", "prompt_en", "prompt_es")
    readonly_fields = ("certification", "domain", "key", "kind", "lesson_ref", "content_hash")
    inlines = [OptionInline]
