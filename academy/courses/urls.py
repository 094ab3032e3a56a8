from django.urls import path
from django.utils.translation import gettext_lazy as _

from academy.courses import views

app_name = "courses"

urlpatterns = [
    path(_("courses/"), views.catalogue, name="catalogue"),
    path(_("dashboard/"), views.dashboard, name="dashboard"),
    path(_("courses/<slug:course_slug>/"), views.course_detail, name="course"),
    # Before the lesson pattern, which would otherwise take "complete" for a lesson's slug.
    path(_("courses/<slug:course_slug>/complete/"), views.course_complete, name="course_complete"),
    path(_("courses/<slug:course_slug>/<slug:lesson_slug>/"), views.lesson_detail, name="lesson"),
    path(
        _("courses/<slug:course_slug>/<slug:lesson_slug>/complete/"),
        views.lesson_mark_complete,
        name="lesson_complete",
    ),
]
