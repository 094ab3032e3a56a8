from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = _("Labs")

    def ready(self) -> None:
        from academy.contentsync import ContentKind, register
        from labs.content import labs_apply, labs_read

        register(ContentKind(name="labs", order=20, read=labs_read, apply=labs_apply))
