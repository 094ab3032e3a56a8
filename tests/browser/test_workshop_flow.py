"""A workshop in real browsers: an instructor creates it and opens the projector page; an
attendee on a phone, in Spanish, joins with the code typed in lower case and a name, sees the
resume code and the workshop's labs. Screenshots: workshop-projector-<lang>-desktop.png,
workshop-join-<lang>-phone.png, workshop-home-<lang>-phone.png."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from academy.courses.services import content_sync
from academy.workshops.models import Attendee, Workshop
from tests.factories import PASSWORD
from tests.workshops.conftest import (
    make_instructor,
    write_workshop_content,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("ACADEMY_SCREENSHOTS", settings.BASE_DIR / "var/screenshots"))
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_an_instructor_creates_a_workshop_and_an_attendee_joins_in_spanish(
    live_server, browser, tmp_path, settings
):
    settings.SITE_URL = live_server.url
    content_sync(root=write_workshop_content(tmp_path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    make_instructor(username="profe")

    # The instructor, on a laptop, in English.
    desk = browser.new_context(locale="en-US", viewport=DESKTOP, timezone_id="America/Costa_Rica")
    teacher = desk.new_page()
    teacher.set_default_timeout(15_000)
    refused = []
    teacher.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    teacher.goto(live_server.url + "/en/accounts/sign-in/")
    teacher.fill("#id_username", "profe")
    teacher.fill("#id_password", PASSWORD)
    teacher.get_by_role("button", name="Sign in").click()
    teacher.goto(live_server.url + "/en/workshops/manage/new/")
    # The script guessed the venue's time zone from the browser's.
    expect(teacher.locator("#id_time_zone")).to_have_value("America/Costa_Rica")
    starts = timezone.localtime(timezone.now() + timedelta(minutes=20))
    teacher.fill("#id_title", "Caos en la comunidad")
    teacher.select_option("#id_language", "es")
    teacher.fill("#id_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    teacher.fill("#id_ends_at", (starts + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    teacher.select_option("#id_time_zone", "UTC")
    # Only the chosen course's labs are offered.
    expect(teacher.get_by_label("Lone lab")).to_be_hidden()
    teacher.get_by_label("Tiny lab").check()
    teacher.get_by_label("Faults lab").check()
    teacher.fill("#id_capacity", "40")
    teacher.screenshot(path=SCREENSHOTS / "workshop-form-en-desktop.png", full_page=True)
    teacher.get_by_role("button", name="Create the workshop").click()
    teacher.wait_for_url("**/en/workshops/manage/*/")
    workshop = Workshop.objects.get()
    expect(teacher.locator(".workshop-code")).to_have_text(workshop.code)

    # The projector speaks the room's language.
    teacher.get_by_role("link", name="Open the projector page").click()
    teacher.wait_for_url("**/es/talleres/gestionar/*/proyector/")
    expect(teacher.locator(".projector-code")).to_have_text(
        f"{workshop.code[:3]} {workshop.code[3:]}"
    )
    assert teacher.locator(".projector-qr svg").bounding_box()["width"] > 250
    teacher.screenshot(path=SCREENSHOTS / "workshop-projector-es-desktop.png")

    # An attendee on a phone, in Spanish, types the code in lower case.
    phone = browser.new_context(locale="es-CR", viewport=PHONE)
    attendee = phone.new_page()
    attendee.set_default_timeout(15_000)
    attendee.goto(live_server.url + "/es/unirse/")
    attendee.get_by_label("Código del taller").fill(workshop.code.lower())
    attendee.get_by_role("button", name="Continuar").click()
    attendee.wait_for_url(f"**/es/unirse/{workshop.code}/")
    expect(attendee.get_by_role("heading", level=1)).to_have_text("Caos en la comunidad")
    attendee.get_by_label("Tu nombre visible").fill("María José")
    _no_sideways_scroll(attendee)
    attendee.screenshot(path=SCREENSHOTS / "workshop-join-es-phone.png", full_page=True)
    attendee.get_by_role("button", name="Unirme").click()
    attendee.wait_for_url("**/es/talleres/*/mis-laboratorios/")

    expect(
        attendee.get_by_role("heading", name="Anota esto: tu código para retomar")
    ).to_be_visible()
    code = attendee.locator(".workshop-resume-code .workshop-code").inner_text()
    assert len(code) == 8
    labs = attendee.locator(".workshop-home-lab h3")
    expect(labs).to_have_text(["Laboratorio mínimo", "Laboratorio de fallos"])
    expect(attendee.get_by_role("button", name="Empezar «Laboratorio mínimo»")).to_be_visible()
    _no_sideways_scroll(attendee)
    attendee.screenshot(path=SCREENSHOTS / "workshop-home-es-phone.png", full_page=True)
    assert Attendee.objects.get().display_name == "María José"

    assert refused == [], refused  # the pages' script and data pass the site's CSP
    # The instructor's page lists the attendee.
    teacher.goto(live_server.url + f"/en/workshops/manage/{workshop.pk}/")
    expect(teacher.locator(".workshop-attendees")).to_contain_text("María José")
    desk.close()
    phone.close()


def test_the_projector_and_join_pages_in_english(live_server, browser, tmp_path, settings):
    """The same two pages for an English-speaking room, for the screenshots."""
    from django.test import Client

    from academy.workshops import selectors, services

    settings.SITE_URL = live_server.url
    content_sync(root=write_workshop_content(tmp_path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    instructor = make_instructor()
    now = timezone.now()
    from academy.courses.models import Course

    course = Course.objects.get(key="demo-course")
    workshop = services.workshop_create(
        created_by=instructor,
        title="Chaos Engineering Night",
        language="en",
        starts_at=now + timedelta(minutes=30),
        ends_at=now + timedelta(hours=3),
        time_zone="Europe/Madrid",
        course=course,
        labs=selectors.course_labs(course=course),
        capacity=60,
    )
    client = Client()
    client.force_login(instructor)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    desk = browser.new_context(locale="en-US", viewport=DESKTOP)
    desk.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page = desk.new_page()
    page.goto(live_server.url + f"/en/workshops/manage/{workshop.pk}/projector/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Join the workshop")
    page.screenshot(path=SCREENSHOTS / "workshop-projector-en-desktop.png")
    desk.close()

    phone = browser.new_context(locale="en-US", viewport=PHONE)
    page = phone.new_page()
    page.goto(live_server.url + f"/en/join/{workshop.code}/")
    expect(page.get_by_label("Your display name")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=SCREENSHOTS / "workshop-join-en-phone.png", full_page=True)
    phone.close()
