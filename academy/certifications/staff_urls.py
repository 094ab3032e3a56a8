"""Staff statistics and exports, under staff/certifications/ (see urls.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from academy.certifications import staff_views

urlpatterns = [
    path("", staff_views.index, name="staff_index"),
    path(_("<slug:key>/statistics/"), staff_views.statistics, name="staff_statistics"),
    path(_("<slug:key>/statistics.csv"), staff_views.statistics_csv, name="staff_statistics_csv"),
    path(_("<slug:key>/attempts.csv"), staff_views.attempts_csv, name="staff_attempts_csv"),
]
