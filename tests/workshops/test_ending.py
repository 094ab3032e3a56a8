"""Ending cleanly: the end on the real engine, the beat's round, the confirmation page, and
forgetting guests after the retention period."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation

from academy.workshops import ending, services, tasks
from academy.workshops.models import Attendee, Workshop
from labs import runtime
from labs import services as lab_services
from labs.models import CheckResult, LabSession
from tests.factories import UserFactory
from tests.labs.conftest import docker_engine, lab_images  # noqa: F401  (the engine's fixtures)

State = LabSession.State


def wait_for(session: LabSession, *states: str, timeout: float = 90) -> LabSession:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state in states:
            return session
        time.sleep(0.2)
    raise AssertionError(f"session {session.pk} is {session.state}, not {states}: {session.error}")


def containers(session: LabSession) -> list:
    return [
        resource
        for resource in runtime.sandbox_list(labels=lab_services.session_labels(session))
        if resource.kind == "container"
    ]


def wait_until_gone(session: LabSession, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not runtime.sandbox_list(labels=lab_services.session_labels(session)):
            return
        time.sleep(0.3)
    raise AssertionError(f"session {session.pk} still has resources on the engine")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("lab_images")
def test_ending_destroys_every_container_of_the_room_and_nobody_elses(lab_worker, make_workshop):
    workshop = make_workshop(capacity=5)
    lab = workshop.ordered_labs()[0]
    room = [
        services.attendee_join(workshop=workshop, display_name=name)[0].user
        for name in ("Ana", "Bruno")
    ]
    outsider = UserFactory()
    sessions = [lab_services.lab_session_start(user=user, lab=lab) for user in [*room, outsider]]
    sessions = [wait_for(session, State.READY) for session in sessions]
    *theirs, other = sessions
    assert all(containers(session) for session in sessions)
    try:
        assert services.workshop_end(workshop=workshop) == 2
        workshop.refresh_from_db()
        assert workshop.state == Workshop.State.ENDED and workshop.ended_at is not None
        for session in theirs:
            assert wait_for(session, State.DESTROYED).ended_at is not None
            wait_until_gone(session)
        other.refresh_from_db()
        assert other.state == State.READY
        assert containers(other), "another learner's sandbox must survive the end"
        # Idempotent: nothing left to end, the end stays as it was.
        ended_at = workshop.ended_at
        assert services.workshop_end(workshop=workshop) == 0
        workshop.refresh_from_db()
        assert workshop.ended_at == ended_at
    finally:
        lab_services.lab_session_stop(session=other)
    assert not runtime.sandbox_list(labels=lab_services.session_labels(other))


@pytest.mark.django_db
def test_the_beat_starts_and_ends_workshops_on_time_and_ends_their_sessions(make_workshop):
    now = timezone.now()
    over = make_workshop(starts_in=timedelta(minutes=5))
    due = make_workshop(starts_in=timedelta(minutes=5))
    later = make_workshop(starts_in=timedelta(hours=2))
    Workshop.objects.filter(pk=over.pk).update(
        starts_at=now - timedelta(hours=3), ends_at=now - timedelta(seconds=1)
    )
    Workshop.objects.filter(pk=due.pk).update(starts_at=now - timedelta(seconds=1))
    attendee, _code = services.attendee_join(
        workshop=make_workshop(), display_name="Early bird"
    )  # joined while open; now moved into the ended one
    Attendee.objects.filter(pk=attendee.pk).update(workshop=over)
    lab = over.ordered_labs()[0]
    session = LabSession.objects.create(user=attendee.user, lab=lab, state=State.READY)
    counts = tasks.tick()
    assert counts == {"started": 1, "ended": 1, "sessions_ended": 1}
    states = dict(Workshop.objects.values_list("pk", "state"))
    assert states[over.pk] == Workshop.State.ENDED
    assert states[due.pk] == Workshop.State.LIVE
    assert states[later.pk] == Workshop.State.SCHEDULED
    session.refresh_from_db()
    assert session.state == State.DESTROYED
    assert tasks.tick() == {"started": 0, "ended": 0, "sessions_ended": 0}  # twice: no harm


@pytest.mark.django_db
def test_the_end_page_says_what_is_destroyed_and_only_its_instructors_may_end(
    client, make_workshop, instructor
):
    workshop = make_workshop()
    attendee, _code = services.attendee_join(workshop=workshop, display_name="Ana")
    LabSession.objects.create(user=attendee.user, lab=workshop.ordered_labs()[0], state="ready")
    page_url = reverse("workshops:end", kwargs={"pk": workshop.pk})
    client.force_login(UserFactory())
    assert client.get(page_url).status_code == 404
    assert client.post(page_url).status_code == 404
    client.force_login(instructor)
    for language in ("en", "es"):
        with translation.override(language):
            page = client.get(reverse("workshops:end", kwargs={"pk": workshop.pk}))
        assert page.status_code == 200
        assert workshop.code in page.content.decode()
    with translation.override("en"):
        text = client.get(page_url).content.decode()
    assert "destroys 1 running lab session" in text
    workshop.refresh_from_db()
    assert workshop.state == Workshop.State.SCHEDULED  # looking is not ending
    assert client.post(page_url).status_code == 302
    workshop.refresh_from_db()
    assert workshop.state == Workshop.State.ENDED
    assert not LabSession.objects.live().filter(user=attendee.user).exists()


@pytest.mark.django_db
def test_guests_are_forgotten_after_the_retention_period_claimed_and_recent_ones_stay(
    make_workshop, settings
):
    settings.WORKSHOP_GUEST_RETENTION_DAYS = 30
    old, recent, still_open = make_workshop(), make_workshop(), make_workshop()

    def join(workshop, name):
        return services.attendee_join(workshop=workshop, display_name=name)[0]

    gone = join(old, "Gone")
    claimed = join(old, "Claimed")
    services.attendee_claim(
        attendee=claimed, username="kept", email="kept@example.org", password="S3cret-pass!"
    )
    fresh = join(recent, "Fresh")
    twice = join(old, "Twice")
    Attendee.objects.create(
        workshop=still_open,
        user=twice.user,
        display_name="Twice",
        display_name_key="twice",
        resume_code_hash="x" * 64,
    )
    lab = old.ordered_labs()[0]
    session = LabSession.objects.create(user=gone.user, lab=lab, state=State.DESTROYED)
    CheckResult.objects.create(session=session, step=lab.steps.first(), passed=True, duration_ms=5)
    now = timezone.now()
    services.workshop_end(workshop=old, now=now - timedelta(days=31))
    services.workshop_end(workshop=recent, now=now - timedelta(days=5))
    assert [user.pk for user in ending.guests_to_forget(now=now)] == [gone.user.pk]
    assert tasks.forget_guests() == 1
    users = get_user_model().objects
    assert not users.filter(pk=gone.user.pk).exists()
    assert not LabSession.objects.filter(pk=session.pk).exists()
    assert not CheckResult.objects.filter(session_id=session.pk).exists()
    assert not Attendee.objects.filter(pk=gone.pk).exists()
    for kept in (claimed, fresh, twice):
        assert users.filter(pk=kept.user.pk).exists()
    assert ending.guests_forget(now=now) == 0
