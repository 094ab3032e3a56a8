from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TabbedTranslationAdmin, TranslationTabularInline

from academy.courses.models import Choice, Course, Lesson, LessonProgress, Module, Question


class ModuleInline(TranslationTabularInline):
    model = Module
    fields = ("key", "title", "order", "retired_at")
    extra = 0


@admin.register(Course)
class CourseAdmin(TabbedTranslationAdmin):
    list_display = ("title", "key", "level", "order", "retired_at")
    list_filter = ("level", "retired_at")
    search_fields = ("key", "title_en", "title_es")
    inlines = [ModuleInline]


@admin.register(Lesson)
class LessonAdmin(TabbedTranslationAdmin):
    list_display = ("title", "course", "module", "order", "reading_minutes", "retired_at")
    list_filter = ("course", "retired_at")
    search_fields = ("key", "title_en", "title_es")
    readonly_fields = ("content_hash",)


class ChoiceInline(TranslationTabularInline):
    model = Choice
    extra = 0


@admin.register(Question)
class QuestionAdmin(TabbedTranslationAdmin):
    list_display = ("key", "lesson", "order", "retired_at")
    list_filter = ("lesson__course",)
    inlines = [ChoiceInline]


@admin.register(LessonProgress)
class LessonProgressAdmin(admin.ModelAdmin):
    list_display = ("user", "lesson", "last_visited_at", "completed_at")
    list_filter = ("lesson__course",)
    search_fields = ("user__username",)


admin.site.site_header = _("Chaos & GitOps Academy administration")
