from modeltranslation.translator import TranslationOptions, register

from academy.certifications.models import Certification, Domain, Item, Option


class FallbackToEnglish(TranslationOptions):
    # A missing Spanish text shows the English one; the page says so.
    fallback_languages = {"default": ("en",)}


@register(Certification)
class CertificationTranslation(FallbackToEnglish):
    fields = ("slug", "title", "summary")


@register(Domain)
class DomainTranslation(FallbackToEnglish):
    fields = ("title",)


@register(Item)
class ItemTranslation(FallbackToEnglish):
    fields = ("scenario", "prompt", "explanation")


@register(Option)
class OptionTranslation(FallbackToEnglish):
    fields = ("text",)
