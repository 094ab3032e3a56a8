from django.urls import path
from django.utils.translation import gettext_lazy as _

from labs import views

app_name = "labs"

urlpatterns = [
    path(_("labs/"), views.catalogue, name="catalogue"),
    path(_("labs/sessions/<int:session_id>/"), views.session_detail, name="session"),
    path(_("labs/sessions/<int:session_id>/status/"), views.session_status, name="status"),
    path(
        _("labs/sessions/<int:session_id>/steps/<int:number>/check/"),
        views.session_check,
        name="check",
    ),
    path(_("labs/sessions/<int:session_id>/results/"), views.session_results, name="results"),
    path(
        _("labs/sessions/<int:session_id>/results/refresh/"),
        views.session_results_refresh,
        name="refresh",
    ),
    path(_("labs/sessions/<int:session_id>/extend/"), views.session_extend, name="extend"),
    path(_("labs/sessions/<int:session_id>/stop/"), views.session_stop, name="stop"),
    path(_("labs/sessions/<int:session_id>/reset/"), views.session_reset, name="reset"),
    path(_("labs/sessions/<int:session_id>/restore/"), views.session_restore, name="restore"),
    path(_("labs/<slug:lab_slug>/"), views.lab_detail, name="lab"),
    path(_("labs/<slug:lab_slug>/start/"), views.lab_start, name="start"),
    path(_("labs/<slug:lab_slug>/complete/"), views.lab_complete, name="complete"),
]
