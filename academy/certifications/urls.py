from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from academy.certifications import views

app_name = "certifications"

# Exams (views.py); certificates, credentials and the issuer (certificate_urls.py); staff
# statistics and exports (staff_urls.py).
urlpatterns = [
    path(_("certifications/"), views.catalogue, name="catalogue"),
    path(_("certifications/<slug:slug>/"), views.detail, name="detail"),
    path(_("certifications/<slug:slug>/start/"), views.start, name="start"),
    path(_("exams/<uuid:public_id>/"), views.attempt, name="attempt"),
    path(_("exams/<uuid:public_id>/answer/"), views.answer, name="answer"),
    path(_("exams/<uuid:public_id>/save/"), views.save, name="save"),
    path(_("exams/<uuid:public_id>/submit/"), views.submit, name="submit"),
    path(
        _("exams/<uuid:public_id>/tasks/<int:position>/start/"),
        views.task_start,
        name="task_start",
    ),
    path(_("exams/<uuid:public_id>/result/"), views.result, name="result"),
    path("", include("academy.certifications.certificate_urls")),
    path(_("staff/certifications/"), include("academy.certifications.staff_urls")),
]
