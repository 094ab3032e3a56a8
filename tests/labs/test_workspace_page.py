"""The lab workspace as the server draws it (labs/templates/labs/session.html): what works with
no script at all, what only the owner gets, and the separator's ARIA contract."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from academy.courses.services import content_sync
from labs.models import CheckResult, Lab, LabSession
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.django_db
State = LabSession.State


@pytest.fixture
def lab(tmp_path) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


def _session(user, lab, **fields) -> LabSession:
    return LabSession.objects.create(
        user=user,
        lab=lab,
        state=State.READY,
        expires_at=timezone.now() + timedelta(minutes=20),
        **fields,
    )


def test_reset_and_stop_post_without_script_and_their_dialogs_say_what_is_lost(client, lab):
    user = UserFactory()
    session = _session(user, lab)
    client.force_login(user)

    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()

    # Plain forms that post to the actions; the dialogs they name exist, labelled and described.
    for action, dialog in (("reset", "confirm-reset"), ("stop", "confirm-stop")):
        assert f'action="/en/labs/sessions/{session.pk}/{action}/" data-confirm="{dialog}"' in html
        assert f'<dialog class="confirm-dialog" id="{dialog}"' in html
        assert f'aria-labelledby="{dialog}-title" aria-describedby="{dialog}-text"' in html
    assert "every container starts again as it was at the beginning" in html
    assert "Kept: the steps you passed still count toward your progress in this lab." in html
    assert "Lost: your files, every change you made in the containers" in html
    # The separator: focusable, with its value and range, hidden until the script runs.
    separator = re.search(r"<div class=\"workspace-separator\"[^>]*>", html, re.S).group(0)
    for attribute in (
        'role="separator"',
        'tabindex="0"',
        'aria-orientation="vertical"',
        'aria-valuemin="20"',
        'aria-valuemax="75"',
        'aria-valuenow="40"',
        'aria-controls="lab-instructions"',
        " hidden",
    ):
        assert attribute in separator, attribute
    assert 'id="lab-instructions"' in html
    assert "The terminal needs a wider screen." in html
    assert 'data-run-label="Run in terminal"' in html
    assert 'id="lab-status" type="application/json"' in html


def test_extend_once_says_why_it_does_nothing_the_second_time(client, lab):
    user = UserFactory()
    client.force_login(user)
    fresh = _session(user, lab)
    html = client.get(f"/en/labs/sessions/{fresh.pk}/").content.decode()
    button = re.search(r"<button[^>]*data-extend[^>]*>", html, re.S).group(0)
    assert "aria-disabled" not in button and "You can extend it once." in button

    fresh.extended = True
    fresh.save(update_fields=["extended"])
    html = client.get(f"/es/laboratorios/sesiones/{fresh.pk}/").content.decode()
    button = re.search(r"<button[^>]*data-extend[^>]*>", html, re.S).group(0)
    # Still focusable (not disabled), so that its title is read; the server refuses anyway.
    assert 'aria-disabled="true"' in button and " disabled" not in button


def test_staff_who_watch_get_no_actions_no_dialogs_and_no_run_button(client, lab):
    owner = UserFactory()
    session = _session(owner, lab)
    client.force_login(UserFactory(is_staff=True))

    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()

    assert "data-workspace" in html  # the staff member does see the workspace
    assert "<dialog" not in html
    assert "data-confirm" not in html and "data-extend" not in html
    assert "data-run-label" not in html


def test_another_learners_workspace_is_not_found(client, lab):
    session = _session(UserFactory(), lab)
    client.force_login(UserFactory())
    assert client.get(f"/en/labs/sessions/{session.pk}/").status_code == 404
    assert client.post(f"/en/labs/sessions/{session.pk}/stop/").status_code == 404
    session.refresh_from_db()
    assert session.state == State.READY


def test_an_ended_session_has_no_dialogs_and_no_timer(client, lab):
    user = UserFactory()
    session = _session(user, lab)
    session.state = State.DESTROYED
    session.save(update_fields=["state"])
    client.force_login(user)

    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()

    assert "<dialog" not in html
    assert re.search(r'class="lab-timer" data-timer\s+hidden', html)


def _pass_every_step(session) -> None:
    for step in session.lab.steps.all():
        CheckResult.objects.create(session=session, step=step, passed=True, duration_ms=5)


def test_lab_complete_banner_links_to_the_completion_page_once_every_step_passed(client, lab):
    user = UserFactory()
    session = _session(user, lab)
    client.force_login(user)
    banner = re.compile(r'<div class="notice lab-complete" data-complete\s+hidden')

    assert banner.search(client.get(f"/en/labs/sessions/{session.pk}/").content.decode())

    _pass_every_step(session)
    html = client.get(f"/en/labs/sessions/{session.pk}/").content.decode()
    assert not banner.search(html)
    link = re.search(r'<a href="([^"]+)" data-complete-link>', html).group(1)
    assert link == client.get(f"/en/labs/sessions/{session.pk}/status/").json()["completion_url"]
    assert client.get(link).status_code == 200
