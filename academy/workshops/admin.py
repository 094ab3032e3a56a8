"""Workshops in the admin: staff see every workshop (instructors' pages show only their own).
Join codes and resume-code hashes are read only; change workshops from the instructor pages,
which check the course's labs and the capacity."""

from django.contrib import admin
from django.http import HttpRequest

from academy.workshops.models import Attendee, Workshop, WorkshopLab


class WorkshopLabInline(admin.TabularInline[WorkshopLab, Workshop]):
    model = WorkshopLab
    fields = ("position", "lab")
    extra = 0


class AttendeeInline(admin.TabularInline[Attendee, Workshop]):
    model = Attendee
    fields = ("display_name", "user", "joined_at", "last_seen_at", "claimed")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Workshop | None = None) -> bool:
        return False


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin[Workshop]):
    list_display = ("title", "code", "state", "starts_at", "ends_at", "language", "capacity")
    list_filter = ("state", "language")
    search_fields = ("title", "code", "slug")
    date_hierarchy = "starts_at"
    readonly_fields = ("code", "slug", "created_by", "created_at", "updated_at")
    filter_horizontal = ("instructors",)
    raw_id_fields = ("course",)
    inlines = [WorkshopLabInline, AttendeeInline]


@admin.register(Attendee)
class AttendeeAdmin(admin.ModelAdmin[Attendee]):
    list_display = ("display_name", "workshop", "user", "joined_at", "claimed")
    list_filter = ("claimed",)
    search_fields = ("display_name", "workshop__code", "workshop__title", "user__username")
    readonly_fields = ("workshop", "user", "resume_code_hash", "joined_at", "claimed_at")
    list_select_related = ("workshop", "user")
