from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificationsConfig(AppConfig):
    name = "academy.certifications"
    label = "certifications"
    verbose_name = _("Certifications")

    def ready(self) -> None:
        from academy.certifications.content import certifications_read
        from academy.certifications.services import certifications_apply
        from academy.contentsync import ContentKind, register

        # After courses (10) and labs (20): items name lessons, prerequisites name courses.
        register(
            ContentKind(
                name="certifications",
                order=30,
                read=certifications_read,
                apply=certifications_apply,
            )
        )
