"""Open Badges 3.0 credentials and their W3C Bitstring Status Lists, as JSON-LD dicts.

The issuer is identified by its ``did:key``. A verifier then binds the proof to the issuer with
no network at all: the key is in the identifier, and the proof's verification method
(``did:key:z..#z..``) is controlled by exactly that ``issuer.id``, the check OB 3.0 and the VC
data model ask for. An issuer id that is the site's URL would need the verifier to fetch the
profile page to learn the key (and trust the site to be up, forever). The site still speaks for
the key: the profile carries ``url`` (the issuer page), and that page publishes the same key.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from . import contexts, keys, proofs

STATUS_LIST_MIN_BITS = 131_072  # 16 KiB, the spec's minimum, so one entry hides in the crowd
STATUS_LIST_MAX_BITS = 8 * 16 * 1024 * 1024  # read at most 16 MiB of decompressed list
REVOCATION = "revocation"


class StatusListError(ValueError):
    """A status list (or an entry pointing into one) is malformed."""


def format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timezone-aware datetimes only")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_url(*, site: str, certificate_id: UUID, language: str = "en") -> str:
    return f"{site.rstrip('/')}/{language}/certificates/{certificate_id}/credential.json"


def status_list_entry(*, status_list_url: str, index: int) -> dict[str, str]:
    if not 0 <= index < STATUS_LIST_MIN_BITS:
        raise StatusListError(f"status list index {index} is outside 0..{STATUS_LIST_MIN_BITS}")
    return {
        "id": f"{status_list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": REVOCATION,
        "statusListIndex": str(index),
        "statusListCredential": status_list_url,
    }


def build_credential(
    *,
    site: str,
    certificate_id: UUID,
    issuer_key: keys.IssuerKey,
    issuer_name: str,
    issuer_url: str,
    recipient_name: str,
    certification_url: str,
    certification_name: str,
    achievement_description: str,
    criteria_narrative: str,
    valid_from: datetime,
    valid_until: datetime | None,
    status_list_url: str,
    status_list_index: int,
    language: str = "en",
) -> dict[str, Any]:
    """An unsigned ``OpenBadgeCredential``; sign it with ``proofs.create_proof``.

    The learner has no DID, so the subject is named by an ``IdentityObject`` of type ``name``
    (unhashed: the certificate is meant to be shown), not by an ``id``.
    """
    if valid_until is not None and valid_until <= valid_from:
        raise ValueError("validUntil must be after validFrom")
    achievement_id = f"{certification_url.rstrip('/')}#achievement"
    credential: dict[str, Any] = {
        "@context": [contexts.CREDENTIALS_V2, contexts.OB_V3P0],
        "id": credential_url(site=site, certificate_id=certificate_id, language=language),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": certification_name,
        "issuer": {
            "id": issuer_key.did,
            "type": ["Profile"],
            "name": issuer_name,
            "url": issuer_url,
        },
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": recipient_name,
                    "identityType": "name",
                    "hashed": False,
                }
            ],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certification",
                "name": certification_name,
                "description": achievement_description,
                "criteria": {"id": certification_url, "narrative": criteria_narrative},
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetName": certification_name,
                        "targetUrl": certification_url,
                        "targetType": "ceterms:Credential",
                    }
                ],
                "inLanguage": language,
            },
        },
        "credentialStatus": status_list_entry(
            status_list_url=status_list_url, index=status_list_index
        ),
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    return credential


def sign(
    document: dict[str, Any], key: keys.IssuerKey, *, created: datetime | None = None
) -> dict[str, Any]:
    """``document`` with its eddsa-rdfc-2022 proof, written as a one-element array as the OB 3.0
    JSON schema requires (the VC data model allows a set of proofs; verifiers take both)."""
    signed = proofs.create_proof(document, key, created=created)
    signed["proof"] = [signed["proof"]]
    return signed


def encode_status_list(
    revoked: set[int] | frozenset[int], *, size: int = STATUS_LIST_MIN_BITS
) -> str:
    """GZIP + base64url multibase ("u", no padding) of a bitstring; index 0 is the MSB of byte 0."""
    if size < STATUS_LIST_MIN_BITS or size % 8:
        raise StatusListError(f"a status list has at least {STATUS_LIST_MIN_BITS} bits, in bytes")
    bits = bytearray(size // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise StatusListError(f"status list index {index} is outside 0..{size}")
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)  # mtime=0: the same list, the same bytes
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_status_list(encoded: object) -> bytes:
    """The bitstring of an ``encodedList``, refusing malformed input and decompression bombs."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("encodedList is not a base64url multibase string")
    if len(encoded) > STATUS_LIST_MAX_BITS // 8:
        raise StatusListError("encodedList is too long")
    body = encoded[1:]
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        bits = inflater.decompress(compressed, STATUS_LIST_MAX_BITS // 8)
    except (ValueError, zlib.error) as error:
        raise StatusListError(f"encodedList does not decode: {error}") from error
    if inflater.unconsumed_tail or not inflater.eof:
        raise StatusListError("encodedList is truncated or larger than allowed")
    if len(bits) * 8 < STATUS_LIST_MIN_BITS:
        raise StatusListError(f"a status list has at least {STATUS_LIST_MIN_BITS} bits")
    return bits


def build_status_list_credential(
    *,
    status_list_url: str,
    issuer_key: keys.IssuerKey,
    revoked: set[int] | frozenset[int],
    valid_from: datetime,
) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` for revocation."""
    return {
        "@context": [contexts.CREDENTIALS_V2],
        "id": status_list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_key.did,
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "id": f"{status_list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": REVOCATION,
            "encodedList": encode_status_list(revoked),
        },
    }


def status_bit(status_list_credential: dict[str, Any], index: int) -> bool:
    """Whether bit ``index`` is set in a status list credential (signature checked elsewhere)."""
    subject = status_list_credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise StatusListError("not a BitstringStatusListCredential")
    bits = decode_status_list(subject.get("encodedList"))
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"status list index {index} is outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
