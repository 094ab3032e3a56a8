"""Certifications are content: the sync writes them, the admin shows them. Edit
content/certifications/ instead; a change made here is undone by the next sync.

Attempts are read only. Certificates are read only too, except for one action: revoking,
with a reason, by staff who may change certificates (certificates.certificate_revoke).
"""

from typing import TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TabbedTranslationAdmin, TranslationTabularInline

from academy.accounts.typing import signed_in
from academy.certifications import certificates
from academy.certifications.models import (
    Attempt,
    Certificate,
    Certification,
    Domain,
    Item,
    Option,
)


class DomainInline(TranslationTabularInline[Domain, Certification]):
    model = Domain
    fields = ("key", "title", "weight", "order", "retired_at")
    readonly_fields = ("key", "weight", "order", "retired_at")
    extra = 0
    can_delete = False


@admin.register(Certification)
class CertificationAdmin(TabbedTranslationAdmin[Certification]):
    list_display = ("title", "key", "questions", "minutes", "pass_mark", "order", "retired_at")
    list_filter = ("retired_at",)
    search_fields = ("key", "title_en", "title_es")
    readonly_fields = ("key", "prerequisites", "content_hash", "retired_at")
    inlines = [DomainInline]


class OptionInline(TranslationTabularInline[Option, Item]):
    model = Option
    fields = ("key", "text", "is_correct", "order")
    readonly_fields = ("key", "is_correct", "order")
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(TabbedTranslationAdmin[Item]):
    list_display = ("key", "certification", "domain", "kind", "lesson_ref", "retired_at")
    list_filter = ("certification", "domain", "kind", "retired_at")
    search_fields = ("key", "prompt_en", "prompt_es")
    readonly_fields = ("certification", "domain", "key", "kind", "lesson_ref", "content_hash")
    inlines = [OptionInline]


_Row = TypeVar("_Row", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[_Row]):
    """Rows written by services only: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _Row | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: _Row | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin[Attempt]):
    list_display = ("certification", "user", "state", "score", "passed", "started_at")
    list_filter = ("certification", "state", "passed")
    search_fields = ("user__username", "public_id")
    date_hierarchy = "started_at"

    def has_change_permission(self, request: HttpRequest, obj: Attempt | None = None) -> bool:
        return False


class RevocationForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the revocation"),
        max_length=certificates.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown on the certificate's public page."),
    )


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin[Certificate]):
    list_display = (
        "public_id",
        "certification",
        "recipient_name",
        "language",
        "issued_at",
        "valid_until",
        "revoked_at",
    )
    list_filter = ("certification", "language", "revoked_at")
    search_fields = ("public_id", "recipient_name", "user__username")
    date_hierarchy = "issued_at"
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected certificates"), permissions=["change"])
    def revoke(
        self, request: HttpRequest, queryset: QuerySet[Certificate]
    ) -> TemplateResponse | None:
        staff = signed_in(request.user)
        if staff is None or not self.has_change_permission(request):
            raise PermissionDenied
        form = RevocationForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            done = 0
            for certificate in queryset:
                try:
                    certificates.certificate_revoke(
                        certificate=certificate, by=staff, reason=form.cleaned_data["reason"]
                    )
                except certificates.CertificateError as error:
                    self.message_user(request, f"{certificate}: {error.message}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    _("%(count)s certificates revoked.") % {"count": done},
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke certificates"),
            "opts": self.model._meta,
            "certificates": queryset,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "certifications/certificate_admin_revoke.html", context)
