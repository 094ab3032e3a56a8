"""The certificate commands: issuer_key, verify_credential, certification award / export."""

import json
import stat
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from academy.certifications import certificates
from academy.certifications.credentials import badges, keys, verify
from academy.certifications.models import Certificate
from tests.certifications.conftest import passed_attempt
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def staff():
    return UserFactory(username="registrar", is_staff=True)


@pytest.fixture
def demo(demo_certification):
    return demo_certification


@pytest.fixture
def holder():
    return UserFactory(username="ada", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def certificate(demo, holder):
    return certificates.certificate_issue(
        user=holder, certification=demo, language="en", attempt=passed_attempt(holder, demo)
    )


# --- issuer_key ------------------------------------------------------------------------------


def test_issuer_key_create_writes_a_private_file_and_never_overwrites(settings, tmp_path):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "config" / "academy" / "issuer-key.pem"
    output = run("issuer_key", "create")
    path = settings.ACADEMY_ISSUER_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = keys.load_issuer_key(path)
    assert key.did in output
    before = path.read_bytes()
    with pytest.raises(CommandError, match="never overwritten"):
        run("issuer_key", "create")
    assert "exists already" in run("issuer_key", "create", "--if-missing")
    assert path.read_bytes() == before
    shown = run("issuer_key", "show")
    assert f"did: {key.did}" in shown
    assert f"publicKeyMultibase: {key.public_key_multibase}" in shown


def test_issuer_key_create_if_missing_creates_it(settings, tmp_path):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "new" / "issuer-key.pem"
    assert "Issuer key created" in run("issuer_key", "create", "--if-missing")
    assert settings.ACADEMY_ISSUER_KEY_FILE.is_file()


def test_issuer_key_show_without_a_key_names_the_command(settings, tmp_path):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "none.pem"
    with pytest.raises(CommandError, match="issuer_key create"):
        run("issuer_key", "show")


def test_rotation_keeps_old_credentials_valid_and_revocable(client, certificate, staff, tmp_path):
    old_did = certificates.issuer_key_current().did
    output = run("issuer_key", "rotate")
    new = certificates.issuer_key_current()
    assert new.did != old_did
    assert old_did in output and new.did in output
    retired = certificates.retired_keys_dir() / f"{old_did.removeprefix('did:key:')}.pem"
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600

    # The old credential still verifies, and its status list (the old key's) is still served.
    credential_file = tmp_path / "old.json"
    run("certification", "export", str(certificate.public_id), "--out", str(credential_file))
    assert "VALID" in run("verify_credential", str(credential_file))
    certificates.certificate_revoke(certificate=certificate, by=staff, reason="After rotation.")
    with pytest.raises(CommandError, match=r"NOT VALID \(revoked\)"):
        run("verify_credential", str(credential_file))

    # New certificates are signed by the new key, with the new key's list.
    other = certificates.certificate_issue(
        user=UserFactory(),
        certification=certificate.certification,
        language="en",
        awarded_by=staff,
        reason="Proctored session.",
    )
    assert other.credential["issuer"]["id"] == new.did
    assert verify.verify(
        other.credential, status_list=certificates.status_list_credential(did=new.did)
    ).valid
    profile = client.get("/en/issuer/profile.json").json()
    assert profile["id"] == new.did
    assert [key["id"] for key in profile["previousKeys"]] == [old_did]
    assert old_did in run("issuer_key", "show")


# --- verify_credential -----------------------------------------------------------------------


def export(certificate, path) -> str:
    return run("certification", "export", str(certificate.public_id), "--out", str(path))


def test_export_writes_the_served_bytes(client, certificate, tmp_path):
    path = tmp_path / "credential.json"
    assert "written" in export(certificate, path)
    served = client.get(f"/en/certificates/{certificate.public_id}/credential.json").content
    assert path.read_bytes() == served


def test_export_of_an_unknown_certificate_fails(tmp_path):
    with pytest.raises(CommandError, match="No certificate"):
        run("certification", "export", "not-a-uuid", "--out", str(tmp_path / "x.json"))
    with pytest.raises(CommandError, match="No certificate"):
        run(
            "certification",
            "export",
            "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
            "--out",
            str(tmp_path / "x.json"),
        )


def test_verify_credential_says_valid_and_checks_revocation_from_the_database(
    certificate, tmp_path
):
    path = tmp_path / "credential.json"
    export(certificate, path)
    output = run("verify_credential", str(path))
    assert "VALID" in output
    assert "revocation: checked" in output


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda text: text.replace("Ada Lovelace", "Ada Lovelacf"), r"\(signature\)"),
        (lambda text: text.replace('"OpenBadgeCredential"', '"Badge"'), r"\(structure\)"),
        (lambda text: text[: len(text) // 2], r"structure: .* is not JSON"),
    ],
)
def test_verify_credential_says_exactly_why_a_file_fails(certificate, tmp_path, change, reason):
    path = tmp_path / "credential.json"
    export(certificate, path)
    path.write_text(change(path.read_text()))
    with pytest.raises(CommandError, match=reason):
        run("verify_credential", str(path))


def test_verify_credential_says_expired(certificate, tmp_path):
    path = tmp_path / "credential.json"
    export(certificate, path)
    later = certificate.valid_until.replace(year=certificate.valid_until.year + 1).isoformat()
    with pytest.raises(CommandError, match=r"NOT VALID \(expired\)"):
        run("verify_credential", str(path), "--now", later)


def test_verify_credential_with_a_status_list_file(certificate, staff, tmp_path):
    path = tmp_path / "credential.json"
    export(certificate, path)
    did = certificate.credential["issuer"]["id"]
    clean = tmp_path / "list-before.json"
    clean.write_text(json.dumps(certificates.status_list_credential(did=did)))
    certificates.certificate_revoke(certificate=certificate, by=staff, reason="Fraud.")
    revoked = tmp_path / "list-after.json"
    revoked.write_text(json.dumps(certificates.status_list_credential(did=did)))
    assert "not revoked" in run("verify_credential", str(path), "--status-list", str(clean))
    with pytest.raises(CommandError, match=r"\(revoked\)"):
        run("verify_credential", str(path), "--status-list", str(revoked))
    # A list whose bits were edited by hand: its proof fails.
    forged = json.loads(clean.read_text())
    forged["credentialSubject"]["encodedList"] = badges.encode_status_list({1, 2, 3})
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))
    with pytest.raises(CommandError, match=r"\(status_list\)"):
        run("verify_credential", str(path), "--status-list", str(forged_path))


def test_verify_credential_refuses_another_issuers_credential(certificate, tmp_path):
    stranger = keys.IssuerKey.generate()
    credential = dict(certificate.credential)
    credential.pop("proof")
    credential["issuer"] = {**credential["issuer"], "id": stranger.did}
    path = tmp_path / "stranger.json"
    path.write_text(json.dumps(badges.sign(credential, stranger)))
    with pytest.raises(CommandError, match=r"NOT VALID \(issuer\)"):
        run("verify_credential", str(path))


def test_verify_credential_refuses_oversize_and_missing_files(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (verify.MAX_CREDENTIAL_BYTES + 1))
    with pytest.raises(CommandError, match="larger than"):
        run("verify_credential", str(big))
    with pytest.raises(CommandError, match="cannot read"):
        run("verify_credential", str(tmp_path / "absent.json"))


def test_verify_credential_exit_status_from_the_command_line(certificate, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    from tests.conftest import database_env

    path = tmp_path / "credential.json"
    export(certificate, path)
    env = {
        **database_env(),
        "ACADEMY_ISSUER_KEY_FILE": str(settings.ACADEMY_ISSUER_KEY_FILE),
        "PATH": "/usr/bin:/bin",
    }
    ok = subprocess.run(
        [sys.executable, "manage.py", "verify_credential", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "VALID" in ok.stdout
    path.write_text(path.read_text().replace("Ada Lovelace", "Eve"))
    bad = subprocess.run(
        [sys.executable, "manage.py", "verify_credential", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "NOT VALID (signature)" in bad.stderr


def test_verify_credential_works_offline_without_the_sites_database(certificate, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    path = tmp_path / "credential.json"
    export(certificate, path)
    env = {
        # An empty database: no tables, as for someone who has only the code and the file.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "ACADEMY_ISSUER_KEY_FILE": str(settings.ACADEMY_ISSUER_KEY_FILE),
        "PATH": "/usr/bin:/bin",
    }
    ok = subprocess.run(
        [sys.executable, "manage.py", "verify_credential", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "VALID" in ok.stdout
    assert "revocation: NOT checked" in ok.stdout


# --- certification award ---------------------------------------------------------------------


def test_award_issues_the_same_credential_and_is_audited(demo, holder, staff, tmp_path):
    output = run(
        "certification",
        "award",
        "ada",
        "demo-practitioner",
        "--reason",
        "Proctored session in Lima.",
        "--by",
        "registrar",
        "--language",
        "es",
    )
    certificate = Certificate.objects.get(user=holder)
    assert str(certificate.public_id) in output
    assert certificate.attempt is None
    assert certificate.awarded_by == staff
    assert certificate.award_reason == "Proctored session in Lima."
    assert certificate.credential["credentialSubject"]["achievement"]["inLanguage"] == "es"
    entry = LogEntry.objects.get(object_id=str(certificate.pk))
    assert entry.user == staff
    assert "Proctored session in Lima." in entry.change_message
    path = tmp_path / "awarded.json"
    export(certificate, path)
    assert "VALID" in run("verify_credential", str(path))


def test_award_by_slug_in_spanish(demo, holder, staff):
    run(
        "certification", "award", "ada", "profesional-demo", "--reason", "Fix.", "--by", "registrar"
    )
    assert Certificate.objects.filter(user=holder, certification=demo).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "demo-practitioner", "--reason", "x", "--by", "registrar"], "No user named"),
        (["ada", "no-such-thing", "--reason", "x", "--by", "registrar"], "No published"),
        (["ada", "demo-practitioner", "--reason", "x", "--by", "ada"], "not an active staff"),
        (["ada", "demo-practitioner", "--reason", "  ", "--by", "registrar"], "why"),
    ],
)
def test_award_refusals(demo, holder, staff, args, message):
    with pytest.raises(CommandError, match=message):
        run("certification", "award", *args)
    assert not Certificate.objects.exists()


def test_award_without_reason_is_a_usage_error(demo, holder, staff):
    with pytest.raises(CommandError):
        run("certification", "award", "ada", "demo-practitioner", "--by", "registrar")
    assert not Certificate.objects.exists()


def test_award_without_by_names_the_operators_staff_account(demo, holder, staff, monkeypatch):
    """The issue's form, `certification award USERNAME SLUG --reason TEXT`: the operator's own
    staff account is recorded (from ACADEMY_STAFF_USERNAME, else the login name)."""
    monkeypatch.delenv("ACADEMY_STAFF_USERNAME", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "nobody-here")
    with pytest.raises(CommandError, match="--by USERNAME"):
        run("certification", "award", "ada", "demo-practitioner", "--reason", "x")
    assert not Certificate.objects.exists()
    monkeypatch.setenv("ACADEMY_STAFF_USERNAME", "registrar")
    run("certification", "award", "ada", "demo-practitioner", "--reason", "Proctored.")
    assert Certificate.objects.get(user=holder).awarded_by == staff
