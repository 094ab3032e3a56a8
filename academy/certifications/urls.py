from django.urls import include, path
from django.utils.translation import gettext_lazy as _

app_name = "certifications"

# Exams (views.py); certificates, credentials and the issuer (certificate_urls.py); staff
# statistics and exports (staff_urls.py).
urlpatterns = [
    path("", include("academy.certifications.certificate_urls")),
    path(_("staff/certifications/"), include("academy.certifications.staff_urls")),
]
