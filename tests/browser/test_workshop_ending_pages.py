"""The instructor's capacity panel (with the host warning) and the end confirmation through
axe-core in both languages, with screenshots at desktop and phone widths; the End button
reached and pressed from the keyboard."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone, translation

from academy.courses.models import Course
from academy.courses.services import content_sync
from academy.workshops import selectors, services
from academy.workshops.models import Workshop
from labs.models import LabSession
from tests.browser.test_accessibility import (  # noqa: F401 (a11y_page is a fixture)
    _audit,
    _sign_in,
    a11y_page,
)
from tests.workshops.conftest import make_instructor, write_workshop_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


@pytest.mark.parametrize("language", ["en", "es"])
def test_capacity_panel_and_end_page(live_server, a11y_page, language, tmp_path, settings):  # noqa: F811
    settings.SITE_URL = live_server.url
    settings.LAB_MAX_RUNNING_SESSIONS = 8
    content_sync(root=write_workshop_content(tmp_path))
    instructor = make_instructor()
    course = Course.objects.get(key="demo-course")
    now = timezone.now()
    workshop = services.workshop_create(
        created_by=instructor,
        title="Meetup",
        language=language,
        starts_at=now + timedelta(minutes=10),
        ends_at=now + timedelta(hours=3),
        time_zone="UTC",
        course=course,
        labs=selectors.course_labs(course=course),
        capacity=30,
    )
    attendee, _code = services.attendee_join(workshop=workshop, display_name="Ana")
    lab = workshop.ordered_labs()[0]
    LabSession.objects.create(user=attendee.user, lab=lab, state="ready")
    LabSession.objects.create(lab=lab, state="ready")  # one warm sandbox
    with translation.override(language):
        manage = reverse("workshops:manage", kwargs={"pk": workshop.pk})
        end = reverse("workshops:end", kwargs={"pk": workshop.pk})
    page = a11y_page
    _sign_in(page, live_server, instructor)
    blocking, dangling = [], []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in (("workshop-capacity", manage), ("workshop-end", end)):
        found = _audit(page, live_server.url + path)
        blocking += found[0]
        dangling += found[1]
        for width, kind in ((1280, "desktop"), (375, "phone")):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(live_server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(SHOTS / f"{name}-{language}-{kind}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + manage)
    assert page.locator(".workshop-capacity .notice-error").count() == 1  # 30 places, 8 on host
    # From the keyboard: tab to the End link, open the confirmation, end the workshop.
    end_link = page.locator(".workshop-capacity a.button-danger")
    for _ in range(60):
        page.keyboard.press("Tab")
        if end_link.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError("the End link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{end}")
    button = page.locator("main form button.button-danger")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{manage}")
    workshop.refresh_from_db()
    assert workshop.state == Workshop.State.ENDED
    assert dangling == [], dangling
    assert blocking == [], "\n".join(blocking)
