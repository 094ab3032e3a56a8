"""Every workshop page type through axe-core, in both languages and both colour schemes (the
audit of tests/browser/test_accessibility.py): no serious or critical violation, no dangling
ARIA reference."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.courses.models import Course
from academy.courses.services import content_sync
from academy.workshops import selectors, services
from academy.workshops.models import Attendee
from tests.browser.test_accessibility import (  # noqa: F401 (a11y_page is a fixture)
    AXE,
    BLOCKING,
    MISSING_REFERENCES,
    _audit,
    _sign_in,
    a11y_page,
)
from tests.workshops.conftest import (
    make_instructor,
    write_workshop_content,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_workshop_pages_pass_axe(live_server, a11y_page, language, tmp_path, settings):  # noqa: F811
    settings.SITE_URL = live_server.url
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
        capacity=20,
    )
    guest = Client()
    with translation.override(language):
        guest.post(
            reverse("workshops:join_code", kwargs={"code": workshop.code}),
            {"display_name": "<b>Ana</b>"},
        )
        attendee_user = Attendee.objects.get().user

        def url(name, **kwargs):
            return reverse(f"workshops:{name}", kwargs=kwargs or None)

        teacher_pages = [
            url("instructor_list"),
            url("create"),
            url("manage", pk=workshop.pk),
            url("edit", pk=workshop.pk),
            url("projector", pk=workshop.pk),
        ]
        public_pages = [
            url("join"),
            url("join_code", code=workshop.code),
            url("resume"),
            url("public", slug=workshop.slug),
        ]
        attendee_pages = [url("home", slug=workshop.slug), url("claim", slug=workshop.slug)]

    page = a11y_page
    blocking, dangling = [], []

    def audit(path: str) -> None:
        found = _audit(page, live_server.url + path)
        blocking.extend(found[0])
        dangling.extend(found[1])

    for path in public_pages:
        audit(path)
    # Forms with errors: the messages are read with their fields.
    page.goto(live_server.url + public_pages[2])
    page.locator("#id_code").fill("zzzzzz")
    page.locator("#id_resume_code").fill("x")
    page.locator("main form:not(.language-prompt) button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("main .error").count() > 0
    audit_current = _audit_loaded(page)
    blocking += audit_current[0]
    dangling += audit_current[1]

    _sign_in(page, live_server, instructor)
    for path in teacher_pages:
        audit(path)
    page.goto(live_server.url + teacher_pages[1])
    page.locator("#id_capacity").fill("500")
    page.locator("main form:not(.language-prompt) button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("main .error").count() > 0
    audit_current = _audit_loaded(page)
    blocking += audit_current[0]
    dangling += audit_current[1]

    page.context.clear_cookies()
    _sign_in(page, live_server, attendee_user)
    for path in attendee_pages:
        audit(path)

    assert dangling == [], dangling
    assert blocking == [], "\n".join(blocking)


def _audit_loaded(page) -> tuple[list[str], list[str]]:
    page.add_script_tag(path=AXE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    blocking = [
        f"{page.url}: {v['id']} {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]
    return blocking, [f"{page.url}: {r}" for r in page.evaluate(MISSING_REFERENCES)]
