"""Ed25519 issuer keys: generation, Multikey (multibase) encodings, did:key, loading from a file.

Encodings follow the W3C Controlled Identifiers "Multikey" format and the did:key method:
the public key is multicodec ``ed25519-pub`` (varint 0xed 0x01) + 32 bytes, the secret key
multicodec ``ed25519-priv`` (varint 0x80 0x26) + 32-byte seed, both base58btc multibase ("z").
base58btc is written out here (a few lines) rather than adding a dependency for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
MAX_KEY_FILE_BYTES = 10_000


class KeyFormatError(ValueError):
    """A key or identifier is not a well-formed Ed25519 Multikey / did:key."""


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rest = divmod(number, 58)
        out.append(_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _INDEX:
            raise KeyFormatError(f"invalid base58btc character {char!r}")
        number = number * 58 + _INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_encode(data: bytes) -> str:
    return "z" + b58encode(data)


def multibase_decode(text: object) -> bytes:
    if not isinstance(text, str) or not text.startswith("z") or len(text) > 200:
        raise KeyFormatError("expected a base58btc multibase string (starting with 'z')")
    return b58decode(text[1:])


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multibase_encode(ED25519_PUB_PREFIX + raw)


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    data = multibase_decode(value)
    if len(data) != 34 or not data.startswith(ED25519_PUB_PREFIX):
        raise KeyFormatError("not an Ed25519 public key (multicodec 0xed01 + 32 bytes)")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def secret_key_multibase(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return multibase_encode(ED25519_PRIV_PREFIX + raw)


def private_key_from_multibase(value: str) -> Ed25519PrivateKey:
    data = multibase_decode(value)
    if len(data) != 34 or not data.startswith(ED25519_PRIV_PREFIX):
        raise KeyFormatError("not an Ed25519 secret key (multicodec 0x1300 + 32 bytes)")
    return Ed25519PrivateKey.from_private_bytes(data[2:])


def did_key_from_public_key(public_key: Ed25519PublicKey) -> str:
    return "did:key:" + public_key_multibase(public_key)


def public_key_from_did_key(did: object) -> Ed25519PublicKey:
    """The key of ``did:key:z6Mk...``, or of its verification method ``did:key:z..#z..``."""
    if not isinstance(did, str) or not did.startswith("did:key:"):
        raise KeyFormatError("not a did:key identifier")
    identifier, _, fragment = did[len("did:key:") :].partition("#")
    if fragment and fragment != identifier:
        raise KeyFormatError("a did:key verification method's fragment must be its own key")
    return public_key_from_multibase(identifier)


@dataclass(frozen=True)
class IssuerKey:
    """An Ed25519 key pair with the identifiers a credential names it by."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> IssuerKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_key_multibase(self) -> str:
        return public_key_multibase(self.public_key)

    @property
    def did(self) -> str:
        return "did:key:" + self.public_key_multibase

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.public_key_multibase}"

    def multikey_document(self) -> dict[str, str]:
        """The public key as a Multikey document, as the issuer profile page publishes it."""
        return {
            "@context": "https://w3id.org/security/multikey/v1",
            "id": self.verification_method,
            "type": "Multikey",
            "controller": self.did,
            "publicKeyMultibase": self.public_key_multibase,
        }


def load_issuer_key(path: Path | str) -> IssuerKey:
    """Read the issuer's secret key from ``path``: a PKCS#8 PEM, or a multibase secret key.

    The file lives outside the repository (its path comes from the environment); it is read,
    never written or logged.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFormatError(f"{path} is too large to be a key file")
    text = data.decode("ascii", errors="replace").strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError(f"{path} holds a key that is not Ed25519")
        return IssuerKey(key)
    return IssuerKey(private_key_from_multibase(text))


def issuer_key_to_pem(key: IssuerKey) -> bytes:
    return key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
