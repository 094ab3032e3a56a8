from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from modeltranslation.admin import TabbedTranslationAdmin, TranslationStackedInline

from labs import services
from labs.models import CheckResult, Lab, LabHost, LabSession, LabStep
from labs.services import hosts


class LabStepInline(TranslationStackedInline[LabStep, Lab]):
    model = LabStep
    extra = 0
    fields = ("number", "key", "title", "check_container", "messages")
    readonly_fields = fields


@admin.register(Lab)
class LabAdmin(TabbedTranslationAdmin[Lab]):
    list_display = (
        "title",
        "key",
        "difficulty",
        "duration_minutes",
        "warm_pool_size",
        "retired_at",
    )
    list_filter = ("difficulty", "retired_at")
    list_editable = ("warm_pool_size",)
    search_fields = ("key", "title_en", "title_es")
    readonly_fields = ("content_hash", "topology", "setup_script", "lesson_refs")
    inlines = [LabStepInline]


class CheckResultInline(admin.TabularInline[CheckResult, LabSession]):
    model = CheckResult
    extra = 0
    fields = ("created_at", "step", "passed", "messages", "exit_code", "timed_out", "duration_ms")
    readonly_fields = fields
    can_delete = False


@admin.register(LabHost)
class LabHostAdmin(admin.ModelAdmin[LabHost]):
    """Lab hosts announce themselves; staff drain and resume them (docs/scaling.md)."""

    list_display = ("name", "state", "capacity", "terminal_url", "seen_at")
    list_filter = ("state",)
    fields = ("name", "state", "capacity", "terminal_url", "details", "seen_at", "created_at")
    readonly_fields = fields
    actions = ["drain_hosts", "resume_hosts"]

    @admin.action(description=_("Drain the selected hosts (their sessions run out)"))
    def drain_hosts(self, request: HttpRequest, queryset: QuerySet[LabHost]) -> None:
        for host in queryset:
            hosts.host_drain(name=host.name)
        self.message_user(request, _("Draining: no new sessions go there."), messages.SUCCESS)

    @admin.action(description=_("Resume the selected hosts"))
    def resume_hosts(self, request: HttpRequest, queryset: QuerySet[LabHost]) -> None:
        for host in queryset:
            hosts.host_resume(name=host.name)
        self.message_user(request, _("Active: new sessions may go there."), messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LabSession)
class LabSessionAdmin(admin.ModelAdmin[LabSession]):
    list_display = ("pk", "lab", "user", "state", "host", "requested_at", "expires_at", "extended")
    list_filter = ("state", "host", "lab")
    search_fields = ("user__username", "lab__key")
    readonly_fields = [field.name for field in LabSession._meta.fields]
    inlines = [CheckResultInline]
    actions = ["stop_sessions"]

    @admin.action(description=_("Stop the selected sessions and destroy their containers"))
    def stop_sessions(self, request: HttpRequest, queryset: QuerySet[LabSession]) -> None:
        stopped = 0
        # The session's lab host removes the containers: the web process has no Docker.
        for session in queryset.filter(state__in=LabSession.LIVE_STATES):
            services.lab_session_end(session=session)
            stopped += 1
        self.message_user(
            request,
            ngettext("%(count)d session stopped.", "%(count)d sessions stopped.", stopped)
            % {"count": stopped},
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
