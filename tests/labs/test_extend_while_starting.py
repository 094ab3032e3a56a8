"""An extension asked for while the session is still starting: it has no deadline yet, so it is
refused with the learner's message, not a TypeError (found by the type checker)."""

import pytest

from academy.courses.services import content_sync
from labs import services
from labs.models import Lab, LabSession
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.django_db
State = LabSession.State


@pytest.fixture
def lab(tmp_path) -> Lab:
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="tiny-lab")


def test_a_starting_session_is_not_extended(lab):
    session = LabSession.objects.create(user=UserFactory(), lab=lab, state=State.PROVISIONING)
    assert session.expires_at is None

    with pytest.raises(services.LabSessionError, match="not running"):
        services.lab_session_extend(session=session)

    session.refresh_from_db()
    assert session.expires_at is None and not session.extended


def test_another_learners_click_cannot_extend_it_either(client, lab):
    owner, stranger = UserFactory(), UserFactory()
    session = LabSession.objects.create(user=owner, lab=lab, state=State.PROVISIONING)
    client.force_login(stranger)

    response = client.post(f"/en/labs/sessions/{session.pk}/extend/")

    session.refresh_from_db()
    assert response.status_code == 404
    assert session.expires_at is None and not session.extended
