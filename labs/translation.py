from modeltranslation.translator import register

from academy.courses.translation import FallbackToEnglish
from labs.models import Lab, LabStep


@register(Lab)
class LabTranslation(FallbackToEnglish):
    fields = ("slug", "title", "summary")


@register(LabStep)
class LabStepTranslation(FallbackToEnglish):
    fields = ("title", "body_html")
