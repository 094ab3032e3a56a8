from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    name = "academy.courses"
    label = "courses"
    verbose_name = _("Courses")

    def ready(self) -> None:
        from academy.contentsync import ContentKind, register
        from academy.courses.content import courses_read
        from academy.courses.services import courses_apply

        register(ContentKind(name="courses", order=10, read=courses_read, apply=courses_apply))
