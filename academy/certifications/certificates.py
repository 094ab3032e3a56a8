"""Certificates: issue, revoke, the status lists, the issuer's keys and profile.

A certificate's credential is an Open Badges 3.0 ``OpenBadgeCredential`` signed by the issuer's
Ed25519 key (a ``did:key``), stored as signed and served in one layout. Revocation never
touches a credential: it sets the certificate's bit in the W3C Bitstring Status List of the key
that signed it.

Each issuer key has its own status list, at a URL that names the key. A status list is not
stored: it is derived from the certificates (which indices of that list are revoked) and signed
with ``created`` set to its last change, so that the same state always gives the same bytes
(Ed25519 signatures are deterministic); the signed document is cached per state.

The secret key is a file outside the repository (``settings.ACADEMY_ISSUER_KEY_FILE``); retired
keys are kept beside it in ``retired/`` so that the status lists of older credentials can still
be updated. docs/certificates.md describes creating and rotating keys.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from academy.certifications.credentials import badges, keys, verify
from academy.certifications.models import Attempt, Certificate, Certification

if TYPE_CHECKING:
    from academy.accounts.models import User

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "es")
MAX_REASON_LENGTH = 1000
# Status list URLs, credential ids and the issuer page are permanent (they are inside signed
# credentials and printed on PDFs): their paths are never translated, and the status list's
# prefix is always English.
STATUS_LIST_PATH = "/en/certificates/status/{key}/"
ISSUER_PATH = "/{language}/issuer/"
ACHIEVEMENT_PATH = "/{language}/issuer/certifications/{key}/"
RETIRED_DIR = "retired"
INDEX_ATTEMPTS = 20


class CertificateError(Exception):
    """A certificate action the rules refuse; ``message`` is in the user's language."""

    def __init__(self, message: str | StrPromise) -> None:
        super().__init__(str(message))
        self.message = message


class IssuerKeyMissing(CertificateError):
    """No issuer key where settings say it is: ``manage.py issuer_key create`` makes one."""


class CertificateStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


# --- Issuer keys -----------------------------------------------------------------------------


def issuer_key_path() -> Path:
    return Path(settings.ACADEMY_ISSUER_KEY_FILE)


def retired_keys_dir() -> Path:
    return issuer_key_path().parent / RETIRED_DIR


def _write_secret(path: Path, key: keys.IssuerKey) -> None:
    """Write a PEM readable by its owner only, never replacing an existing file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(keys.issuer_key_to_pem(key))


def issuer_key_create() -> keys.IssuerKey:
    """A new issuer key in the key file; refuses to replace one (FileExistsError)."""
    key = keys.IssuerKey.generate()
    _write_secret(issuer_key_path(), key)
    return key


def issuer_key_current() -> keys.IssuerKey:
    path = issuer_key_path()
    if not path.is_file():
        raise IssuerKeyMissing(
            _(
                "There is no issuer key at %(path)s. Create one with "
                "'python manage.py issuer_key create'."
            )
            % {"path": path}
        )
    return keys.load_issuer_key(path)


def issuer_key_rotate() -> tuple[keys.IssuerKey, keys.IssuerKey]:
    """Retire the current key (kept in retired/, to sign its status list) and create a new one.

    Credentials already issued keep verifying: each names its own did:key. Returns (old, new).
    """
    old = issuer_key_current()
    retired = retired_keys_dir() / f"{old.public_key_multibase}.pem"
    _write_secret(retired, old)
    issuer_key_path().unlink()
    new = issuer_key_create()
    logger.warning("Issuer key rotated: %s retired, %s current", old.did, new.did)
    return old, new


def issuer_retired_keys() -> list[keys.IssuerKey]:
    directory = retired_keys_dir()
    if not directory.is_dir():
        return []
    return [keys.load_issuer_key(path) for path in sorted(directory.glob("z*.pem"))]


def issuer_known_dids() -> set[str]:
    """Every did:key this academy has signed with: the current key, the retired keys, and the
    issuers named by stored credentials (a retired key whose secret was destroyed)."""
    dids = {key.did for key in issuer_retired_keys()}
    if issuer_key_path().is_file():
        dids.add(issuer_key_current().did)
    try:
        dids.update(
            value
            for value in Certificate.objects.values_list(
                "credential__issuer__id", flat=True
            ).distinct()
            if isinstance(value, str)
        )
    except DatabaseError:
        # verify_credential works offline, without the site's database too.
        logger.info("No certificates table: known issuer keys come from the key files only")
    return dids


def _signing_key(did: str) -> keys.IssuerKey | None:
    if issuer_key_path().is_file():
        current = issuer_key_current()
        if current.did == did:
            return current
    for key in issuer_retired_keys():
        if key.did == did:
            return key
    return None


# --- URLs ------------------------------------------------------------------------------------


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def status_list_url(did: str) -> str:
    return site_url() + STATUS_LIST_PATH.format(key=did.removeprefix("did:key:"))


def issuer_url(language: str = "en") -> str:
    return site_url() + ISSUER_PATH.format(language=language)


def achievement_url(certification: Certification, language: str) -> str:
    """The certification's permanent URL (by key, not by its translatable slug); the page
    there sends the visitor on to the certification's current page."""
    return site_url() + ACHIEVEMENT_PATH.format(language=language, key=certification.key)


def certificate_credential_url(certificate: Certificate) -> str:
    return badges.credential_url(
        site=site_url(), certificate_id=certificate.public_id, language=certificate.language
    )


def certificate_page_url(certificate: Certificate, language: str | None = None) -> str:
    language = language or certificate.language
    return f"{site_url()}/{language}/certificates/{certificate.public_id}/"


def _audit(user: User, certificate: Certificate, flag: int, message: str) -> None:
    """An entry in the admin's history of the certificate: who did what, and why."""
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[certificate], action_flag=flag, change_message=message
    )


# --- Issue -----------------------------------------------------------------------------------


def add_months(value: datetime, months: int) -> datetime:
    """``value`` plus whole calendar months, on the last day of a shorter month if need be."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def _localized(obj: Any, field: str, language: str) -> str:
    return getattr(obj, f"{field}_{language}", None) or getattr(obj, f"{field}_en", "") or ""


def _criteria_narrative(certification: Certification, language: str, pass_mark: int) -> str:
    with translation.override(language):
        return gettext(
            "Passed the %(title)s certification exam, timed and graded automatically: questions "
            "drawn from every domain of the certification and practical tasks in lab "
            "environments, with at least %(pass_mark)s%% of the points."
        ) % {
            "title": _localized(certification, "title", language),
            "pass_mark": pass_mark,
        }


def _recipient_name(user: User) -> str:
    return str(user.get_full_name() or user.get_username()).strip()[:200]


def _taken_indices() -> set[int]:
    return set(Certificate.objects.values_list("status_index", flat=True))


def _free_index() -> int:
    """A random free index: indices in issuing order would tell who was certified when."""
    taken = _taken_indices()
    if len(taken) >= badges.STATUS_LIST_MIN_BITS:
        raise CertificateError(_("The status list is full: no certificate can be issued."))
    while True:
        index = secrets.randbelow(badges.STATUS_LIST_MIN_BITS)
        if index not in taken:
            return index


def certificate_issue(
    *,
    user: User,
    certification: Certification,
    language: str,
    attempt: Attempt | None = None,
    awarded_by: User | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Certificate:
    """The certificate for a passed ``attempt``, or a staff award (``awarded_by`` and ``reason``,
    no attempt). Idempotent per attempt: the attempt's certificate if it has one already.

    Raises ``IssuerKeyMissing`` when no issuer key exists, ``CertificateError`` when the rules
    refuse (an attempt that did not pass, or is another user's or another certification's).
    """
    if attempt is not None:
        existing = Certificate.objects.filter(attempt=attempt).first()
        if existing is not None:
            return existing
        if not attempt.passed or attempt.user_id != user.pk:
            raise CertificateError(_("Only a passed attempt of its own candidate earns one."))
        if attempt.certification_id != certification.pk:
            raise CertificateError(_("The attempt is for another certification."))
    else:
        reason = (reason or "").strip()
        if awarded_by is None or not reason:
            raise CertificateError(
                _("A certificate without an exam needs the staff member who awards it and why.")
            )
        if len(reason) > MAX_REASON_LENGTH:
            raise CertificateError(_("The reason is too long."))
        if not (awarded_by.is_active and awarded_by.is_staff):
            raise CertificateError(_("Only staff award a certificate without an exam."))
    if language not in LANGUAGES:
        raise CertificateError(_("Certificates are issued in English or Spanish."))
    key = issuer_key_current()
    now = now or timezone.now()
    valid_until = add_months(now, certification.validity_months)
    recipient_name = _recipient_name(user)

    for _try in range(INDEX_ATTEMPTS):
        public_id = uuid4()
        index = _free_index()
        credential = badges.sign(
            badges.build_credential(
                site=site_url(),
                certificate_id=public_id,
                issuer_key=key,
                issuer_name=settings.ACADEMY_ISSUER_NAME,
                issuer_url=issuer_url(language),
                recipient_name=recipient_name,
                certification_url=achievement_url(certification, language),
                certification_name=_localized(certification, "title", language),
                achievement_description=_localized(certification, "summary", language),
                criteria_narrative=_criteria_narrative(
                    certification,
                    language,
                    # The pass mark the candidate met: the blueprint may have changed since.
                    attempt.pass_mark if attempt is not None else certification.pass_mark,
                ),
                valid_from=now,
                valid_until=valid_until,
                status_list_url=status_list_url(key.did),
                status_list_index=index,
                language=language,
            ),
            key,
            created=now,
        )
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    public_id=public_id,
                    certification=certification,
                    user=user,
                    attempt=attempt,
                    language=language,
                    recipient_name=recipient_name,
                    issued_at=now,
                    valid_from=now,
                    valid_until=valid_until,
                    status_index=index,
                    credential=credential,
                    awarded_by=awarded_by,
                    award_reason=reason if attempt is None else "",
                )
        except IntegrityError:
            # Another issue took this index, or this attempt's certificate, meanwhile.
            if attempt is not None:
                existing = Certificate.objects.filter(attempt=attempt).first()
                if existing is not None:
                    return existing
            continue
        if awarded_by is not None:
            _audit(awarded_by, certificate, ADDITION, f"Awarded without an exam: {reason}")
        logger.info(
            "Certificate %s issued to %s for %s (%s)",
            certificate.public_id,
            user.get_username(),
            certification.key,
            f"attempt {attempt.public_id}" if attempt else f"awarded by {awarded_by}: {reason}",
        )
        return certificate
    raise CertificateError(_("No free status list index was found; try again."))


# --- Revoke ----------------------------------------------------------------------------------


def certificate_list_did(certificate: Certificate) -> str:
    issuer = certificate.credential.get("issuer")
    return issuer.get("id", "") if isinstance(issuer, dict) else str(issuer or "")


def certificate_revoke(
    *, certificate: Certificate, by: User, reason: str, now: datetime | None = None
) -> Certificate:
    """Revoke: record who and why, and publish it in the status list of the certificate's key.

    Refused when the reason is empty or too long, when it is revoked already, and when the key
    that signs its status list is gone (the revocation could not be published).
    """
    reason = (reason or "").strip()
    if not reason:
        raise CertificateError(_("Say why the certificate is revoked."))
    if len(reason) > MAX_REASON_LENGTH:
        raise CertificateError(_("The reason is too long."))
    did = certificate_list_did(certificate)
    if _signing_key(did) is None:
        raise CertificateError(
            _(
                "The key that signed this certificate (%(did)s) is not available, so its status "
                "list cannot be updated. See docs/certificates.md."
            )
            % {"did": did}
        )
    now = now or timezone.now()
    with transaction.atomic():
        locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.revoked_at is not None:
            raise CertificateError(_("This certificate is revoked already."))
        locked.revoked_at = now
        locked.revoked_by = by
        locked.revocation_reason = reason
        locked.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
        _audit(by, locked, CHANGE, f"Revoked: {reason}")
    certificate.refresh_from_db()
    logger.warning(
        "Certificate %s revoked by %s: %s", certificate.public_id, by.get_username(), reason
    )
    # Signed now rather than on the next request: a missing key fails here, not for a verifier.
    status_list_credential(did=did)
    return certificate


# --- Status lists ----------------------------------------------------------------------------


def _list_certificates(did: str) -> QuerySet[Certificate]:
    return Certificate.objects.filter(
        credential__credentialStatus__statusListCredential=status_list_url(did)
    )


def status_list_credential(*, did: str | None = None) -> dict[str, Any] | None:
    """The signed BitstringStatusListCredential of ``did``'s list (default: the current key's),
    or None when this academy has no such key."""
    if did is None:
        did = issuer_key_current().did
    key = _signing_key(did)
    if key is None:
        return None
    rows = _list_certificates(did)
    revoked = dict(rows.filter(revoked_at__isnull=False).values_list("status_index", "revoked_at"))
    first_issue = rows.order_by("issued_at").values_list("issued_at", flat=True).first()
    changed = max((at for at in revoked.values() if at is not None), default=None) or first_issue
    if changed is None:
        # An empty list: dated today, so that it is the same document all day.
        changed = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    state = f"{did}|{changed.isoformat()}|{','.join(map(str, sorted(revoked)))}"
    cache_key = "certificates:status-list:" + hashlib.sha256(state.encode()).hexdigest()
    cached = cache.get(cache_key)
    if cached is not None:
        status_list: dict[str, Any] = json.loads(cached)
        return status_list
    url = status_list_url(did)
    signed = badges.sign(
        badges.build_status_list_credential(
            status_list_url=url, issuer_key=key, revoked=set(revoked), valid_from=changed
        ),
        key,
        created=changed,
    )
    cache.set(cache_key, json.dumps(signed), 24 * 3600)
    return signed


def status_list_for_url(url: Any) -> dict[str, Any] | None:
    """This site's status list at ``url``, or None when ``url`` is not one of this site's."""
    if not isinstance(url, str):
        return None
    prefix = site_url() + STATUS_LIST_PATH.partition("{key}")[0]
    if not url.startswith(prefix) or not url.endswith("/"):
        return None
    multibase = url[len(prefix) : -1]
    if not multibase.startswith("z") or "/" in multibase or len(multibase) > 100:
        return None
    return status_list_credential(did="did:key:" + multibase)


# --- Reads -----------------------------------------------------------------------------------


def certificate_status(certificate: Certificate, now: datetime | None = None) -> CertificateStatus:
    now = now or timezone.now()
    if certificate.revoked_at is not None and certificate.revoked_at <= now:
        return CertificateStatus.REVOKED
    if now >= certificate.valid_until:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID


def certificate_credential_bytes(certificate: Certificate) -> bytes:
    """The credential file: the stored credential, written the same way every time, whatever
    order the database keeps its keys in (PostgreSQL's jsonb keeps its own): keys sorted, so
    "@context" comes first. The proof covers the canonical form (RDFC-1.0), not the layout."""
    text = json.dumps(certificate.credential, ensure_ascii=False, indent=2, sort_keys=True)
    return text.encode("utf-8") + b"\n"


def certificates_of_user(*, user: User) -> QuerySet[Certificate]:
    return (
        Certificate.objects.filter(user=user).select_related("certification").order_by("-issued_at")
    )


def certificate_get(*, public_id: UUID) -> Certificate:
    return Certificate.objects.select_related("certification", "user").get(public_id=public_id)


@dataclass(frozen=True)
class CredentialCheck:
    """What the verification form and ``verify_credential`` say about a credential file."""

    result: verify.VerificationResult
    known_issuer: bool
    revocation_checked: bool
    certificate: Certificate | None

    @property
    def valid(self) -> bool:
        return self.result.valid and self.known_issuer

    @property
    def signed_by_stranger(self) -> bool:
        """Well-formed and correctly signed, but by a did:key that is not this academy's."""
        signed = self.result.valid or self.result.failure not in (
            verify.Failure.STRUCTURE,
            verify.Failure.SIGNATURE,
        )
        return signed and not self.known_issuer


def credential_check(
    credential: Any, *, status_list: dict[str, Any] | None = None, now: datetime | None = None
) -> CredentialCheck:
    """Verify ``credential`` (parsed JSON, untrusted) offline, with this site's status list when
    the credential names one of them, and say whether its issuer is this academy."""
    if status_list is None and isinstance(credential, dict):
        entry = credential.get("credentialStatus")
        if isinstance(entry, dict):
            try:
                status_list = status_list_for_url(entry.get("statusListCredential"))
            except DatabaseError:
                status_list = None  # no database here: revocation is not checked, and says so
    result = verify.verify(credential, status_list=status_list, now=now)
    known = result.issuer is not None and result.issuer in issuer_known_dids()
    certificate = None
    if isinstance(credential, dict) and isinstance(credential.get("id"), str):
        prefix, _sep, rest = credential["id"].rpartition("/certificates/")
        candidate = rest.removesuffix("/credential.json")
        try:
            certificate = (
                Certificate.objects.filter(public_id=UUID(candidate)).first()
                if prefix.startswith(site_url())
                else None
            )
        except (ValueError, DatabaseError):
            certificate = None
    return CredentialCheck(
        result=result,
        known_issuer=known,
        revocation_checked=result.revocation_checked,
        certificate=certificate,
    )


def issuer_profile() -> dict[str, Any]:
    """The issuer's public profile: its current did:key and public key, and the keys it used
    before (their credentials still verify), each with its status list."""
    current = issuer_key_current()
    retired = [key for key in issuer_retired_keys() if key.did != current.did]
    return {
        "id": current.did,
        "type": "Profile",
        "name": settings.ACADEMY_ISSUER_NAME,
        "url": issuer_url("en"),
        "publicKey": current.multikey_document(),
        "statusListCredential": status_list_url(current.did),
        "previousKeys": [
            {
                "id": key.did,
                "publicKeyMultibase": key.public_key_multibase,
                "statusListCredential": status_list_url(key.did),
            }
            for key in retired
        ],
    }
