"""A workshop's reserved lab host: its attendees' sessions and its warm sandboxes go there, and
a room without one shares its warm sandboxes among the open hosts by capacity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from academy.workshops import prewarm, services
from academy.workshops.models import Workshop
from labs import services as lab_services
from labs.models import LabHost, LabSession
from labs.services.hosts import HostRoom
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
State = LabSession.State


def host(name: str, capacity: int) -> LabHost:
    return LabHost.objects.create(name=name, capacity=capacity, seen_at=timezone.now())


def join(workshop, name: str):
    return services.attendee_join(workshop=workshop, display_name=name)[0].user


def test_attendees_start_on_the_reserved_host_and_others_elsewhere(make_workshop, settings):
    settings.LAB_WARM_POOL_SIZE = 0
    host("h1", capacity=10)
    host("h2", capacity=1)
    workshop = make_workshop(capacity=5, starts_in=timedelta(minutes=1))
    Workshop.objects.filter(pk=workshop.pk).update(lab_host="h2")
    lab = workshop.ordered_labs()[0]
    ana, bruno = join(workshop, "Ana"), join(workshop, "Bruno")
    first = lab_services.lab_session_start(user=ana, lab=lab)
    assert first.host == "h2"  # reserved, though h1 has far more room
    # h2 is full: Bruno waits for his room's host, while a learner from outside, who asked
    # after him, is placed on h1 at once.
    second = lab_services.lab_session_start(user=bruno, lab=lab)
    outsider = lab_services.lab_session_start(user=UserFactory(), lab=lab)
    assert second.state == State.REQUESTED
    assert (outsider.state, outsider.host) == (State.PROVISIONING, "h1")
    lab_services.lab_session_end(session=first)
    lab_services.lab_sessions_schedule()
    second.refresh_from_db()
    assert (second.state, second.host) == (State.PROVISIONING, "h2")


def test_the_reserved_hosts_pool_holds_its_rooms_warm_sandboxes(make_workshop, settings):
    settings.LAB_WARM_POOL_SIZE = 0
    host("h1", capacity=10)
    host("h2", capacity=10)
    reserved = make_workshop(capacity=4)
    Workshop.objects.filter(pk=reserved.pk).update(lab_host="h2")
    lab = reserved.ordered_labs()[0]
    assert prewarm.warm_pool_demand(host="h2") == {lab.pk: 4}
    assert prewarm.warm_pool_demand(host="h1") == {}
    assert lab_services.pool_refill(host="h1") == 0
    assert lab_services.pool_refill(host="h2") == 4
    assert set(LabSession.objects.pooled().values_list("host", flat=True)) == {"h2"}


def test_a_room_without_a_reserved_host_is_warmed_on_every_host_by_capacity(
    make_workshop, settings
):
    settings.LAB_WARM_POOL_SIZE = 0
    host("h1", capacity=10)
    host("h2", capacity=5)
    workshop = make_workshop(capacity=7)
    lab = workshop.ordered_labs()[0]
    assert prewarm.warm_pool_demand() == {lab.pk: 7}
    parts = [prewarm.warm_pool_demand(host=name).get(lab.pk, 0) for name in ("h1", "h2")]
    assert parts == [5, 2] and sum(parts) == 7


def test_shares_add_up_whatever_the_capacities():
    rooms = [HostRoom("a", 3, 0), HostRoom("b", 3, 0), HostRoom("c", 1, 0)]
    for total in range(0, 20):
        parts = [prewarm.host_share(total, host=room.name, rooms=rooms) for room in rooms]
        assert sum(parts) == total
        assert parts[0] >= parts[2]
    assert prewarm.host_share(5, host="gone", rooms=rooms) == 0
