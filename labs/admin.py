from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from modeltranslation.admin import TabbedTranslationAdmin, TranslationStackedInline

from labs import services
from labs.models import CheckResult, Lab, LabSession, LabStep


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


@admin.register(LabSession)
class LabSessionAdmin(admin.ModelAdmin[LabSession]):
    list_display = ("pk", "lab", "user", "state", "requested_at", "expires_at", "extended")
    list_filter = ("state", "lab")
    search_fields = ("user__username", "lab__key")
    readonly_fields = [field.name for field in LabSession._meta.fields]
    inlines = [CheckResultInline]
    actions = ["stop_sessions"]

    @admin.action(description=_("Stop the selected sessions and destroy their containers"))
    def stop_sessions(self, request: HttpRequest, queryset: QuerySet[LabSession]) -> None:
        stopped = 0
        for session in queryset.filter(state__in=LabSession.LIVE_STATES):
            services.lab_session_stop(session=session)
            stopped += 1
        self.message_user(
            request,
            ngettext("%(count)d session stopped.", "%(count)d sessions stopped.", stopped)
            % {"count": stopped},
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
