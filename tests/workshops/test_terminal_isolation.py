"""An attendee's terminal websocket refuses another attendee of the same workshop (the lab
terminal's own ownership rule: attendees are real users)."""

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from academy.asgi import application
from academy.workshops import services
from labs.models import LabSession
from labs.terminal import Close
from tests.event_loops import run_on_new_loop

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def _close_code(session_id: int, client: Client) -> int:
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def scenario() -> int:
        connection = ApplicationCommunicator(
            application,
            {
                "type": "websocket",
                "path": f"/ws/labs/sessions/{session_id}/terminal/",
                "query_string": b"",
                "headers": [ORIGIN, cookie],
                "subprotocols": [],
            },
        )
        await connection.send_input({"type": "websocket.connect"})
        while True:
            message = await connection.receive_output(10)
            if message["type"] == "websocket.close":
                return message.get("code", 1000)

    return run_on_new_loop(scenario())


def test_another_attendee_is_refused_the_terminal(workshop):
    ana_attendee, _ = services.attendee_join(workshop=workshop, display_name="Ana")
    bea_attendee, _ = services.attendee_join(workshop=workshop, display_name="Bea")
    lab = workshop.ordered_labs()[0]
    # Running on paper, with no container: the owner passes the ownership rule and is told the
    # session is not running; the other attendee is refused as not the owner.
    session = LabSession.objects.create(
        user=ana_attendee.user, lab=lab, state=LabSession.State.READY, sandbox={}
    )
    ana, bea = Client(), Client()
    ana.force_login(ana_attendee.user)
    bea.force_login(bea_attendee.user)

    assert _close_code(session.pk, bea) == Close.FORBIDDEN
    assert _close_code(session.pk, ana) == Close.NOT_RUNNING
