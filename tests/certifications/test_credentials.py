"""The credentials library: offline contexts, keys, eddsa-rdfc-2022 proofs, badges, verification.

Checked against the published reference data (W3C vc-di-eddsa and 1EdTech OB 3.0 vectors,
contexts) kept beside the clone in ../shared/ob3-reference; it is never copied into the project.
"""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from academy.certifications.credentials import contexts, keys, proofs

REFERENCE = Path(settings.BASE_DIR).parent / "shared" / "ob3-reference"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"the OB 3.0 reference data is not beside the clone ({REFERENCE})",
)
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"


def reference(name):
    return json.loads((REFERENCE / name).read_text())


@pytest.fixture
def vector_loader():
    """The bundled loader plus the W3C examples context the vc-di-eddsa vector uses."""
    return contexts.make_document_loader(
        {EXAMPLES_V2: reference("contexts/credentials-examples-v2.jsonld")}
    )


@pytest.fixture
def vector_key():
    pair = reference("testdata/vc-di-eddsa-keyPair.json")
    return keys.IssuerKey(keys.private_key_from_multibase(pair["privateKeyMultibase"]))


# --- contexts ---------------------------------------------------------------------------


@needs_reference
@pytest.mark.parametrize(
    ("url", "reference_file"),
    [
        (contexts.CREDENTIALS_V1, "credentials-v1.jsonld"),
        (contexts.CREDENTIALS_V2, "credentials-v2.jsonld"),
        (contexts.DATA_INTEGRITY_V1, "data-integrity-v1.jsonld"),
        (contexts.DATA_INTEGRITY_V2, "data-integrity-v2.jsonld"),
        (contexts.OB_V3P0, "ob-v3p0-context-3.0.3.json"),
        (contexts.OB_V3P0_PREFIX + "context.json", "ob-v3p0-context.json"),
    ],
)
def test_npm_contexts_equal_the_published_ones(url, reference_file):
    assert contexts.get_context(url) == reference("contexts/" + reference_file)


def test_contexts_are_read_from_node_modules_of_the_project():
    assert contexts.node_modules_dir() == Path(settings.BASE_DIR) / "node_modules"
    package, relative = contexts.CONTEXT_FILES[contexts.CREDENTIALS_V2]
    assert (contexts.node_modules_dir() / package / relative).is_file()


def test_loader_returns_a_fresh_copy_each_time():
    first = contexts.document_loader(contexts.OB_V3P0)["document"]
    first["@context"]["OpenBadgeCredential"] = "https://attacker.example/"
    second = contexts.document_loader(contexts.OB_V3P0)["document"]
    assert second["@context"]["OpenBadgeCredential"] != "https://attacker.example/"


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example/context.json",
        EXAMPLES_V2,
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        "file:///etc/passwd",
    ],
)
def test_loader_refuses_unknown_urls(url):
    with pytest.raises(contexts.UnknownContextError, match="never fetches"):
        contexts.document_loader(url)


def test_a_document_with_an_unknown_context_cannot_be_signed():
    key = keys.IssuerKey.generate()
    document = {
        "@context": [contexts.CREDENTIALS_V2, "https://attacker.example/context.json"],
        "type": ["VerifiableCredential"],
        "issuer": key.did,
        "credentialSubject": {"id": "did:example:1"},
    }
    with pytest.raises(proofs.ProofError, match=r"attacker\.example"):
        proofs.create_proof(document, key)


# --- keys -------------------------------------------------------------------------------


@needs_reference
def test_vector_key_pair_round_trips_through_did_key(vector_key):
    pair = reference("testdata/vc-di-eddsa-keyPair.json")
    assert vector_key.public_key_multibase == pair["publicKeyMultibase"]
    assert keys.secret_key_multibase(vector_key.private_key) == pair["privateKeyMultibase"]
    assert vector_key.did == "did:key:" + pair["publicKeyMultibase"]
    decoded = keys.public_key_from_did_key(vector_key.verification_method)
    assert keys.public_key_multibase(decoded) == pair["publicKeyMultibase"]


@needs_reference
def test_multikey_of_the_ob_guide_decodes():
    multikey = reference("testdata/ob-impl-guide-multikey.json")
    key = keys.public_key_from_multibase(multikey["publicKeyMultibase"])
    assert keys.public_key_multibase(key) == multikey["publicKeyMultibase"]


def test_generated_key_round_trips_and_publishes_a_multikey():
    key = keys.IssuerKey.generate()
    assert key.public_key_multibase.startswith("z6Mk")
    again = keys.private_key_from_multibase(keys.secret_key_multibase(key.private_key))
    assert keys.IssuerKey(again).did == key.did
    document = key.multikey_document()
    assert document["id"] == f"{key.did}#{key.public_key_multibase}"
    assert document["controller"] == key.did


@pytest.mark.parametrize(
    "bad",
    [
        "did:web:example.com",
        "did:key:6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",  # no multibase prefix
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ",  # truncated
        "did:key:z0OIl",  # not base58
        # a secret key where a public key is expected
        "did:key:z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",
        # a fragment naming another key
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        "#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
    ],
)
def test_malformed_did_keys_are_refused(bad):
    with pytest.raises(keys.KeyFormatError):
        keys.public_key_from_did_key(bad)


def test_issuer_key_loads_from_pem_and_from_multibase_files(tmp_path):
    key = keys.IssuerKey.generate()
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(keys.issuer_key_to_pem(key))
    assert keys.load_issuer_key(pem).did == key.did
    multibase = tmp_path / "issuer.key"
    multibase.write_text(keys.secret_key_multibase(key.private_key) + "\n")
    assert keys.load_issuer_key(multibase).did == key.did
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key")
    with pytest.raises(keys.KeyFormatError):
        keys.load_issuer_key(garbage)


# --- proofs -----------------------------------------------------------------------------


@needs_reference
def test_proof_equals_the_w3c_eddsa_rdfc_2022_vector(vector_key, vector_loader):
    unsigned = reference("testdata/vc-di-eddsa-unsigned.json")
    signed = proofs.create_proof(
        unsigned,
        vector_key,
        created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
        loader=vector_loader,
    )
    assert signed["proof"] == reference("testdata/vc-di-eddsa-signedDataInt.json")["proof"]


@needs_reference
def test_canonical_forms_and_hash_equal_the_vector(vector_loader):
    signed = reference("testdata/vc-di-eddsa-signedDataInt.json")
    document = {k: v for k, v in signed.items() if k != "proof"}
    canonical = proofs.canonicalize(document, loader=vector_loader)
    assert canonical == (REFERENCE / "testdata/vc-di-eddsa-canonDocDataInt.txt").read_text()
    combined = (REFERENCE / "testdata/vc-di-eddsa-combinedHashDataInt.txt").read_text().strip()
    hashed = proofs.hash_data(document, signed["proof"], loader=vector_loader)
    assert hashed.hex() == combined


@needs_reference
def test_vector_verifies_and_any_tampering_fails(vector_loader):
    signed = reference("testdata/vc-di-eddsa-signedDataInt.json")
    assert proofs.verify_proof(signed, loader=vector_loader)["cryptosuite"] == "eddsa-rdfc-2022"
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "The School of Examplez"
    with pytest.raises(proofs.ProofError, match="signature does not match"):
        proofs.verify_proof(tampered, loader=vector_loader)


@needs_reference
def test_ob_implementation_guide_vector_verifies_with_its_published_key():
    signed = reference("testdata/ob-impl-guide-signed.json")
    multikey = reference("testdata/ob-impl-guide-multikey.json")
    public_key = keys.public_key_from_multibase(multikey["publicKeyMultibase"])
    assert proofs.verify_proof(signed, public_key=public_key)
    tampered = copy.deepcopy(signed)
    tampered["validFrom"] = "2010-01-01T00:00:01Z"
    with pytest.raises(proofs.ProofError, match="signature does not match"):
        proofs.verify_proof(tampered, public_key=public_key)


@needs_reference
def test_data_the_contexts_do_not_define_is_refused_not_ignored():
    """JSON-LD drops undefined terms; a property added after signing must not pass."""
    signed = reference("testdata/ob-impl-guide-signed.json")
    multikey = reference("testdata/ob-impl-guide-multikey.json")
    public_key = keys.public_key_from_multibase(multikey["publicKeyMultibase"])
    for where in (signed, signed["credentialSubject"]["achievement"], signed["proof"]):
        tampered = copy.deepcopy(signed)
        target = tampered
        if where is not signed:
            target = (
                tampered["proof"]
                if where is signed["proof"]
                else tampered["credentialSubject"]["achievement"]
            )
        target["grade"] = "A+"
        with pytest.raises(proofs.ProofError, match="do not define"):
            proofs.verify_proof(tampered, public_key=public_key)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.pop("proofValue"), "malformed"),
        (lambda p: p.update(proofValue="zabc"), "not an Ed25519 signature"),
        (lambda p: p.update(cryptosuite="ecdsa-rdfc-2019"), "cryptosuite"),
        (lambda p: p.update(proofPurpose="authentication"), "purpose"),
        (lambda p: p.update(verificationMethod="https://attacker.example/key"), "malformed"),
        (lambda p: p.update(created="2020-01-01T00:00:00Z"), "signature does not match"),
    ],
)
def test_altered_proofs_are_refused(change, reason):
    key = keys.IssuerKey.generate()
    document = {
        "@context": [contexts.CREDENTIALS_V2],
        "type": ["VerifiableCredential"],
        "issuer": key.did,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner"},
    }
    signed = proofs.create_proof(document, key)
    assert proofs.verify_proof(signed)["verificationMethod"] == key.verification_method
    change(signed["proof"])
    with pytest.raises(proofs.ProofError, match=reason):
        proofs.verify_proof(signed)


def test_a_proof_by_another_key_is_refused():
    key, other = keys.IssuerKey.generate(), keys.IssuerKey.generate()
    document = {
        "@context": [contexts.CREDENTIALS_V2],
        "type": ["VerifiableCredential"],
        "issuer": key.did,
        "credentialSubject": {"id": "did:example:learner"},
    }
    signed = proofs.create_proof(document, key)
    signed["proof"]["verificationMethod"] = other.verification_method
    with pytest.raises(proofs.ProofError, match="signature does not match"):
        proofs.verify_proof(signed)
