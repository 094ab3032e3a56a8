"""Certificate pages: the holder's list, the public verification page and its form, the
credential file, the status lists and the issuer. Views parse input and call
academy.certifications.certificates."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from academy.accounts.typing import AuthenticatedRequest
from academy.certifications import certificates
from academy.certifications.credentials.verify import Failure
from academy.certifications.models import Certificate, Certification
from labs.services import limits

# What verifiers expect: the credential is a VC secured with an embedded proof; the status list
# is fetched by JSON-LD document loaders, which ask for application/ld+json.
CREDENTIAL_CONTENT_TYPE = "application/vc+ld+json"
STATUS_LIST_CONTENT_TYPE = "application/ld+json"
# The multipart envelope around a file: boundaries, headers and the CSRF token.
UPLOAD_OVERHEAD = 16 * 1024


def _max_bytes() -> int:
    return settings.ACADEMY_CREDENTIAL_UPLOAD_MAX_BYTES


def _too_large_message() -> str:
    return _t("The file is larger than %(size)s KB; a credential file is much smaller.") % {
        "size": _max_bytes() // 1024
    }


# The upload was refused as too large: a flag on the request, read by the view.
_TOO_LARGE = "_academy_credential_upload_too_large"


def _mark_too_large(request: HttpRequest | None) -> None:
    setattr(request, _TOO_LARGE, True)


def _too_large(request: HttpRequest) -> bool:
    return bool(getattr(request, _TOO_LARGE, False))


class _BoundedUploadHandler(FileUploadHandler):
    """Keeps an uploaded file in memory up to the limit, and stops reading the upload past it
    (the rest of the request is drained, never stored)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > _max_bytes():
            _mark_too_large(self.request)
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            self.buffer,
            self.field_name,
            self.file_name,
            self.content_type,
            file_size,
            self.charset,
            self.content_type_extra,
        )


class CredentialForm(forms.Form):
    file = forms.FileField(label=_("Credential file (.json)"), required=False)
    text = forms.CharField(
        label=_("Or paste the credential"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        upload, text = cleaned.get("file"), cleaned.get("text") or ""
        if upload is not None:
            if upload.size > _max_bytes():
                raise forms.ValidationError(_too_large_message())
            data = upload.read(_max_bytes() + 1)
        elif text.strip():
            data = text.encode("utf-8")
        else:
            raise forms.ValidationError(_("Choose a credential file or paste one."))
        if len(data) > _max_bytes():
            raise forms.ValidationError(_too_large_message())
        try:
            cleaned["credential"] = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise forms.ValidationError(
                _("This is not a JSON file, so it cannot be a credential.")
            ) from error
        return cleaned


FAILURE_MESSAGES = {
    Failure.STRUCTURE: _("This is not a well-formed Open Badges 3.0 credential."),
    Failure.SIGNATURE: _(
        "The signature does not match: the credential was changed after it was signed, or it "
        "was not signed by the key it names."
    ),
    Failure.NOT_YET_VALID: _("The credential is not valid yet."),
    Failure.EXPIRED: _("The credential has expired."),
    Failure.STATUS_LIST: _("The credential's revocation status could not be checked."),
    Failure.REVOKED: _("The credential has been revoked by the academy."),
}


def _verification(request: HttpRequest) -> dict[str, Any]:
    """The form and, on a POST, what verifying the credential in it says."""
    base = {"max_kb": _max_bytes() // 1024}
    if request.method != "POST":
        return {**base, "form": CredentialForm()}
    if not _too_large(request):
        request.FILES  # noqa: B018 - parses the upload, which may find it too large
    if _too_large(request):
        return {**base, "form": CredentialForm(), "form_error": _too_large_message(), "status": 413}
    form = CredentialForm(request.POST, request.FILES)
    if not form.is_valid():
        return {**base, "form": form, "status": 400}
    try:
        # Each check canonicalizes untrusted JSON-LD: bounded per visitor, like the labs' work.
        limits.rate_limit(
            "credential_verify", user=request.user, address=limits.client_address(request)
        )
    except limits.LabRateLimited as error:
        return {**base, "form": form, "form_error": str(error), "status": 429}
    check = certificates.credential_check(form.cleaned_data["credential"])
    result = check.result
    if check.signed_by_stranger:
        headline = _(
            "The credential is signed correctly, but by a key that is not this academy's: "
            "this academy did not issue it."
        )
    elif not result.valid:
        # An invalid result names its failure (verify.VerificationResult).
        headline = FAILURE_MESSAGES[result.failure or Failure.STRUCTURE]
    else:
        headline = _(
            "The credential is valid: signed by this academy, unchanged since, and current."
        )
    return {
        **base,
        "form": CredentialForm(),
        "check": check,
        "check_headline": headline,
        # The verifier's own words, in English: the technical reason for the record.
        "check_detail": result.message if not result.valid else "",
        "status": 200,
    }


_P = ParamSpec("_P")
_View = Callable[Concatenate[HttpRequest, _P], HttpResponse]


def _bounded(view: _View[_P]) -> _View[_P]:
    """Upload limits apply before anything reads the body, and so before the CSRF check."""

    protected = csrf_protect(view)

    @csrf_exempt
    def wrapper(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponse:
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > _max_bytes() + UPLOAD_OVERHEAD:
                # Refused unread: the view answers from this flag alone.
                _mark_too_large(request)
                return view(request, *args, **kwargs)
            request.upload_handlers = [_BoundedUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapper


@login_required
def my_certificates(request: AuthenticatedRequest) -> HttpResponse:
    now = timezone.now()
    rows = [
        {"certificate": c, "status": certificates.certificate_status(c, now)}
        for c in certificates.certificates_of_user(user=request.user)
    ]
    return render(request, "certifications/certificate_list.html", {"rows": rows})


@_bounded
def verify_file(request: HttpRequest) -> HttpResponse:
    context = _verification(request)
    status = context.pop("status", 200)
    return render(request, "certifications/certificate_verify.html", context, status=status)


def _certificate_or_404(public_id: UUID) -> Certificate:
    try:
        return certificates.certificate_get(public_id=public_id)
    except Certificate.DoesNotExist as error:
        raise Http404 from error


@_bounded
def certificate_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    certificate = _certificate_or_404(public_id)
    context = _verification(request)
    status = context.pop("status", 200)
    credential = certificate.credential
    context.update(
        {
            "certificate": certificate,
            "certification": certificate.certification,
            "status": certificates.certificate_status(certificate),
            "issuer_did": certificates.certificate_list_did(certificate),
            "certification_name": credential.get("name", certificate.certification.title),
            "language_name": dict(settings.LANGUAGES).get(
                certificate.language, certificate.language
            ),
            "is_holder": request.user == certificate.user,
        }
    )
    return render(request, "certifications/certificate_detail.html", context, status=status)


def certificate_credential(request: HttpRequest, public_id: UUID) -> HttpResponse:
    certificate = _certificate_or_404(public_id)
    response = HttpResponse(
        certificates.certificate_credential_bytes(certificate),
        content_type=CREDENTIAL_CONTENT_TYPE,
    )
    response["Content-Disposition"] = (
        f'attachment; filename="certificate-{certificate.public_id}.json"'
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


def certificate_pdf(request: HttpRequest, public_id: UUID) -> HttpResponse:
    certificate = _certificate_or_404(public_id)
    # Rendering takes a while: once per certificate and state, not once per download.
    cache_key = f"certificates:pdf:{certificate.public_id}:{certificate.revoked_at}"
    data = cache.get(cache_key)
    if data is None:
        from academy.certifications import pdf  # WeasyPrint is heavy: loaded when first needed

        data = pdf.certificate_pdf(
            certificate=certificate,
            verification_url=certificates.certificate_page_url(certificate),
        )
        cache.set(cache_key, data, 24 * 3600)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="certificate-{certificate.public_id}.pdf"'
    )
    return response


def status_list(request: HttpRequest, key: str) -> HttpResponse:
    if not key.startswith("z") or len(key) > 100:
        raise Http404
    try:
        document = certificates.status_list_credential(did="did:key:" + key)
    except certificates.IssuerKeyMissing as error:
        raise Http404 from error
    if document is None:
        raise Http404
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type=STATUS_LIST_CONTENT_TYPE
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


def _profile_or_none() -> dict[str, Any] | None:
    try:
        return certificates.issuer_profile()
    except certificates.IssuerKeyMissing:
        return None


def issuer(request: HttpRequest) -> HttpResponse:
    profile = _profile_or_none()
    status = 200 if profile else 503
    return render(
        request,
        "certifications/issuer.html",
        {
            "profile": profile,
            "certifications": Certification.objects.published(),
        },
        status=status,
    )


def issuer_profile_json(request: HttpRequest) -> HttpResponse:
    profile = _profile_or_none()
    if profile is None:
        return JsonResponse({"error": "no issuer key"}, status=503)
    response = JsonResponse(profile, json_dumps_params={"indent": 2})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def issuer_certification(request: HttpRequest, key: str) -> HttpResponse:
    """The permanent URL of a certification in credentials: on to its current page."""
    certification = get_object_or_404(Certification, key=key)
    return redirect("certifications:detail", slug=certification.slug)
