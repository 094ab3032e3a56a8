"""Ready when the room is: the pre-warm sizing, the warm pool it asks for and releases, the
instructor's capacity panel, and a room of 60 behind one NAT address."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.workshops import prewarm, services
from academy.workshops.models import Workshop
from labs import services as lab_services
from labs.models import LabSession
from labs.services import limits
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
State = LabSession.State
ROOM_ADDRESS = "203.0.113.7"


def first_lab(workshop):
    return workshop.ordered_labs()[0]


def attendees(workshop, count: int):
    return [
        services.attendee_join(workshop=workshop, display_name=f"Attendee {n}")[0].user
        for n in range(count)
    ]


def running_session(user, lab, state=State.READY):
    return LabSession.objects.create(user=user, lab=lab, state=state)


# --- Sizing -------------------------------------------------------------------------------------


def test_targets_share_what_the_host_has_left_in_priority_order():
    assert prewarm.prewarm_targets(wanted=[30], host_free=8) == [8]
    assert prewarm.prewarm_targets(wanted=[5, 10, 3], host_free=12) == [5, 7, 0]
    assert prewarm.prewarm_targets(wanted=[4, 4], host_free=50) == [4, 4]
    assert prewarm.prewarm_targets(wanted=[4, -2], host_free=-3) == [0, 0]


def test_a_room_the_host_cannot_hold_is_sized_to_the_host_with_a_warning(make_workshop, settings):
    settings.LAB_MAX_RUNNING_SESSIONS = 8
    workshop = make_workshop(capacity=30, starts_in=timedelta(minutes=10))
    lab = first_lab(workshop)
    learners = UserFactory.create_batch(3)  # other learners' labs take places on the host
    for learner in learners:
        running_session(learner, lab)
    (warmth,) = prewarm.prewarm_plan()
    assert (warmth.lab, warmth.wanted, warmth.target, warmth.shortfall) == (lab, 30, 5, 25)
    assert prewarm.warm_pool_demand() == {lab.pk: 5}
    panel = prewarm.workshop_capacity(workshop=workshop)
    assert panel.warnings == [warmth]
    assert (panel.load.running, panel.load.maximum, panel.load.learners) == (3, 8, 3)


def test_attendees_who_started_the_lab_need_no_warm_one_and_a_fitting_room_warns_nothing(
    make_workshop, settings
):
    settings.LAB_MAX_RUNNING_SESSIONS = 50
    settings.WORKSHOP_PREWARM_LABS = 2
    workshop = make_workshop(capacity=10, starts_in=timedelta(minutes=10))
    lab, second = workshop.ordered_labs()
    room = attendees(workshop, 4)
    for user in room[:3]:
        running_session(user, lab)
    # One finished and stopped it: still started, still needs no warm sandbox.
    running_session(room[3], lab, state=State.DESTROYED)
    plan = {warmth.lab: warmth for warmth in prewarm.prewarm_plan()}
    assert (plan[lab].started, plan[lab].wanted, plan[lab].target) == (4, 6, 6)
    assert (plan[second].wanted, plan[second].target) == (10, 10)
    assert prewarm.workshop_capacity(workshop=workshop).warnings == []


def test_only_workshops_starting_soon_or_in_session_are_warmed(make_workshop, settings):
    settings.WORKSHOP_PREWARM_MINUTES = 20
    later = make_workshop(starts_in=timedelta(minutes=45))
    soon = make_workshop(starts_in=timedelta(minutes=15))
    ended = make_workshop(starts_in=timedelta(minutes=5))
    services.workshop_end(workshop=ended)
    assert list(prewarm.workshops_to_prewarm()) == [soon]
    services.workshop_start(workshop=later)  # an instructor may start early
    assert set(prewarm.workshops_to_prewarm()) == {soon, later}


def test_the_refill_reaches_the_rooms_pool_and_releases_it_when_the_workshop_ends(
    make_workshop, settings
):
    settings.LAB_MAX_RUNNING_SESSIONS = 6
    settings.LAB_WARM_POOL_SIZE = 0
    workshop = make_workshop(capacity=4)
    lab = first_lab(workshop)
    assert lab_services.pool_refill() == 4
    pooled = LabSession.objects.live().pooled()
    assert pooled.filter(lab=lab).count() == 4
    assert lab_services.pool_refill() == 0  # reached: nothing more
    services.workshop_end(workshop=workshop)
    assert lab_services.pool_refill() == 0
    assert not pooled.exists()
    assert LabSession.objects.filter(lab=lab, state=State.DESTROYED).count() == 4


def test_a_start_takes_a_warm_sandbox_and_the_pool_follows_the_room(make_workshop, settings):
    settings.LAB_MAX_RUNNING_SESSIONS = 10
    workshop = make_workshop(capacity=3)
    lab = first_lab(workshop)
    lab_services.pool_refill()
    now = timezone.now()  # as the worker leaves them: ready, with the pool's lifetime
    LabSession.objects.pooled().update(
        state=State.READY, ready_at=now, expires_at=now + timedelta(hours=2)
    )
    (user,) = attendees(workshop, 1)
    session = lab_services.lab_session_start(user=user, lab=lab, client_address=ROOM_ADDRESS)
    assert session.state == State.READY  # at once, from the pool
    assert LabSession.objects.live().pooled().count() == 2
    assert prewarm.warm_pool_demand() == {lab.pk: 2}


def test_the_instructor_page_shows_capacity_warm_pool_host_load_and_the_warning(
    client, make_workshop, instructor, settings
):
    settings.LAB_MAX_RUNNING_SESSIONS = 8
    workshop = make_workshop(capacity=30)
    lab = first_lab(workshop)
    for _ in range(2):
        LabSession.objects.create(lab=lab, state=State.READY)  # warm and ready
    client.force_login(instructor)
    for language in ("en", "es"):
        with translation.override(language):
            page = client.get(reverse("workshops:manage", kwargs={"pk": workshop.pk}))
        text = page.content.decode()
        assert page.status_code == 200
        assert 'id="capacity-title"' in text
        assert "notice-error" in text  # 30 places, 8 on the host
        assert "30" in text and "8" in text
    with translation.override("en"):
        page = client.get(reverse("workshops:manage", kwargs={"pk": workshop.pk}))
    text = page.content.decode()
    assert "2 of at most 8 sessions running" in text
    assert "needs 30 warm sandboxes, and only 8 fit" in text


def test_starting_is_for_the_workshops_instructors_and_an_ended_one_stays_ended(
    client, make_workshop, instructor
):
    workshop = make_workshop()
    client.force_login(UserFactory())
    start = reverse("workshops:start", kwargs={"pk": workshop.pk})
    assert client.post(start).status_code == 404
    client.force_login(instructor)
    assert client.post(start).status_code == 302
    workshop.refresh_from_db()
    assert workshop.state == Workshop.State.LIVE and workshop.went_live_at is not None
    services.workshop_end(workshop=workshop)
    with pytest.raises(services.WorkshopError):
        services.workshop_start(workshop=workshop, by=instructor)
    workshop.refresh_from_db()
    assert workshop.state == Workshop.State.ENDED


# --- The room on one NAT ------------------------------------------------------------------------


def start_from(client: Client, user, lab):
    client.force_login(user)
    return client.post(
        reverse("labs:start", kwargs={"lab_slug": lab.slug}),
        REMOTE_ADDR=ROOM_ADDRESS,
        HTTP_ACCEPT="application/json",
    )


def test_sixty_attendees_behind_one_address_start_while_a_flood_from_others_is_limited(
    make_workshop, settings
):
    settings.LAB_MAX_LIVE_SESSIONS_PER_ADDRESS = 60
    workshop = make_workshop(capacity=60)
    lab = first_lab(workshop)
    client = Client()
    for user in attendees(workshop, 60):
        assert start_from(client, user, lab).status_code == 302
    room = LabSession.objects.live().filter(user__workshop_attendances__workshop=workshop)
    assert room.count() == 60
    # The same address, people who attend no workshop: the address's own 60, not one more.
    outsiders = UserFactory.create_batch(61)
    codes = [start_from(client, user, lab).status_code for user in outsiders]
    assert codes[:60] == [302] * 60
    assert codes[60] == 429
    assert not LabSession.objects.filter(user=outsiders[60]).exists()


def test_once_the_workshop_ends_its_attendees_count_against_the_address_again(
    make_workshop, settings
):
    settings.LAB_MAX_LIVE_SESSIONS_PER_ADDRESS = 2
    workshop = make_workshop(capacity=5)
    lab, second = workshop.ordered_labs()
    room = attendees(workshop, 3)
    for user in room:
        lab_services.lab_session_start(user=user, lab=lab, client_address=ROOM_ADDRESS)
    services.workshop_end(workshop=workshop)  # their sessions end; they are no room any more
    for user in room[:2]:
        lab_services.lab_session_start(user=user, lab=second, client_address=ROOM_ADDRESS)
    with pytest.raises(lab_services.LabRateLimited):
        lab_services.lab_session_start(user=room[2], lab=second, client_address=ROOM_ADDRESS)


def test_start_rate_and_terminals_per_address_give_way_for_the_room_only(make_workshop, settings):
    settings.LAB_RATE_LIMITS = {"start": {"user": "10/600", "address": "5/600"}}
    settings.LAB_MAX_TERMINALS_PER_ADDRESS = 5
    workshop = make_workshop(capacity=20)
    room = attendees(workshop, 12)
    for index, user in enumerate(room):
        limits.rate_limit("start", user=user, address=ROOM_ADDRESS)
        assert limits.terminal_lease_take(
            holder=f"room-{index}", user_id=user.pk, address=ROOM_ADDRESS
        )
    outsiders = UserFactory.create_batch(6)
    for user in outsiders[:5]:
        limits.rate_limit("start", user=user, address=ROOM_ADDRESS)
    with pytest.raises(limits.LabRateLimited):
        limits.rate_limit("start", user=outsiders[5], address=ROOM_ADDRESS)
    taken = [
        limits.terminal_lease_take(holder=f"out-{i}", user_id=user.pk, address=ROOM_ADDRESS)
        for i, user in enumerate(outsiders)
    ]
    assert taken == [True] * 5 + [False]
