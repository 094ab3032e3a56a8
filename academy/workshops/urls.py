from django.urls import path
from django.utils.translation import gettext_lazy as _

from academy.workshops import views

app_name = "workshops"

urlpatterns = [
    # Instructors.
    path(_("workshops/manage/"), views.instructor_list, name="instructor_list"),
    path(_("workshops/manage/new/"), views.workshop_create, name="create"),
    path(_("workshops/manage/<int:pk>/"), views.instructor_detail, name="manage"),
    path(_("workshops/manage/<int:pk>/edit/"), views.workshop_edit, name="edit"),
    path(_("workshops/manage/<int:pk>/projector/"), views.projector, name="projector"),
    path(
        _("workshops/manage/<int:pk>/attendees/<int:attendee_id>/resume-code/"),
        views.attendee_resume_code_renew,
        name="attendee_resume_code",
    ),
    path(_("workshops/manage/<int:pk>/start/"), views.start, name="start"),
    path(_("workshops/manage/<int:pk>/end/"), views.end, name="end"),
    path(_("workshops/manage/<int:pk>/results.csv"), views.results_csv, name="results_csv"),
    # Attendees.
    path(_("join/"), views.join, name="join"),
    path(_("join/resume/"), views.resume, name="resume"),
    path(_("join/<str:code>/"), views.join_code, name="join_code"),
    path(_("workshops/<slug:slug>/my-labs/"), views.home, name="home"),
    path(
        _("workshops/<slug:slug>/my-labs/resume-code/hide/"),
        views.resume_code_hide,
        name="resume_code_hide",
    ),
    path(
        _("workshops/<slug:slug>/my-labs/resume-code/new/"),
        views.resume_code_renew,
        name="resume_code_renew",
    ),
    path(_("workshops/<slug:slug>/my-labs/account/"), views.claim, name="claim"),
    # The live board and the game day (academy/workshops/board.py, gameday.py).
    path(_("workshops/manage/<int:pk>/board/"), views.board, name="board"),
    path(_("workshops/manage/<int:pk>/board/announce/"), views.board_announce, name="announce"),
    path(_("workshops/manage/<int:pk>/board/extend/"), views.board_extend, name="extend"),
    path(_("workshops/manage/<int:pk>/board/timer/"), views.board_timer, name="timer"),
    path(
        _("workshops/manage/<int:pk>/board/help/<int:attendee_id>/clear/"),
        views.board_help_clear,
        name="help_clear",
    ),
    path(
        _("workshops/manage/<int:pk>/board/watch/<int:attendee_id>/"),
        views.board_watch,
        name="watch",
    ),
    path(_("workshops/manage/<int:pk>/game-day/"), views.gameday_new, name="gameday"),
    path(
        _("workshops/manage/<int:pk>/game-day/<int:game_day_id>/"),
        views.gameday_debrief,
        name="gameday_debrief",
    ),
    path(_("workshops/<slug:slug>/my-labs/help/"), views.help_toggle, name="help"),
    path(
        _("workshops/<slug:slug>/my-labs/game-day/<int:game_day_id>/"),
        views.gameday_mine,
        name="gameday_mine",
    ),
    # Everyone.
    path(_("workshops/<slug:slug>/"), views.public, name="public"),
]
