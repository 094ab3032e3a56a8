"""Data Integrity proofs, cryptosuite eddsa-rdfc-2022 (W3C "Data Integrity EdDSA Cryptosuites").

Both the document (without its proof) and the proof configuration (the proof without
``proofValue``, carrying the document's ``@context``) are canonicalized with RDFC-1.0
(pyld's URDNA2015, the same algorithm) to N-Quads; the signed data is
SHA-256(canonical proof config) || SHA-256(canonical document), signed with Ed25519; the
signature is published as a base58btc multibase ``proofValue``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld
from pyld.context_resolver import ContextResolver
from pyld.jsonld import JsonLdError

from . import contexts, keys

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_PURPOSE = "assertionMethod"

Loader = Callable[[str, Any], dict[str, Any]]


class ProofError(ValueError):
    """The proof is missing, malformed, or does not verify; the message says which."""


class _NoCache(dict[str, Any]):
    """pyld's ContextResolver shares a process-wide cache of resolved contexts by default;
    each canonicalization gets its own, so what is signed depends only on the loader given."""


def canonicalize(document: dict[str, Any], *, loader: Loader | None = None) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, contexts loaded offline."""
    loader = loader or contexts.document_loader
    try:
        normalized: str = jsonld.normalize(
            copy.deepcopy(document),
            {"algorithm": "URDNA2015", "format": "application/n-quads", **_options(loader)},
        )
    except JsonLdError as error:
        raise ProofError(f"the document is not valid JSON-LD: {_cause(error)}") from error
    return normalized


def _options(loader: Loader) -> dict[str, Any]:
    return {
        "documentLoader": loader,
        "contextResolver": ContextResolver(_NoCache(), loader),
        "base": "",
    }


def _squeeze(value: Any) -> Any:
    """JSON with one-element arrays as their element, as compaction writes them."""
    if isinstance(value, list):
        items = [_squeeze(item) for item in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return {key: _squeeze(item) for key, item in value.items()}
    return value


def _differences(original: Any, roundtrip: Any, path: str) -> list[str]:
    if isinstance(original, dict) and set(original) <= {"id", "@id"} and isinstance(roundtrip, str):
        # A node with nothing but its id compacts to that id where the term is "@type": "@id".
        return [] if roundtrip in original.values() else [path]
    if isinstance(original, dict) and isinstance(roundtrip, dict):
        found = []
        for key, value in original.items():
            if key not in roundtrip:
                found.append(f"{path}.{key}")
            else:
                found += _differences(value, roundtrip[key], f"{path}.{key}")
        return found
    if (
        isinstance(original, list)
        and isinstance(roundtrip, list)
        and len(original) == len(roundtrip)
    ):
        return [
            diff
            for i, (a, b) in enumerate(zip(original, roundtrip, strict=True))
            for diff in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if original == roundtrip else [path]


def check_terms_defined(document: dict[str, Any], *, loader: Loader | None = None) -> None:
    """Refuse a document whose JSON says more than its RDF (what the signature covers).

    JSON-LD silently drops properties its contexts do not define, so without this check a
    property added to a signed credential would not break the signature. Like the "safe mode"
    of Digital Bazaar's jsonld-signatures, the document must survive expand -> compact intact.
    """
    loader = loader or contexts.document_loader
    unsecured = _squeeze({k: v for k, v in document.items() if k != "proof"})
    try:
        expanded = jsonld.expand(copy.deepcopy(unsecured), _options(loader))
        compacted = jsonld.compact(
            expanded, {"@context": unsecured.get("@context")}, _options(loader)
        )
    except JsonLdError as error:
        raise ProofError(f"the document is not valid JSON-LD: {_cause(error)}") from error
    compacted.pop("@context", None)
    unsecured.pop("@context", None)
    lost = _differences(unsecured, _squeeze(compacted), "$")
    if lost:
        raise ProofError(
            "the document has data its JSON-LD contexts do not define (not covered by a "
            "signature): " + ", ".join(lost[:10])
        )


def _cause(error: BaseException) -> str:
    # pyld wraps the loader's refusal several levels deep; show the innermost message.
    while isinstance(cause := getattr(error, "cause", None), BaseException):
        error = cause
    return str(error)


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timezone-aware datetimes only")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_data(
    document: dict[str, Any], proof_config: dict[str, Any], *, loader: Loader | None = None
) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof_config.items() if k != "proofValue"}
    config["@context"] = unsecured.get("@context")
    canonical_config = canonicalize(config, loader=loader)
    canonical_document = canonicalize(unsecured, loader=loader)
    return (
        hashlib.sha256(canonical_config.encode()).digest()
        + hashlib.sha256(canonical_document.encode()).digest()
    )


def create_proof(
    document: dict[str, Any],
    key: keys.IssuerKey,
    *,
    created: datetime | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """The signed copy of ``document`` (which must not carry a proof yet)."""
    if "proof" in document:
        raise ProofError("the document already has a proof")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _format_datetime(created or datetime.now(UTC)),
        "verificationMethod": key.verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    check_terms_defined(document, loader=loader)
    signature = key.private_key.sign(hash_data(document, proof, loader=loader))
    proof["proofValue"] = keys.multibase_encode(signature)
    return {**copy.deepcopy(document), "proof": proof}


def verify_proof(
    document: dict[str, Any],
    *,
    public_key: Ed25519PublicKey | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Check the document's eddsa-rdfc-2022 proof; return the proof, or raise ProofError.

    The key comes from ``public_key`` when given (an issuer that names its key by URL),
    otherwise from the proof's ``did:key`` verification method, which needs no network.
    """
    proof = document.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        # The OB 3.0 JSON schema writes proof as an array; one proof is what we issue.
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("the document has no proof, or more than one")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"the proof is not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise ProofError(f"the proof's purpose is not {PROOF_PURPOSE}")
    if "@context" in proof and proof["@context"] != document.get("@context"):
        raise ProofError("the proof's @context differs from the document's")
    method = proof.get("verificationMethod")
    try:
        signature = keys.multibase_decode(proof.get("proofValue"))
        if public_key is None:
            public_key = keys.public_key_from_did_key(method)
    except keys.KeyFormatError as error:
        raise ProofError(f"the proof is malformed: {error}") from error
    if len(signature) != 64:
        raise ProofError("the proof value is not an Ed25519 signature")
    check_terms_defined(document, loader=loader)
    check_terms_defined(proof | {"@context": document.get("@context")}, loader=loader)
    try:
        public_key.verify(signature, hash_data(document, proof, loader=loader))
    except InvalidSignature as error:
        raise ProofError("the signature does not match the document") from error
    return proof
