"""The certificate as a PDF: one A4 landscape page, in the language it was earned in.

WeasyPrint renders ``certifications/pdf/certificate.html`` with nothing from outside: the fonts
are the system's DejaVu (scripts/bootstrap.sh installs it), the logo and the QR code (segno) are
inline SVG, and the URL fetcher refuses every URL, so a template that reaches for a resource
fails loudly in the tests instead of making a request on each download.

The signed credential is attached to the PDF (``credential.json``), so the printed page and
the proof travel together: any Open Badges 3.0 verifier checks it with no network. A revoked
certificate still renders, marked as revoked on its face, and carries no credential.
"""

from __future__ import annotations

from typing import Any, NoReturn

import segno
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_lazy
from weasyprint import HTML, Attachment
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from academy.certifications.certificates import certificate_credential_bytes

from .models import Certificate

TEMPLATE = "certifications/pdf/certificate.html"
LANGUAGES = ("en", "es")
# Long dates for a document (Django's DATE_FORMAT for English is the terse "Dec. 3, 2026");
# month names still come from Django's own catalogue.
DATE_FORMATS = {"en": "F j, Y", "es": r"j \d\e F \d\e Y"}
ATTACHMENT_NAME = "credential.json"
# The key labels, printed in the certificate's language with the other one as a smaller line.
LABELS = {
    # Translators: the heading of a printed certificate.
    "certificate": gettext_lazy("Certificate"),
    # Translators: label of the date a certificate was issued, on the printed certificate.
    "issued": gettext_lazy("Issued"),
    "valid_until": gettext_lazy("Valid until"),
    # Translators: label of who issued a certificate (the academy), on the printed certificate.
    "issuer": gettext_lazy("Issuer"),
}

# The site's mark (static/img/favicon.svg), inline so that nothing is fetched.
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" class="logo">'
    '<rect width="32" height="32" rx="7" fill="#0f5c55"/>'
    '<path d="M8 20a8 8 0 0 1 14-8" fill="none" stroke="#ffd166" stroke-width="3" '
    'stroke-linecap="round"/>'
    '<path d="M24 12a8 8 0 0 1-14 8" fill="none" stroke="#fff" stroke-width="3" '
    'stroke-linecap="round"/>'
    '<circle cx="22" cy="12" r="2.2" fill="#ffd166"/><circle cx="10" cy="20" r="2.2" fill="#fff"/>'
    "</svg>"
)


class ExternalResourceRefused(FatalURLFetchingError):  # type: ignore[misc]  # weasyprint: no types
    """The certificate template asked for a URL; the PDF is made from the template alone."""


class OfflineURLFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint has no types
    """A WeasyPrint URL fetcher that fetches nothing: no network, no file, no data URL.

    It raises a fatal error (WeasyPrint only logs ordinary fetch errors and goes on), so a
    stray ``<img src="https://...">`` or ``@import`` stops the rendering.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=True)

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> NoReturn:
        raise ExternalResourceRefused(f"the certificate PDF fetches no URL (asked for {url[:200]})")


def qr_code(url: str) -> segno.QRCode:
    """The QR code printed on the certificate; medium error correction survives a crease."""
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> str:
    """The QR code as an inline ``<svg>`` (no XML declaration), sized by the stylesheet."""
    return qr_code(url).svg_inline(
        scale=4, border=0, dark="#1b2330", omitsize=True, svgclass="qr-code", lineclass=None
    )


def short_did(did: str) -> str:
    """``did:key:z6MkhaXg…2doK``: enough to compare at a glance; the full one is in the
    metadata and in the attached credential."""
    if len(did) <= 32:
        return did
    return f"{did[:20]}…{did[-6:]}"


def _other_language(language: str) -> str:
    return next(code for code in LANGUAGES if code != language)


def bilingual_labels(language: str) -> dict[str, dict[str, str]]:
    """Each key label in ``language`` and, when its translation differs, in the other one."""
    with translation.override(language):
        primary = {key: str(label) for key, label in LABELS.items()}
    with translation.override(_other_language(language)):
        secondary = {key: str(label) for key, label in LABELS.items()}
    return {
        key: {
            "text": primary[key],
            "also": "" if secondary[key] == primary[key] else secondary[key],
        }
        for key in LABELS
    }


def breakable_url(url: str) -> SafeString:
    """``url`` escaped, with a line-break opportunity after each slash, so that under the QR
    code it wraps between path segments rather than inside the certificate id."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    path = "/<wbr>".join(escape(part) for part in rest.split("/"))
    return mark_safe(f"{escape(scheme)}{separator}{path}")  # each part is escaped


def _size_class(text: str, *, long: int, longer: int) -> str:
    """A smaller type for a long name or title, so that it stays in the middle of the page."""
    if len(text) > longer:
        return "longer"
    return "long" if len(text) > long else ""


def _language(certificate: Certificate) -> str:
    return certificate.language if certificate.language in LANGUAGES else "en"


def _attaches_credential(certificate: Certificate) -> bool:
    """A signed credential travels with the PDF, except on a revoked certificate."""
    return bool(certificate.credential) and certificate.revoked_at is None


def credential_bytes(certificate: Certificate) -> bytes:
    """The attached file, written as the verification page's credential download is."""
    return certificate_credential_bytes(certificate)


def certificate_html(*, certificate: Certificate, verification_url: str) -> str:
    """The HTML that ``certificate_pdf`` renders, in the certificate's language."""
    language = _language(certificate)
    credential: dict[str, Any] = certificate.credential or {}
    issuer = credential.get("issuer")
    issuer = issuer if isinstance(issuer, dict) else {}
    with translation.override(language):
        site_name = gettext("Chaos & GitOps Academy")
        context = {
            "language": language,
            "other_language": _other_language(language),
            "date_format": DATE_FORMATS[language],
            "site_name": site_name,
            "issuer_name": str(issuer.get("name") or site_name),
            "issuer_did": str(issuer.get("id") or ""),
            "issuer_did_short": short_did(str(issuer.get("id") or "")),
            "certificate": certificate,
            # modeltranslation gives the title in the active language (English as fallback).
            "certification_title": certificate.certification.title,
            "recipient_name": certificate.recipient_name,
            "name_size": _size_class(certificate.recipient_name, long=36, longer=70),
            "title_size": _size_class(str(certificate.certification.title), long=60, longer=110),
            "verification_url": verification_url,
            "verification_url_breakable": breakable_url(verification_url),
            "labels": bilingual_labels(language),
            "qr_svg": qr_svg(verification_url),
            "logo_svg": LOGO_SVG,
            "revoked": certificate.revoked_at is not None,
            "attached": _attaches_credential(certificate),
            "attachment_name": ATTACHMENT_NAME,
        }
        return render_to_string(TEMPLATE, context)


def certificate_pdf(*, certificate: Certificate, verification_url: str) -> bytes:
    """One A4 landscape page: the certificate in its own language, with a QR code to
    ``verification_url`` and, unless revoked, the signed credential attached."""
    fetcher = OfflineURLFetcher()
    html = HTML(
        string=certificate_html(certificate=certificate, verification_url=verification_url),
        url_fetcher=fetcher,
    )
    attachments = []
    if _attaches_credential(certificate):
        with translation.override(_language(certificate)):
            description = gettext("The signed Open Badges 3.0 credential of this certificate")
        attachments.append(
            Attachment(
                string=credential_bytes(certificate),
                name=ATTACHMENT_NAME,
                description=description,
                created=certificate.issued_at,
                modified=certificate.issued_at,
                relationship="Data",
                url_fetcher=fetcher,
            )
        )
    pdf: bytes = html.write_pdf(
        attachments=attachments,
        custom_metadata=True,
        pdf_tags=True,
        # The same certificate gives the same file identifier, whoever downloads it.
        pdf_identifier=certificate.public_id.hex.encode(),
    )
    return pdf
