"""On the real engine: a workshop's instructor watches an attendee's terminal read-only, and the
attendee's room feed says so while it lasts; another workshop's instructor is refused."""

import pytest
from django.utils import timezone

from academy.workshops import services
from labs import services as lab_services
from labs.models import Lab, LabSession
from tests.labs.conftest import docker_engine, lab_images  # noqa: F401  (the engine's fixtures)
from tests.labs.test_terminal import ORIGIN, Screen, communicator, cookie_for, run, websocket
from tests.workshops.conftest import make_instructor

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def _room_message(room, kind: str, timeout: float = 10) -> dict:
    import json

    while True:
        message = await room.receive_output(timeout)
        if message["type"] == "websocket.send" and message.get("text"):
            data = json.loads(message["text"])
            if data["type"] == kind:
                return data


@pytest.mark.usefixtures("lab_images")
def test_the_instructor_watches_read_only_and_the_attendee_is_told(
    workshop, make_workshop, instructor
):
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    lab = Lab.objects.get(key="tiny-lab")
    assert workshop.workshop_labs.filter(lab=lab).exists()
    session = LabSession.objects.create(
        lab=lab, user=ana.user, state=LabSession.State.PROVISIONING, requested_at=timezone.now()
    )
    lab_services.lab_session_provision(session=session)
    session.refresh_from_db()
    assert session.state == LabSession.State.READY, session.error
    stranger = make_instructor()
    make_workshop(by=stranger, title="Otro")
    ana_cookie, teacher_cookie = cookie_for(ana.user), cookie_for(instructor)
    stranger_cookie = cookie_for(stranger)

    async def scenario():
        room = websocket(f"/ws/workshops/{workshop.pk}/room/", [ORIGIN, ana_cookie])
        await room.send_input({"type": "websocket.connect"})
        first = await _room_message(room, "room")
        assert first["watched"] is False
        own = await Screen(communicator(session, ana_cookie)).open()
        await own.prompt()
        refused = await Screen(communicator(session, stranger_cookie)).open()
        assert (await refused.until_closed())[0] == 4003
        watcher = await Screen(communicator(session, teacher_cookie)).open()
        await watcher.until(b"learner@toolbox:~$ ")
        assert watcher.hello["read_only"] is True
        assert (await _room_message(room, "watched")) == {"type": "watched", "watched": True}
        await watcher.type("touch /tmp/by-instructor\r")
        await own.type("ls /tmp/by-instructor\r")
        await own.until(b"No such file")
        await watcher.hang_up()
        assert (await _room_message(room, "watched")) == {"type": "watched", "watched": False}
        await own.hang_up()
        await room.send_input({"type": "websocket.disconnect", "code": 1000})

    try:
        run(scenario)
    finally:
        lab_services.lab_session_stop(session=session)
