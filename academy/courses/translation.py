from modeltranslation.translator import TranslationOptions, register

from academy.courses.models import Choice, Course, Lesson, Module, Question


class FallbackToEnglish(TranslationOptions):
    # A missing Spanish text shows the English one; the page says so.
    fallback_languages = {"default": ("en",)}


@register(Course)
class CourseTranslation(FallbackToEnglish):
    fields = ("slug", "title", "summary")


@register(Module)
class ModuleTranslation(FallbackToEnglish):
    fields = ("title",)


@register(Lesson)
class LessonTranslation(FallbackToEnglish):
    fields = ("slug", "title", "summary", "body_html", "toc_html", "reading_minutes")


@register(Question)
class QuestionTranslation(FallbackToEnglish):
    fields = ("prompt", "explanation")


@register(Choice)
class ChoiceTranslation(FallbackToEnglish):
    fields = ("text",)
