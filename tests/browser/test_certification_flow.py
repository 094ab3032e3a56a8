"""A new user in a real browser, in Spanish: signs up, completes the course, takes the exam
(answers saved as given, a reload in the middle loses nothing), passes, and downloads the PDF
and the credential; the credential verifies with our verifier and with Digital Bazaar's."""

import json
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from academy.certifications import certificates
from academy.certifications.credentials.verify import verify
from academy.certifications.models import Attempt, AttemptQuestion, Certificate, Certification
from academy.courses.models import Lesson
from academy.courses.services import content_sync
from tests.certifications.test_credentials import NODE, verify_with_javascript

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _shoot(page, name: str) -> None:
    """Desktop and phone screenshots of the page as it is now."""
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    assert overflow <= 0, f"{name}: the phone layout scrolls sideways by {overflow}px"


def _answer(page, attempt: Attempt, position: int) -> None:
    question = AttemptQuestion.objects.get(attempt=attempt, position=position)
    for option_id in question.correct_options:
        page.locator(f'#q{position} input[value="{option_id}"]').check()


def test_a_new_user_earns_a_certificate_in_spanish_and_anyone_can_verify_it(
    live_server, page, tmp_path, settings
):
    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "issuer-key.pem"
    certificates.issuer_key_create()
    settings.SITE_URL = live_server.url
    content_sync(root=settings.CONTENT_DIR)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    certification = Certification.objects.get(key="gitops-practitioner")
    course_key = certification.prerequisites["courses"][0]

    # Sign up, in Spanish.
    page.goto(live_server.url + "/es/cuentas/registro/")
    page.fill("#id_username", "ana")
    page.fill("#id_email", "ana@example.org")
    page.select_option("#id_preferred_language", "es")
    page.fill("#id_password1", "una-clave-larga-y-segura-42")
    page.fill("#id_password2", "una-clave-larga-y-segura-42")
    page.locator("main form:not(.language-prompt) button[type=submit]").click()
    page.wait_for_load_state()

    # The certification is not open to her yet: the course comes first.
    with translation.override("es"):
        detail_url = live_server.url + reverse(
            "certifications:detail", kwargs={"slug": certification.slug_es}
        )
    page.goto(detail_url)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("form.exam-start button").count() == 0

    # Complete the course, lesson by lesson, as a reader does.
    for lesson in Lesson.objects.filter(course__key=course_key).order_by("order"):
        with translation.override("es"):
            page.goto(live_server.url + lesson.get_absolute_url())
        page.locator(".lesson-actions form button[type=submit]").click()
        page.wait_for_load_state()

    # From the course page to the certification, and the exam in Spanish.
    with translation.override("es"):
        course_url = Lesson.objects.filter(course__key=course_key).first().course.get_absolute_url()
    page.goto(live_server.url + course_url)
    page.locator(".certification-link a").click()
    page.wait_for_url(detail_url)
    _shoot(page, "certification-es")
    page.locator("input[name=language][value=es]").check()
    page.locator("form.exam-start button[type=submit]").click()
    page.locator(".exam").wait_for()
    assert "/es/" in page.url
    attempt = Attempt.objects.get(user__username="ana")
    assert attempt.language == "es"
    total = attempt.questions.count()
    page.screenshot(path=SCREENSHOTS / "exam-es-top-desktop.png")
    _shoot(page, "exam-es")

    # Half the answers, each saved as it is given; a reload finds them as they were left.
    half = total // 2
    for position in range(1, half + 1):
        _answer(page, attempt, position)
    expect(page.locator("#exam-answered")).to_have_text(str(half), timeout=20_000)
    page.reload()
    page.locator(".exam").wait_for()
    for position in range(1, half + 1):
        question = AttemptQuestion.objects.get(attempt=attempt, position=position)
        for option_id in question.correct_options:
            assert page.locator(f'#q{position} input[value="{option_id}"]').is_checked()
    for position in range(half + 1, total + 1):
        _answer(page, attempt, position)
    expect(page.locator("#exam-answered")).to_have_text(str(total), timeout=20_000)
    page.locator("#q3").scroll_into_view_if_needed()
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / "exam-es-answering-phone.png")
    page.set_viewport_size(DESKTOP)

    # Submit (the page asks first), and the result.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#exam-submit").click()
    page.locator(".exam-score").wait_for()
    attempt.refresh_from_db()
    assert attempt.state == Attempt.State.GRADED and attempt.passed
    assert page.locator(".verdict-pass").is_visible()
    _shoot(page, "exam-result-es")

    # The certificate: in Spanish, valid, with its files.
    page.locator("a[href*='/certificates/']").first.click()
    page.wait_for_load_state()
    certificate = Certificate.objects.get(attempt=attempt)
    assert certificate.language == "es"
    assert str(certificate.public_id) in page.url
    _shoot(page, "certificate-es")
    with page.expect_download() as download:
        page.locator("a[href$='certificate.pdf']").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    with page.expect_download() as download:
        page.locator("a[href$='credential.json']").click()
    data = Path(download.value.path()).read_bytes()
    credential = json.loads(data)
    assert data == certificates.certificate_credential_bytes(certificate)

    # A third party verifies the file offline: our verifier and Digital Bazaar's.
    status_list = certificates.status_list_for_url(
        credential["credentialStatus"]["statusListCredential"]
    )
    assert verify(credential, status_list=status_list).valid
    if NODE is not None:
        assert verify_with_javascript(credential) == {"verified": True, "errors": []}
    tampered = json.loads(data)
    tampered["credentialSubject"]["achievement"]["name"] += "!"
    assert not verify(tampered).valid

    # And on the site, in English too.
    with translation.override("en"):
        english = live_server.url + reverse(
            "certifications:certificate", kwargs={"public_id": certificate.public_id}
        )
    page.goto(english)
    assert page.locator("html").get_attribute("lang") == "en"
    _shoot(page, "certificate-en")
