"""Verify an Open Badges 3.0 credential offline: structure, signature, dates, revocation.

``verify`` answers with a ``VerificationResult`` saying valid, or exactly why not; it never
raises on a bad credential, because the input is whatever someone uploaded or pasted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from . import badges, contexts, proofs

MAX_CREDENTIAL_BYTES = 256 * 1024
OB_CONTEXTS = {url for url in contexts.CONTEXT_FILES if url.startswith(contexts.OB_V3P0_PREFIX)}


class Failure(StrEnum):
    STRUCTURE = "structure"
    SIGNATURE = "signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    STATUS_LIST = "status_list"
    REVOKED = "revoked"


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    failure: Failure | None = None
    message: str = ""
    issuer: str | None = None
    revocation_checked: bool = False

    def __bool__(self) -> bool:
        return self.valid


class _Invalid(Exception):
    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


def parse_datetime(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _Invalid(Failure.STRUCTURE, f"{field} is not a date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise _Invalid(Failure.STRUCTURE, f"{field} is not a date-time: {value}") from error
    if parsed.tzinfo is None:
        raise _Invalid(Failure.STRUCTURE, f"{field} has no time zone: {value}")
    return parsed


def issuer_id(credential: dict[str, Any]) -> str:
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(value, str):
        raise _Invalid(Failure.STRUCTURE, "the credential names no issuer")
    return value


def _check_signed_by_issuer(document: dict[str, Any], what: str) -> str:
    """Verify the proof, whose did:key must be the issuer's own; return the issuer id."""
    issuer = issuer_id(document)
    if not issuer.startswith("did:key:"):
        raise _Invalid(Failure.STRUCTURE, f"the {what}'s issuer is not a did:key: {issuer}")
    proof = document.get("proof")
    proof = proof[0] if isinstance(proof, list) and len(proof) == 1 else proof
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not isinstance(method, str) or method.partition("#")[0] != issuer:
        raise _Invalid(Failure.SIGNATURE, f"the {what} is not signed by its issuer's key")
    try:
        proofs.verify_proof(document)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # ProofError and KeyFormatError are ValueErrors; the rest is hostile JSON-LD that
        # pyld or a decoder tripped over: not a proof either way.
        raise _Invalid(Failure.SIGNATURE, f"the {what}'s proof fails: {error}") from error
    return issuer


def _check_structure(credential: Any) -> None:
    if not isinstance(credential, dict):
        raise _Invalid(Failure.STRUCTURE, "a credential is a JSON object")
    try:
        size = len(json.dumps(credential))
    except (TypeError, ValueError) as error:
        raise _Invalid(Failure.STRUCTURE, "the credential is not JSON") from error
    if size > MAX_CREDENTIAL_BYTES:
        raise _Invalid(Failure.STRUCTURE, "the credential is too large")
    context = credential.get("@context")
    if (
        not isinstance(context, list)
        or len(context) < 2
        or context[0] != contexts.CREDENTIALS_V2
        or context[1] not in OB_CONTEXTS
    ):
        raise _Invalid(
            Failure.STRUCTURE,
            "@context must start with the VC 2.0 and the Open Badges 3.0 contexts",
        )
    types = credential.get("type")
    if not isinstance(types, list) or not {"VerifiableCredential", "OpenBadgeCredential"} <= set(
        types
    ):
        raise _Invalid(Failure.STRUCTURE, "the credential is not an OpenBadgeCredential")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        raise _Invalid(Failure.STRUCTURE, "the credential subject has no achievement")
    if "proof" not in credential:
        raise _Invalid(Failure.SIGNATURE, "the credential is not signed")


def _check_revocation(credential: dict[str, Any], status_list: Any, issuer: str) -> None:
    entry = credential.get("credentialStatus")
    if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
        raise _Invalid(Failure.STATUS_LIST, "the credential has no BitstringStatusListEntry")
    if entry.get("statusPurpose") != badges.REVOCATION:
        raise _Invalid(Failure.STATUS_LIST, "the credential's status entry is not for revocation")
    index_text = entry.get("statusListIndex")
    if not isinstance(index_text, str) or not index_text.isdigit() or len(index_text) > 10:
        raise _Invalid(Failure.STATUS_LIST, "the credential's statusListIndex is not a number")
    if not isinstance(status_list, dict) or status_list.get("id") != entry.get(
        "statusListCredential"
    ):
        raise _Invalid(
            Failure.STATUS_LIST, "the status list given is not the one the credential names"
        )
    try:
        list_issuer = _check_signed_by_issuer(status_list, "status list")
    except _Invalid as invalid:
        raise _Invalid(Failure.STATUS_LIST, invalid.message) from invalid
    if list_issuer != issuer:
        raise _Invalid(Failure.STATUS_LIST, "the status list has another issuer")
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != badges.REVOCATION:
        raise _Invalid(Failure.STATUS_LIST, "the status list is not a revocation list")
    try:
        revoked = badges.status_bit(status_list, int(index_text))
    except badges.StatusListError as error:
        raise _Invalid(Failure.STATUS_LIST, str(error)) from error
    if revoked:
        raise _Invalid(Failure.REVOKED, "the credential has been revoked by its issuer")


def verify(
    credential: Any,
    *,
    status_list: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Whether ``credential`` is a valid, signed, current (and, with a status list, unrevoked)
    OpenBadgeCredential of a did:key issuer; if not, the first reason found."""
    now = now or datetime.now(UTC)
    issuer = None
    try:
        _check_structure(credential)
        valid_from = parse_datetime(credential.get("validFrom"), "validFrom")
        valid_until = (
            parse_datetime(credential["validUntil"], "validUntil")
            if "validUntil" in credential
            else None
        )
        issuer = _check_signed_by_issuer(credential, "credential")
        if now < valid_from:
            raise _Invalid(Failure.NOT_YET_VALID, f"the credential is valid from {valid_from}")
        if valid_until is not None and now >= valid_until:
            raise _Invalid(Failure.EXPIRED, f"the credential expired at {valid_until}")
        if status_list is not None:
            _check_revocation(credential, status_list, issuer)
    except _Invalid as invalid:
        return VerificationResult(
            valid=False, failure=invalid.failure, message=invalid.message, issuer=issuer
        )
    return VerificationResult(
        valid=True,
        message="the credential is valid",
        issuer=issuer,
        revocation_checked=status_list is not None,
    )
