"""Certificates: issue, the served credential and status list, verification, revocation, the
public pages in both languages, the verification form against hostile files, and the admin."""

import copy
import json
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from academy.certifications import certificates
from academy.certifications.credentials import badges, keys, verify
from academy.certifications.models import Certificate
from tests.certifications.conftest import passed_attempt
from tests.certifications.test_credentials import NODE, verify_with_javascript
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture
def demo(demo_certification):
    return demo_certification


@pytest.fixture
def holder():
    return UserFactory(first_name="Ada", last_name="Lovelace")


@pytest.fixture
def certificate(demo, holder):
    attempt = passed_attempt(holder, demo)
    return certificates.certificate_issue(
        user=holder, certification=demo, language="en", attempt=attempt
    )


@pytest.fixture
def staff():
    user = UserFactory(is_staff=True, is_superuser=True, username="registrar")
    return user


def served(client, certificate):
    response = client.get(
        reverse(
            "certifications:certificate_credential", kwargs={"public_id": certificate.public_id}
        )
    )
    assert response.status_code == 200
    return response


def served_status_list(client, certificate):
    url = certificate.credential["credentialStatus"]["statusListCredential"]
    path = url.removeprefix(certificates.site_url())
    response = client.get(path)
    assert response.status_code == 200, path
    return json.loads(response.content)


# --- issue -------------------------------------------------------------------------------------


def test_issued_credential_is_served_as_stored_and_verifies(client, certificate, demo):
    response = served(client, certificate)
    assert response["Content-Type"] == "application/vc+ld+json"
    assert "attachment" in response["Content-Disposition"]
    assert response.content == certificates.certificate_credential_bytes(certificate)
    credential = json.loads(response.content)
    assert credential["id"].endswith(f"/en/certificates/{certificate.public_id}/credential.json")
    assert credential["id"] == certificates.certificate_credential_url(certificate)
    assert credential["issuer"]["id"] == certificates.issuer_key_current().did
    assert credential["credentialSubject"]["identifier"][0]["identityHash"] == "Ada Lovelace"
    assert credential["credentialSubject"]["achievement"]["name"] == "Demo Practitioner"
    assert certificate.valid_until.year == certificate.issued_at.year + 2  # validity_months: 24
    result = verify.verify(credential, status_list=served_status_list(client, certificate))
    assert result.valid, result.message
    assert result.revocation_checked


def test_spanish_certificate_is_in_spanish_and_says_so(demo, holder):
    attempt = passed_attempt(holder, demo, language="es")
    certificate = certificates.certificate_issue(
        user=holder, certification=demo, language="es", attempt=attempt
    )
    achievement = certificate.credential["credentialSubject"]["achievement"]
    assert achievement["name"] == "Profesional demo"
    assert achievement["description"] == "Una certificación para pruebas."
    assert achievement["inLanguage"] == "es"
    assert certificate.credential["id"].endswith(
        f"/es/certificates/{certificate.public_id}/credential.json"
    )
    assert verify.verify(certificate.credential).valid


@needs_node
def test_served_credential_verifies_with_digital_bazaar_and_a_changed_byte_fails(
    client, certificate
):
    content = served(client, certificate).content
    assert verify_with_javascript(json.loads(content)) == {"verified": True, "errors": []}
    status_list = served_status_list(client, certificate)
    assert verify_with_javascript(status_list)["verified"] is True

    name = b"Ada Lovelace"
    assert content.count(name) == 1
    tampered = json.loads(content.replace(name, b"Ada Lovelacf"))
    assert verify_with_javascript(tampered)["verified"] is False
    result = verify.verify(tampered)
    assert result.failure == verify.Failure.SIGNATURE


def test_any_changed_character_of_the_served_file_fails_verification(client, certificate):
    content = served(client, certificate).content.decode()
    credential = json.loads(content)
    # Dates, names, the status entry and the proof itself: one character changed in the file.
    proof_value = credential["proof"][0]["proofValue"]
    values = [
        credential["validFrom"],
        credential["validUntil"],
        credential["name"],
        credential["credentialStatus"]["statusListIndex"],
        proof_value[:20],
    ]
    for value in values:
        replacement = value[:-1] + ("7" if value[-1] != "7" else "8")
        changed = content.replace(json.dumps(value)[:-1], json.dumps(replacement)[:-1], 1)
        assert changed != content
        result = verify.verify(json.loads(changed))
        assert not result.valid, value
        assert result.failure in (verify.Failure.SIGNATURE, verify.Failure.STRUCTURE)


def test_issue_twice_for_one_attempt_gives_one_certificate(demo, holder):
    attempt = passed_attempt(holder, demo)
    first = certificates.certificate_issue(
        user=holder, certification=demo, language="en", attempt=attempt
    )
    second = certificates.certificate_issue(
        user=holder, certification=demo, language="es", attempt=attempt
    )
    assert first.pk == second.pk
    assert Certificate.objects.filter(attempt=attempt).count() == 1


def test_an_attempt_that_failed_or_is_someone_elses_earns_nothing(demo, holder):
    attempt = passed_attempt(holder, demo)
    with pytest.raises(certificates.CertificateError):
        certificates.certificate_issue(
            user=UserFactory(), certification=demo, language="en", attempt=attempt
        )
    attempt.passed = False
    attempt.save()
    with pytest.raises(certificates.CertificateError):
        certificates.certificate_issue(
            user=holder, certification=demo, language="en", attempt=attempt
        )
    with pytest.raises(certificates.CertificateError, match="staff member"):
        certificates.certificate_issue(user=holder, certification=demo, language="en")
    with pytest.raises(certificates.CertificateError, match="Only staff"):
        certificates.certificate_issue(
            user=holder, certification=demo, language="en", awarded_by=holder, reason="Me."
        )
    assert not Certificate.objects.exists()


def test_issuing_without_a_key_names_the_command(settings, demo, holder, tmp_path):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "nowhere" / "key.pem"
    with pytest.raises(certificates.IssuerKeyMissing, match=r"manage\.py issuer_key create"):
        certificates.certificate_issue(
            user=holder, certification=demo, language="en", attempt=passed_attempt(holder, demo)
        )
    assert not Certificate.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_get_distinct_status_indices(demo):
    users = [UserFactory() for _ in range(8)]
    attempts = [passed_attempt(user, demo) for user in users]
    errors = []

    def issue(user, attempt):
        try:
            certificates.certificate_issue(
                user=user, certification=demo, language="en", attempt=attempt
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=issue, args=pair) for pair in zip(users, attempts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    indices = list(Certificate.objects.values_list("status_index", flat=True))
    assert len(indices) == 8
    assert len(set(indices)) == 8


def test_an_index_taken_meanwhile_is_retried(demo, holder, monkeypatch):
    other = certificates.certificate_issue(
        user=holder, certification=demo, language="en", attempt=passed_attempt(holder, demo)
    )
    picks = iter([other.status_index, other.status_index + 1 if other.status_index < 10 else 3])
    # As if another process had taken the index between the choice and the insert.
    monkeypatch.setattr(certificates, "_free_index", lambda: next(picks))
    second = certificates.certificate_issue(
        user=holder, certification=demo, language="en", attempt=passed_attempt(holder, demo)
    )
    assert second.status_index != other.status_index


# --- revocation ----------------------------------------------------------------------------


def test_revoked_certificate_is_revoked_in_the_list_and_on_both_pages(client, certificate, staff):
    before = served_status_list(client, certificate)
    assert not badges.status_bit(before, certificate.status_index)
    certificates.certificate_revoke(
        certificate=certificate, by=staff, reason="Exam taken by someone else."
    )
    status_list = served_status_list(client, certificate)
    assert badges.status_bit(status_list, certificate.status_index)
    assert status_list["proof"] != before["proof"]
    credential = json.loads(served(client, certificate).content)
    result = verify.verify(credential, status_list=status_list)
    assert result.failure == verify.Failure.REVOKED

    page_en = client.get(f"/en/certificates/{certificate.public_id}/").content.decode()
    assert "This certificate has been revoked." in page_en
    assert "Exam taken by someone else." in page_en
    page_es = client.get(f"/es/certificates/{certificate.public_id}/")
    assert page_es.status_code == 200
    assert 'data-status="revoked"' in page_es.content.decode()
    assert '<html lang="es">' in page_es.content.decode()


def test_revocation_needs_a_reason_and_happens_once(certificate, staff):
    with pytest.raises(certificates.CertificateError):
        certificates.certificate_revoke(certificate=certificate, by=staff, reason="  ")
    with pytest.raises(certificates.CertificateError):
        certificates.certificate_revoke(certificate=certificate, by=staff, reason="x" * 1001)
    certificates.certificate_revoke(certificate=certificate, by=staff, reason="Fraud.")
    with pytest.raises(certificates.CertificateError):
        certificates.certificate_revoke(certificate=certificate, by=staff, reason="Again.")
    certificate.refresh_from_db()
    assert certificate.revocation_reason == "Fraud."
    assert certificate.revoked_by == staff


def test_status_list_is_the_same_document_until_it_changes(client, certificate):
    first = served_status_list(client, certificate)
    from django.core.cache import cache

    cache.clear()
    assert served_status_list(client, certificate) == first


def test_expired_certificate_says_expired(client, certificate):
    later = certificate.valid_until + timedelta(days=1)
    assert certificates.certificate_status(certificate, later) == "expired"
    assert certificates.certificate_status(certificate) == "valid"
    result = verify.verify(certificate.credential, now=later)
    assert result.failure == verify.Failure.EXPIRED
    Certificate.objects.filter(pk=certificate.pk).update(
        valid_until=timezone.now() - timedelta(days=1)
    )
    for language, text in (
        ("en", "This certificate has expired."),
        ("es", 'data-status="expired"'),
    ):
        page = client.get(f"/{language}/certificates/{certificate.public_id}/")
        assert text in page.content.decode()


def test_admin_revoke_action_asks_for_a_reason_and_revokes(client, certificate, staff):
    client.login(username=staff.username, password=PASSWORD)
    url = reverse("admin:certifications_certificate_changelist")
    data = {"action": "revoke", "_selected_action": [certificate.pk]}
    ask = client.post(url, data)
    assert ask.status_code == 200
    assert b"Reason for the revocation" in ask.content
    certificate.refresh_from_db()
    assert certificate.revoked_at is None
    done = client.post(url, {**data, "reason": "Proctor saw notes."})
    assert done.status_code == 302
    certificate.refresh_from_db()
    assert certificate.revocation_reason == "Proctor saw notes."
    assert certificate.revoked_by == staff


def test_staff_without_permission_cannot_revoke(client, certificate):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_certificate"))
    client.login(username=clerk.username, password=PASSWORD)
    url = reverse("admin:certifications_certificate_changelist")
    response = client.post(
        url,
        {"action": "revoke", "_selected_action": [certificate.pk], "reason": "Because."},
    )
    assert response.status_code in (200, 302, 403)
    certificate.refresh_from_db()
    assert certificate.revoked_at is None
    learner = UserFactory()
    client.login(username=learner.username, password=PASSWORD)
    client.post(url, {"action": "revoke", "_selected_action": [certificate.pk], "reason": "x"})
    certificate.refresh_from_db()
    assert certificate.revoked_at is None


def test_certificates_and_attempts_are_read_only_in_the_admin(client, certificate, staff):
    client.login(username=staff.username, password=PASSWORD)
    change = reverse("admin:certifications_certificate_change", args=[certificate.pk])
    assert client.get(change).status_code == 200
    assert client.post(reverse("admin:certifications_certificate_add")).status_code == 403
    delete = reverse("admin:certifications_certificate_delete", args=[certificate.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Certificate.objects.filter(pk=certificate.pk).exists()
    attempt = reverse("admin:certifications_attempt_change", args=[certificate.attempt.pk])
    assert client.get(attempt).status_code == 200


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "es"])
def test_verification_page_shows_the_facts(client, certificate, language):
    response = client.get(f"/{language}/certificates/{certificate.public_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Lovelace" in page
    assert certificates.issuer_key_current().did in page
    assert 'data-status="valid"' in page
    assert f"/certificates/{certificate.public_id}/credential.json" in page


def test_my_certificates_lists_only_mine(client, certificate, holder):
    assert client.get("/en/certificates/").status_code == 302  # sign in first
    client.login(username=holder.username, password=PASSWORD)
    for language in ("en", "es"):
        page = client.get(f"/{language}/certificates/")
        assert page.status_code == 200
        assert str(certificate.public_id) in page.content.decode()
    client.login(username=UserFactory().username, password=PASSWORD)
    assert str(certificate.public_id) not in client.get("/en/certificates/").content.decode()


def test_unknown_certificate_is_404(client, db):
    assert client.get("/en/certificates/6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/").status_code == 404
    assert (
        client.get(
            "/en/certificates/6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/credential.json"
        ).status_code
        == 404
    )
    assert client.get("/en/certificates/status/z6MkNotAKeyOfOurs/").status_code == 404


def test_issuer_page_publishes_the_same_key_in_both_languages(client, db):
    key = certificates.issuer_key_current()
    for language in ("en", "es"):
        page = client.get(f"/{language}/issuer/").content.decode()
        assert key.did in page
        assert key.public_key_multibase in page
    profile = client.get("/en/issuer/profile.json").json()
    assert profile["id"] == key.did
    assert profile["publicKey"]["publicKeyMultibase"] == key.public_key_multibase
    assert profile["publicKey"]["controller"] == key.did


def test_achievement_url_leads_to_the_certification(client, certificate, demo):
    url = certificate.credential["credentialSubject"]["achievement"]["criteria"]["id"]
    response = client.get(url.removeprefix(certificates.site_url()))
    assert response.status_code == 302
    assert response["Location"] == reverse("certifications:detail", kwargs={"slug": demo.slug})


# --- the verification form ---------------------------------------------------------------------


def post_file(client, certificate, content: bytes, language="en", name="credential.json"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/{language}/certificates/{certificate.public_id}/",
        {"file": SimpleUploadedFile(name, content, content_type="application/json")},
    )


def test_form_says_a_served_file_is_valid(client, certificate):
    response = post_file(client, certificate, served(client, certificate).content)
    page = response.content.decode()
    assert response.status_code == 200
    assert "The credential is valid" in page


@pytest.mark.parametrize("language", ["en", "es"])
def test_form_says_why_a_tampered_file_fails(client, certificate, language):
    content = served(client, certificate).content.replace(b"Ada Lovelace", b"Ada Lovelacf")
    response = post_file(client, certificate, content, language=language)
    page = response.content.decode()
    assert 'class="verdict verdict-fail"' in page
    assert "proof fails" in page  # the verifier's reason, verbatim
    if language == "en":
        assert "The signature does not match" in page


def test_form_refuses_a_credential_signed_by_another_key(client, certificate):
    forged = copy.deepcopy(certificate.credential)
    forged.pop("proof")
    intruder = keys.IssuerKey.generate()
    forged["issuer"]["id"] = intruder.did
    forged = badges.sign(forged, intruder)
    assert verify.verify(forged).valid  # cryptographically fine...
    page = post_file(client, certificate, json.dumps(forged).encode()).content.decode()
    assert "not this academy" in page  # ...but not ours


def test_form_says_revoked_with_the_reason(client, certificate, staff):
    certificates.certificate_revoke(certificate=certificate, by=staff, reason="Shared answers.")
    page = post_file(client, certificate, served(client, certificate).content).content.decode()
    assert "has been revoked" in page
    assert "Shared answers." in page


def test_form_refuses_oversize_and_non_json_with_a_message(client, certificate, settings):
    big = b'{"x": "' + b"a" * (300 * 1024) + b'"}'
    response = post_file(client, certificate, big)
    assert response.status_code == 413
    assert "larger than 256 KB" in response.content.decode()
    # Just over the limit, under the envelope allowance: stopped while reading.
    response = post_file(client, certificate, b" " * (256 * 1024 + 10))
    assert response.status_code == 413
    response = post_file(client, certificate, b"\x00\xffnot json")
    assert response.status_code == 400
    assert "not a JSON file" in response.content.decode()
    response = client.post(f"/en/certificates/{certificate.public_id}/", {"text": ""})
    assert "Choose a credential file or paste one." in response.content.decode()


def test_pasted_credential_is_verified_on_the_standalone_page(client, certificate):
    response = client.post("/es/certificates/verify/", {"text": json.dumps(certificate.credential)})
    assert response.status_code == 200
    assert 'class="verdict verdict-pass"' in response.content.decode()
    garbage = client.post("/en/certificates/verify/", {"text": '{"@context": 1}'})
    assert "not a well-formed Open Badges 3.0 credential" in garbage.content.decode()


@pytest.mark.parametrize("language", ["en", "es"])
def test_pdf_download_from_the_verification_page(client, certificate, language):
    page = client.get(f"/{language}/certificates/{certificate.public_id}/").content.decode()
    url = reverse("certifications:certificate_pdf", kwargs={"public_id": certificate.public_id})
    assert url.removeprefix("/en/").removeprefix("/es/") in page
    response = client.get(f"/{language}/certificates/{certificate.public_id}/certificate.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f"certificate-{certificate.public_id}.pdf" in response["Content-Disposition"]


def test_a_flood_of_verifications_is_limited_and_says_so(client, certificate, settings):
    settings.LAB_RATE_LIMITS = {
        **settings.LAB_RATE_LIMITS,
        "credential_verify": {"address": "3/60"},
    }
    content = served(client, certificate).content
    statuses = [post_file(client, certificate, content).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    page = post_file(client, certificate, content).content.decode()
    assert "Too many requests" in page
    assert "The credential is valid" not in page
