"""Lab pages over HTTP: catalogue, lab page, start, the session page and its JSON status."""

import pytest

from academy.courses.services import content_sync
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


def test_catalogue_and_lab_page_in_both_languages(client, lab):
    assert "Tiny lab" in client.get("/en/labs/").content.decode()
    html = client.get("/es/laboratorios/laboratorio-minimo/").content.decode()
    assert "Laboratorio mínimo" in html
    assert "Inicia sesión para empezar el laboratorio" in html
    assert "Crea un archivo" in html  # the step list


def test_english_slug_under_spanish_prefix_redirects(client, lab):
    response = client.get("/es/laboratorios/tiny-lab/")
    assert response["Location"] == "/es/laboratorios/laboratorio-minimo/"


def test_starting_needs_an_account(client, lab):
    response = client.post("/en/labs/tiny-lab/start/")
    assert response["Location"].startswith("/en/accounts/sign-in/")
    assert not LabSession.objects.exists()


def test_start_creates_one_session_and_goes_to_it(client, lab):
    user = UserFactory()
    client.force_login(user)

    first = client.post("/en/labs/tiny-lab/start/")
    again = client.post("/en/labs/tiny-lab/start/")

    session = LabSession.objects.get(user=user)
    assert first["Location"] == again["Location"] == f"/en/labs/sessions/{session.pk}/"
    assert session.state == State.PROVISIONING
    html = client.get(first["Location"]).content.decode()
    assert "Your containers are starting" in html
    assert 'data-check-url="/en/labs/sessions/' in html


def test_status_reports_queue_position(client, lab, settings):
    settings.LAB_MAX_RUNNING_SESSIONS = 0
    user = UserFactory()
    client.force_login(user)
    client.post("/es/laboratorios/laboratorio-minimo/empezar/")
    session = LabSession.objects.get(user=user)

    status = client.get(f"/es/laboratorios/sesiones/{session.pk}/estado/").json()

    assert status["state"] == "requested"
    assert status["state_label"] == "En cola"
    assert status["queue_position"] == 1
    assert status["terminal"] is False
    assert status["steps"] == [{"number": 1, "passed": False, "result": None}]
    html = client.get(f"/es/laboratorios/sesiones/{session.pk}/").content.decode()
    assert "Eres el número 1 en la cola" in html


def test_other_learners_cannot_see_or_act_on_a_session(client, lab):
    owner = UserFactory()
    session = LabSession.objects.create(user=owner, lab=lab, state=State.READY)
    client.force_login(UserFactory())

    assert client.get(f"/en/labs/sessions/{session.pk}/").status_code == 404
    assert client.get(f"/en/labs/sessions/{session.pk}/status/").status_code == 404
    assert client.post(f"/en/labs/sessions/{session.pk}/stop/").status_code == 404
    assert client.post(f"/en/labs/sessions/{session.pk}/steps/1/check/").status_code == 404
    session.refresh_from_db()
    assert session.state == State.READY


def test_check_is_refused_when_the_session_is_not_running(client, lab):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=lab, state=State.EXPIRED)
    client.force_login(user)

    response = client.post(f"/es/laboratorios/sesiones/{session.pk}/pasos/1/verificar/")

    assert response.status_code == 409
    assert response.json()["error"] == "Esta sesión de laboratorio no está en ejecución."


def test_stop_ends_the_session_at_once(client, lab):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=lab, state=State.READY)
    client.force_login(user)

    response = client.post(f"/en/labs/sessions/{session.pk}/stop/")

    assert response["Location"] == "/en/labs/tiny-lab/"
    session.refresh_from_db()
    assert session.state == State.DESTROYED


def test_reset_gives_a_fresh_session(client, lab):
    user = UserFactory()
    old = LabSession.objects.create(user=user, lab=lab, state=State.READY)
    client.force_login(user)

    response = client.post(f"/en/labs/sessions/{old.pk}/reset/")

    fresh = LabSession.objects.live().get(user=user)
    assert fresh.pk != old.pk
    assert response["Location"] == f"/en/labs/sessions/{fresh.pk}/"


def test_lesson_links_to_its_lab_and_dashboard_shows_lab_progress(client, tmp_path):
    from academy.courses.models import Lesson
    from labs.models import CheckResult
    from tests.content_tree import write_demo_course

    write_demo_course(tmp_path)
    lab_dir = write_tiny_lab(tmp_path)
    yaml = lab_dir / "lab.yaml"
    yaml.write_text(
        yaml.read_text().replace("shell:", "lessons: [demo-course/first-lesson]\nshell:")
    )
    content_sync(root=tmp_path)
    lab = Lab.objects.get()

    html = client.get(Lesson.objects.get(key="first-lesson").get_absolute_url()).content.decode()
    assert "Practise it in a lab" in html and lab.get_absolute_url() in html

    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=lab, state=State.COMPLETED)
    CheckResult.objects.create(session=session, step=lab.steps.get(), passed=True, duration_ms=5)
    client.force_login(user)
    html = client.get("/en/dashboard/").content.decode()
    assert "Your labs" in html and "Tiny lab" in html and "Completed" in html
