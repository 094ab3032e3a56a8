"""The certificate PDF: one A4 landscape page in the certificate's language, a QR code that
scans to the verification page, the signed credential attached, and nothing fetched.

The PDF is read back with poppler-utils (pdftotext, pdfinfo, pdffonts, pdfdetach, pdftoppm)
and the QR code is scanned from the rendered page with zbarimg (zbar-tools): scripts/bootstrap.sh
installs both in test mode, so these tests never skip.
"""

import http.server
import json
import re
import shutil
import subprocess
import threading
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from weasyprint import HTML

from academy.certifications import certificates, pdf
from academy.certifications.credentials import badges, keys, verify
from academy.certifications.models import Certificate, Certification
from tests.factories import UserFactory

SITE = "https://academy.example"
ISSUED = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
EXPIRES = datetime(2028, 12, 3, 9, 30, tzinfo=UTC)
TITLE_EN = "Chaos Engineering Practitioner"
TITLE_ES = "Profesional de ingeniería del caos (Practitioner)"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

pytestmark = pytest.mark.django_db


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run scripts/bootstrap.sh test (poppler-utils, zbar-tools)"
    return path


def run(*args: str, input: bytes | None = None) -> str:
    result = subprocess.run(
        [tool(args[0]), *args[1:]], input=input, capture_output=True, check=True, timeout=60
    )
    return result.stdout.decode()


def pdf_text(document: bytes) -> str:
    # -raw: in drawing order, so that the rotated "Revoked" and the spaced-out heading read
    # as words.
    return run("pdftotext", "-raw", "-enc", "UTF-8", "-", "-", input=document)


def squeezed(text: str) -> str:
    """The text without any whitespace: a URL that wraps under the QR code is one word again."""
    return "".join(text.split())


def pdf_objects(document: bytes) -> bytes:
    """The PDF's bytes with every Flate stream inflated: the catalogue sits in a compressed
    object stream, where ``/Lang`` can't be seen in the raw file."""
    inflated = [document]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", document, re.S):
        try:
            inflated.append(zlib.decompress(match[1]))
        except zlib.error:
            continue
    return b"\n".join(inflated)


def pdf_info(document: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(document)
    info = {}
    # -custom prints the document's metadata, custom keys included; plain pdfinfo the rest.
    for line in (run("pdfinfo", str(path)) + run("pdfinfo", "-custom", str(path))).splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def page_png(document: bytes, target: Path, *, dpi: int = 110) -> Path:
    """The first page as a PNG at ``target`` (pdftoppm adds the .png)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.with_suffix(".pdf")
    source.write_bytes(document)
    stem = target.with_suffix("")
    run("pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-singlefile", str(source), str(stem))
    source.unlink()
    return stem.with_suffix(".png")


@pytest.fixture(scope="module")
def issuer_key():
    return keys.IssuerKey.generate()


@pytest.fixture
def certification(db):
    return Certification.objects.create(
        key="chaos-engineering-practitioner",
        slug_en="chaos-engineering-practitioner",
        slug_es="profesional-ingenieria-del-caos",
        title_en=TITLE_EN,
        title_es=TITLE_ES,
        summary_en="Plans, runs and learns from chaos experiments.",
        summary_es="Planifica, ejecuta y aprende de experimentos de caos.",
        questions=40,
        minutes=90,
        pass_mark=70,
        cooldown_hours=24,
        attempts_count=3,
        attempts_days=30,
        validity_months=24,
    )


@pytest.fixture
def make_certificate(certification, issuer_key):
    counter = iter(range(1, 1000))

    def make(
        *,
        language="en",
        recipient_name="María José Ñúñez",
        revoked=False,
        signed=True,
        title=TITLE_EN,
    ):
        public_id = uuid.uuid4()
        index = next(counter)
        credential = {}
        if signed:
            credential = badges.sign(
                badges.build_credential(
                    site=SITE,
                    certificate_id=public_id,
                    issuer_key=issuer_key,
                    issuer_name="Chaos & GitOps Academy",
                    issuer_url=f"{SITE}/{language}/issuer/",
                    recipient_name=recipient_name,
                    certification_url=f"{SITE}/{language}/certifications/chaos/",
                    certification_name=title,
                    achievement_description="Plans, runs and learns from chaos experiments.",
                    criteria_narrative="Pass the timed exam.",
                    valid_from=ISSUED,
                    valid_until=EXPIRES,
                    status_list_url=f"{SITE}/credentials/status/1",
                    status_list_index=index,
                    language=language,
                ),
                issuer_key,
                created=ISSUED,
            )
        return Certificate.objects.create(
            public_id=public_id,
            certification=certification,
            user=UserFactory(),
            language=language,
            recipient_name=recipient_name,
            issued_at=ISSUED,
            valid_from=ISSUED,
            valid_until=EXPIRES,
            status_index=index,
            credential=credential,
            revoked_at=datetime(2027, 3, 15, 12, 0, tzinfo=UTC) if revoked else None,
        )

    return make


def verification_url(certificate, language="en"):
    return f"{SITE}/{language}/certificates/{certificate.public_id}/"


# --- the page ----------------------------------------------------------------------------------


def test_english_certificate_says_who_what_when_and_where_to_verify(make_certificate, tmp_path):
    certificate = make_certificate(language="en")
    url = verification_url(certificate)
    document = pdf.certificate_pdf(certificate=certificate, verification_url=url)

    assert document.startswith(b"%PDF-")
    info = pdf_info(document, tmp_path)
    assert info["Pages"] == "1"
    width, height = (float(side) for side in info["Page size"].split()[0:3:2])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    text = pdf_text(document)
    assert "María José Ñúñez" in text
    assert TITLE_EN in text
    assert TITLE_ES not in text
    assert "CERTIFICATE" in text  # headings and labels are set in capitals
    assert "VALID UNTIL" in text
    assert "December 3, 2026" in text
    assert "December 3, 2028" in text
    assert str(certificate.public_id) in text
    assert url in squeezed(text)
    assert "Open Badges 3.0" in text
    # The other language, smaller, under the key labels (once Spanish has the label; never
    # the same words twice).
    with translation.override("es"):
        spanish = gettext("Valid until")
    assert spanish.upper() in text
    assert text.count("VALID UNTIL") == 1


def test_spanish_certificate_is_in_spanish(make_certificate, tmp_path):
    certificate = make_certificate(language="es", title=TITLE_ES)
    url = verification_url(certificate, "es")
    document = pdf.certificate_pdf(certificate=certificate, verification_url=url)

    assert pdf_info(document, tmp_path)["Pages"] == "1"
    text = pdf_text(document)
    assert "María José Ñúñez" in text
    assert TITLE_ES in " ".join(text.split())  # a long title may wrap
    assert TITLE_EN not in text
    assert "3 de diciembre de 2026" in text
    assert "3 de diciembre de 2028" in text
    assert url in squeezed(text)
    with translation.override("es"):
        for label in ("Certificate", "Valid until", "Issued", "Issuer", "Verify online"):
            assert gettext(label).upper() in text, label
        statement = gettext("This certifies that")
    assert statement in text
    # English is the secondary line under the labels.
    assert "VALID UNTIL" in text
    # Every font is embedded, and is DejaVu (á é í ó ú ñ ¿ ¡ are all in it), not a fallback.
    source = tmp_path / "es.pdf"
    source.write_bytes(document)
    fonts = run("pdffonts", str(source)).splitlines()[2:]
    assert fonts
    for line in fonts:
        assert line.split()[0].split("+")[-1].startswith("DejaVu"), line
        assert " yes yes yes " in line, line  # embedded, subset, with a Unicode map


def test_metadata_names_the_certificate_the_issuer_and_the_language(
    make_certificate, issuer_key, tmp_path
):
    certificate = make_certificate(language="es", title=TITLE_ES)
    url = verification_url(certificate, "es")
    document = pdf.certificate_pdf(certificate=certificate, verification_url=url)

    info = pdf_info(document, tmp_path)
    assert TITLE_ES in info["Title"]
    assert "María José Ñúñez" in info["Title"]
    assert info["Author"] == "Chaos & GitOps Academy"
    assert info["certificateid"] == str(certificate.public_id)
    assert info["verificationurl"] == url
    # The issuer's did:key: shortened on the page, whole in the metadata.
    assert info["issuerdid"] == issuer_key.did
    assert issuer_key.did in info["Keywords"]
    text = pdf_text(document)
    assert issuer_key.did not in text
    assert pdf.short_did(issuer_key.did) in text
    assert re.search(rb"/Lang\s*\(es\)", pdf_objects(document))


def test_the_signed_credential_is_attached_and_verifies_offline(make_certificate, tmp_path):
    certificate = make_certificate(language="en")
    document = pdf.certificate_pdf(
        certificate=certificate, verification_url=verification_url(certificate)
    )
    source = tmp_path / "certificate.pdf"
    source.write_bytes(document)
    listing = run("pdfdetach", "-list", str(source))
    assert "1 embedded files" in listing
    assert pdf.ATTACHMENT_NAME in listing
    saved = tmp_path / "attached.json"
    run("pdfdetach", "-save", "1", "-o", str(saved), str(source))

    assert saved.read_bytes() == pdf.credential_bytes(certificate)
    attached = json.loads(saved.read_text())
    assert attached == certificate.credential
    result = verify.verify(attached, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert result.valid, result.message


# --- the QR code -------------------------------------------------------------------------------


def test_qr_code_is_made_from_the_verification_url(make_certificate):
    certificate = make_certificate()
    url = verification_url(certificate)
    html = pdf.certificate_html(certificate=certificate, verification_url=url)

    assert pdf.qr_svg(url) in html
    assert pdf.qr_code(url).matrix == segno.make(url, error="m").matrix
    other = verification_url(make_certificate())
    assert pdf.qr_svg(other) not in html


def test_printed_qr_code_scans_to_the_verification_url(make_certificate, tmp_path):
    """A real scan (zbarimg) of the page as printed, not just of what was put in the HTML."""
    certificate = make_certificate(language="es", title=TITLE_ES)
    url = verification_url(certificate, "es")
    document = pdf.certificate_pdf(certificate=certificate, verification_url=url)
    image = page_png(document, tmp_path / "page.png", dpi=200)

    decoded = run("zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image))
    assert decoded.strip().splitlines() == [url]


# --- revoked -----------------------------------------------------------------------------------


def test_revoked_certificate_renders_marked_revoked_without_its_credential(
    make_certificate, tmp_path
):
    certificate = make_certificate(language="en", revoked=True)
    document = pdf.certificate_pdf(
        certificate=certificate, verification_url=verification_url(certificate)
    )
    assert pdf_info(document, tmp_path)["Pages"] == "1"
    text = pdf_text(document)
    assert "Revoked on March 15, 2027. This certificate is no longer valid." in " ".join(
        text.split()
    )
    assert "REVOKED" in text  # the watermark across the page
    assert "María José Ñúñez" in text
    source = tmp_path / "revoked.pdf"
    source.write_bytes(document)
    assert "0 embedded files" in run("pdfdetach", "-list", str(source))

    valid = make_certificate(language="en")
    valid_text = pdf_text(
        pdf.certificate_pdf(certificate=valid, verification_url=verification_url(valid))
    )
    assert "Revoked" not in valid_text
    assert "REVOKED" not in valid_text


def test_revoked_spanish_certificate_says_so_in_spanish(make_certificate):
    certificate = make_certificate(language="es", revoked=True, title=TITLE_ES)
    text = pdf_text(
        pdf.certificate_pdf(
            certificate=certificate, verification_url=verification_url(certificate, "es")
        )
    )
    assert "15 de marzo de 2027" in text
    with translation.override("es"):
        assert gettext("Revoked").upper() in text


def test_unsigned_certificate_renders_without_issuer_key_or_attachment(make_certificate, tmp_path):
    certificate = make_certificate(signed=False)
    document = pdf.certificate_pdf(
        certificate=certificate, verification_url=verification_url(certificate)
    )
    assert pdf_info(document, tmp_path)["Pages"] == "1"
    assert "did:key" not in pdf_text(document)
    source = tmp_path / "unsigned.pdf"
    source.write_bytes(document)
    assert "0 embedded files" in run("pdfdetach", "-list", str(source))


# --- hostile input and the network -------------------------------------------------------------


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):  # the standard library's name
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml")
        self.end_headers()
        self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server(monkeypatch):
    """An HTTP server on the loopback that records every request it gets (straight to it,
    whatever proxy the environment names)."""
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    handler = type("Handler", (_RecordingHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_fetching_template_would_be_seen_by_the_recording_server(recording_server):
    """The control for the test below: WeasyPrint's default fetcher does reach the server."""
    base, requests = recording_server
    HTML(string=f'<img src="{base}/default.svg">').write_pdf()
    assert requests == ["/default.svg"]


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="{base}/image.svg">',
        '<style>@import url("{base}/style.css");</style><p>x</p>',
        '<style>@font-face {{ font-family: X; src: url("{base}/font.woff2"); }}'
        " p {{ font-family: X; }}</style><p>x</p>",
        '<link rel="stylesheet" href="{base}/style.css"><p>x</p>',
        '<link rel="attachment" href="{base}/file.json"><p>x</p>',
        '<img src="file:///etc/passwd">',
    ],
)
def test_offline_fetcher_refuses_every_url_and_stops_the_rendering(recording_server, markup):
    base, requests = recording_server
    fetcher = pdf.OfflineURLFetcher()
    with pytest.raises(pdf.ExternalResourceRefused):
        HTML(string=markup.format(base=base), url_fetcher=fetcher).write_pdf()
    assert requests == []


def test_hostile_recipient_name_is_text_and_fetches_nothing(make_certificate, recording_server):
    base, requests = recording_server
    name = f'<img src="{base}/x.svg"><style>@import "{base}/y.css";</style>Eve'
    certificate = make_certificate(recipient_name=name)
    url = verification_url(certificate)
    html = pdf.certificate_html(certificate=certificate, verification_url=url)
    assert "<img src=" not in html
    document = pdf.certificate_pdf(certificate=certificate, verification_url=url)
    assert requests == []
    assert squeezed(name) in squeezed(pdf_text(document))  # shown as the text it is


def word_boxes(document: bytes) -> list[tuple[float, float, float, float, str]]:
    """Each word on the page with its box in points (x0, y0, x1, y1), from pdftotext -bbox."""
    html = run("pdftotext", "-bbox", "-", "-", input=document)
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [
        (float(x0), float(y0), float(x1), float(y1), word)
        for x0, y0, x1, y1, word in re.findall(pattern, html)
    ]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        (
            "Maximiliano Alejandro de la Santísima Trinidad Fernández-Villaverde y Ortega",
            "Profesional de ingeniería del caos y de entrega continua declarativa con GitOps "
            "(Practitioner avanzado)",
        ),
        # The longest the models allow, with no space to break at.
        ("Ñ" * 200, "Título" * 33),
        (("Ana María " * 20).strip(), " ".join(["Ingeniería"] * 18)),
    ],
)
def test_long_name_and_title_stay_on_the_page(
    make_certificate, certification, tmp_path, name, title
):
    certification.title_es = title
    certification.save()
    certificate = make_certificate(language="es", recipient_name=name, revoked=True)
    document = pdf.certificate_pdf(
        certificate=certificate, verification_url=verification_url(certificate, "es") + "x" * 60
    )
    assert pdf_info(document, tmp_path)["Pages"] == "1"
    assert squeezed(name) in squeezed(pdf_text(document))
    # Every word inside the frame (8 mm margin and its border, about 27 pt), none cut off.
    with translation.override("es"):
        watermark = gettext("Revoked").upper()  # drawn across the frame on purpose
    words = [box for box in word_boxes(document) if box[4] != watermark]
    assert len(words) > 30
    for x0, y0, x1, y1, word in words:
        assert x0 > 27 and y0 > 27 and x1 < 842 - 27 and y1 < 595 - 27, word
    if name.startswith("Maximiliano"):
        page_png(document, SCREENSHOTS / "certificate-pdf-long-es.png")


# --- the download ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["en", "es"])
def test_download_is_the_certificate_in_its_own_language_pointing_at_its_page(
    client, make_certificate, prefix
):
    certificate = make_certificate(language="es", title=TITLE_ES)
    with translation.override(prefix):
        url = reverse("certifications:certificate_pdf", args=[certificate.public_id])
    assert url.startswith(f"/{prefix}/")

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert ".pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "3 de diciembre de 2026" in text  # the certificate's language, not the URL's
    assert certificates.certificate_page_url(certificate) in squeezed(text)


def test_download_of_an_unknown_certificate_is_not_found(client, make_certificate):
    make_certificate()
    with translation.override("en"):
        url = reverse("certifications:certificate_pdf", args=[uuid.uuid4()])
    assert client.get(url).status_code == 404


# --- previews to look at -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "title", "revoked"),
    [("en", TITLE_EN, False), ("es", TITLE_ES, False), ("en", TITLE_EN, True)],
)
def test_previews_are_saved_for_review(make_certificate, language, title, revoked):
    """var/screenshots/certificate-pdf-{en,es,revoked}.png, to look at after a design change."""
    certificate = make_certificate(language=language, title=title, revoked=revoked)
    document = pdf.certificate_pdf(
        certificate=certificate, verification_url=verification_url(certificate, language)
    )
    name = "certificate-pdf-revoked" if revoked else f"certificate-pdf-{language}"
    image = page_png(document, SCREENSHOTS / f"{name}.png")
    assert image.stat().st_size > 20_000
