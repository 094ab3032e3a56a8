from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    name = "academy.courses"
    label = "courses"
    verbose_name = _("Courses")

    def ready(self) -> None:
        from academy.contentsync import ContentKind, register
        from academy.courses import caching
        from academy.courses.content import courses_read
        from academy.courses.services import courses_apply

        register(ContentKind(name="courses", order=10, read=courses_read, apply=courses_apply))
        # Last of all kinds: a sync that changed anything moves the pages' content version on.
        register(
            ContentKind(
                name="content-version",
                order=10_000,
                read=caching.content_version_read,
                apply=caching.content_version_apply,
            )
        )
        caching.connect_signals()
