"""The credentials library: offline contexts, keys, eddsa-rdfc-2022 proofs, badges, verification.

Checked against the published reference data (W3C vc-di-eddsa and 1EdTech OB 3.0 vectors,
contexts) kept beside the clone in ../shared/ob3-reference; it is never copied into the project.
"""

import base64
import copy
import gzip
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings

from academy.certifications.credentials import badges, contexts, keys, proofs, verify

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


# --- badges and status lists --------------------------------------------------------------

SITE = "https://academy.example"
LIST_URL = f"{SITE}/credentials/status/1"
ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = datetime(2029, 1, 1, tzinfo=UTC)
CERTIFICATE_ID = uuid.UUID("6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")


@pytest.fixture
def issuer():
    return keys.IssuerKey.generate()


def make_credential(issuer, *, index=42, valid_until=EXPIRES):
    credential = badges.build_credential(
        site=SITE,
        certificate_id=CERTIFICATE_ID,
        issuer_key=issuer,
        issuer_name="Chaos GitOps Academy",
        issuer_url=f"{SITE}/en/issuer/",
        recipient_name="Ada Lovelace",
        certification_url=f"{SITE}/en/certifications/gitops-practitioner/",
        certification_name="GitOps Practitioner",
        achievement_description="Runs a GitOps delivery and recovers it from drift.",
        criteria_narrative="Pass the timed exam: questions and practical lab tasks.",
        valid_from=ISSUED,
        valid_until=valid_until,
        status_list_url=LIST_URL,
        status_list_index=index,
    )
    return badges.sign(credential, issuer, created=ISSUED)


def make_status_list(issuer, revoked):
    status_list = badges.build_status_list_credential(
        status_list_url=LIST_URL, issuer_key=issuer, revoked=revoked, valid_from=ISSUED
    )
    return badges.sign(status_list, issuer, created=ISSUED)


def test_credential_is_an_open_badge_with_ids_under_the_site(issuer):
    credential = make_credential(issuer)
    assert credential["id"] == f"{SITE}/en/certificates/{CERTIFICATE_ID}/credential.json"
    assert credential["@context"] == [contexts.CREDENTIALS_V2, contexts.OB_V3P0]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"] == issuer.did
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["alignment"][0]["targetUrl"] == (
        f"{SITE}/en/certifications/gitops-practitioner/"
    )
    assert achievement["criteria"]["narrative"].startswith("Pass the timed exam")
    assert credential["validFrom"] == "2026-01-01T00:00:00Z"
    assert credential["validUntil"] == "2029-01-01T00:00:00Z"
    assert credential["credentialStatus"] == {
        "id": f"{LIST_URL}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": LIST_URL,
    }


@needs_reference
def test_credential_meets_the_ob_3_0_json_schema(issuer):
    schema = reference("schema/ob_v3p0_achievementcredential_schema.json")
    jsonschema.validate(make_credential(issuer), schema, cls=jsonschema.Draft201909Validator)


def test_status_list_is_at_least_16kb_gzip_base64url_and_reads_back(issuer):
    status_list = make_status_list(issuer, {0, 42, 131_071})
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u") and "=" not in encoded
    assert len(badges.decode_status_list(encoded)) == 16 * 1024
    assert [badges.status_bit(status_list, i) for i in (0, 1, 41, 42, 43, 131_071)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]
    # Index 0 is the most significant bit of the first byte (the spec's order).
    assert badges.decode_status_list(encoded)[0] == 0x80


def test_status_list_reader_refuses_bombs_and_garbage():
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(32 * 1024 * 1024))).decode()
    with pytest.raises(badges.StatusListError, match="larger than allowed"):
        badges.decode_status_list(bomb.rstrip("="))
    small = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(100))).decode()
    with pytest.raises(badges.StatusListError, match="at least"):
        badges.decode_status_list(small)
    for garbage in ("zabc", "u!!!", "u" + base64.urlsafe_b64encode(b"not gzip").decode(), None):
        with pytest.raises(badges.StatusListError):
            badges.decode_status_list(garbage)


# --- verify ---------------------------------------------------------------------------------

NOW = datetime(2027, 6, 1, tzinfo=UTC)


def test_issued_credential_verifies(issuer):
    result = verify.verify(make_credential(issuer), now=NOW)
    assert result.valid and result.failure is None
    assert result.issuer == issuer.did
    assert not result.revocation_checked


def _values(node, path=()):
    """Every string value of a JSON tree, with its path (the proof left out)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in ("proof", "@context"):
                yield from _values(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _values(value, (*path, i))
    elif isinstance(node, str):
        yield path, node


def test_changing_any_single_character_of_any_value_fails(issuer):
    credential = make_credential(issuer)
    checked = 0
    for path, value in _values(credential):
        tampered = copy.deepcopy(credential)
        target = tampered
        for step in path[:-1]:
            target = target[step]
        # One character changed, at the end (dates stay well-formed where they can).
        target[path[-1]] = value[:-1] + ("1" if value[-1] != "1" else "2")
        result = verify.verify(tampered, now=NOW)
        assert not result.valid, f"changing {path} went unnoticed"
        checked += 1
    assert checked >= 20


def test_changing_the_proof_value_by_one_character_fails(issuer):
    credential = make_credential(issuer)
    value = credential["proof"][0]["proofValue"]
    credential["proof"][0]["proofValue"] = value[:-1] + ("A" if value[-1] != "A" else "B")
    result = verify.verify(credential, now=NOW)
    assert (result.valid, result.failure) == (False, verify.Failure.SIGNATURE)


def test_expired_and_not_yet_valid_credentials_fail_with_the_reason(issuer):
    credential = make_credential(issuer)
    expired = verify.verify(credential, now=datetime(2029, 1, 1, tzinfo=UTC))
    assert (expired.valid, expired.failure) == (False, verify.Failure.EXPIRED)
    assert "2029-01-01" in expired.message
    early = verify.verify(credential, now=datetime(2025, 12, 31, tzinfo=UTC))
    assert (early.valid, early.failure) == (False, verify.Failure.NOT_YET_VALID)
    forever = verify.verify(
        make_credential(issuer, valid_until=None), now=datetime(2099, 1, 1, tzinfo=UTC)
    )
    assert forever.valid


def test_revoked_index_fails_and_others_pass(issuer):
    status_list = make_status_list(issuer, {42})
    revoked = verify.verify(make_credential(issuer, index=42), status_list=status_list, now=NOW)
    assert (revoked.valid, revoked.failure) == (False, verify.Failure.REVOKED)
    kept = verify.verify(make_credential(issuer, index=43), status_list=status_list, now=NOW)
    assert kept.valid and kept.revocation_checked


def test_a_status_list_not_signed_by_the_issuer_is_refused(issuer):
    credential = make_credential(issuer, index=42)
    forged = make_status_list(keys.IssuerKey.generate(), set())
    result = verify.verify(credential, status_list=forged, now=NOW)
    assert (result.valid, result.failure) == (False, verify.Failure.STATUS_LIST)
    # The issuer's own list, with the revoked bit cleared after signing.
    status_list = make_status_list(issuer, {42})
    status_list["credentialSubject"]["encodedList"] = badges.encode_status_list(set())
    result = verify.verify(credential, status_list=status_list, now=NOW)
    assert (result.valid, result.failure) == (False, verify.Failure.STATUS_LIST)
    assert "proof fails" in result.message


def test_a_credential_re_signed_by_another_key_is_not_the_issuers(issuer):
    credential = make_credential(issuer)
    credential.pop("proof")
    forged = badges.sign(credential, keys.IssuerKey.generate(), created=ISSUED)
    result = verify.verify(forged, now=NOW)
    assert (result.valid, result.failure) == (False, verify.Failure.SIGNATURE)
    assert "issuer's key" in result.message


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        "a string",
        {"@context": [contexts.CREDENTIALS_V2], "type": ["VerifiableCredential"]},
        {"@context": "https://attacker.example/", "type": "OpenBadgeCredential"},
    ],
)
def test_malformed_input_is_a_structure_failure_not_a_crash(broken):
    result = verify.verify(broken, now=NOW)
    assert (result.valid, result.failure) == (False, verify.Failure.STRUCTURE)


def test_unsigned_and_hostile_context_credentials_fail(issuer):
    credential = make_credential(issuer)
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    assert verify.verify(unsigned, now=NOW).failure == verify.Failure.SIGNATURE
    hostile = copy.deepcopy(credential)
    hostile["@context"].append("https://attacker.example/context.json")
    result = verify.verify(hostile, now=NOW)
    assert result.failure == verify.Failure.SIGNATURE
    assert "https://attacker.example/context.json" in result.message


# --- an independent verifier: Digital Bazaar's JavaScript stack -----------------------------

NODE = shutil.which("node")
VERIFY_MJS = Path(__file__).with_name("verify.mjs")


def verify_with_javascript(credential):
    completed = subprocess.run(
        [NODE, str(VERIFY_MJS)],
        input=json.dumps(credential),
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed, so the JS verifier cannot run")
def test_digital_bazaar_verifier_accepts_our_credential_and_refuses_tampering(issuer):
    credential = make_credential(issuer)
    assert verify_with_javascript(credential) == {"verified": True, "errors": []}

    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["identifier"][0]["identityHash"] = "Ada Lovelacf"
    answer = verify_with_javascript(tampered)
    assert answer["verified"] is False
    assert "Invalid signature." in answer["errors"]

    added = copy.deepcopy(credential)
    added["credentialSubject"]["achievement"]["grade"] = "A+"
    answer = verify_with_javascript(added)
    assert answer["verified"] is False
    assert "Safe mode validation error." in answer["errors"]


@pytest.mark.skipif(NODE is None, reason="node is not installed, so the JS verifier cannot run")
def test_digital_bazaar_verifier_accepts_our_status_list(issuer):
    status_list = make_status_list(issuer, {42})
    assert verify_with_javascript(status_list)["verified"] is True
