"""Lab pages over HTTP: catalogue, lab page, start, the session page and its JSON status."""

import json
import re
from pathlib import Path

import pytest

from academy.courses.services import content_sync
from labs import services
from labs.journal import journal_compact
from labs.models import Lab, LabSession
from tests.factories import UserFactory
from tests.labs_tree import write_faults_lab, write_tiny_lab

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


# --- Results: the journals' timeline and the chaos coverage -------------------------------------

JOURNALS = Path(__file__).parent / "journals"  # real `chaos run` journals (see journals/make.py)


@pytest.fixture
def faults_lab(tmp_path) -> Lab:
    """A toolbox (the shell) and an api; the platform adds its faults sidecar."""
    write_faults_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="faults-lab")


def with_journals(session: LabSession, *names: str) -> LabSession:
    """The session as the worker leaves it once it has read these journals."""
    services.lab_session_journals_store(
        session=session,
        journals={
            f"runs/{name}.json": {
                "modified": "2026-11-26T00:30:00+00:00",
                "size": 4096,
                "journal": journal_compact(json.loads((JOURNALS / f"{name}.json").read_text())),
            }
            for name in names
        },
    )
    return session


def marks(html: str) -> list[str]:
    return re.findall(r'class="mark [^"]*" data-mark="([a-z-]+)"', html)


@pytest.mark.parametrize(
    ("prefix", "empty", "refresh"),
    [
        (
            "/en/labs/sessions",
            "No experiment results yet. Run an experiment with",
            "Refresh results",
        ),
        (
            "/es/laboratorios/sesiones",
            "Todavía no hay resultados de experimentos. Ejecuta un experimento con",
            "Actualizar resultados",
        ),
    ],
)
def test_results_are_empty_until_a_journal_is_read(client, lab, prefix, empty, refresh):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=lab, state=State.READY)
    client.force_login(user)

    html = client.get(f"{prefix}/{session.pk}/").content.decode()

    assert empty in html and "<code>chaos run</code>" in html
    assert refresh in html and 'data-results-version=""' in html
    assert 'class="timeline"' not in html


@pytest.mark.parametrize(
    ("prefix", "texts"),
    [
        (
            "/en/labs/sessions",
            [
                "The hypothesis held before the fault and did not hold after it: "
                "the system deviated.",
                "Deviated",
                "Hypothesis before",
                "Rollbacks",
                "Tolerance not met",
                "1 of 1 part faulted, 1 of 1 observed.",
                "Faulted and observed",
            ],
        ),
        (
            "/es/laboratorios/sesiones",
            [
                "La hipótesis se cumplió antes del fallo y no se cumplió después: "
                "el sistema se desvió.",
                "Desviado",
                "Hipótesis antes",
                "Reversiones",
                "Tolerancia no cumplida",
                "1 de 1 parte con fallo inyectado, 1 de 1 observada.",
                "Con fallo y observada",
            ],
        ),
    ],
)
def test_session_page_draws_the_latest_journal_and_the_coverage(client, faults_lab, prefix, texts):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=faults_lab, state=State.READY)
    with_journals(session, "error-rate-deviated", "kill-deviated")  # the kill ran last
    client.force_login(user)

    html = client.get(f"{prefix}/{session.pk}/").content.decode()

    for text in texts:
        assert text in html
    assert 'data-journal-shown="runs/kill-deviated.json"' in html
    # One mark per activity: two probes met before, the kill, the probe after, the rollback.
    assert marks(html) == ["met", "met", "action", "not-met", "action"]
    assert html.count("data-journal=") == 2  # the other journal is a click away
    assert 'data-part="api" data-state="faulted-and-observed"' in html
    assert 'data-part="toolbox"' not in html and 'data-part="faults"' not in html
    assert "<code>POST http://faults:7000/v1/faults</code>" in html  # in the table
    # Widths and offsets stay CSS numbers in Spanish too (no decimal comma in a style), while
    # the axis speaks the page's language: the run took 1.2 s.
    assert re.search(r"left: \d+\.\d{3}%; width: \d+\.\d{3}%", html)
    ticks = re.findall(r'class="timeline-tick" style="left: [\d.]+%">([^<]+)<', html)
    assert ticks == (["0", "0.5", "1"] if prefix.startswith("/en") else ["0", "0,5", "1"])


def test_another_journal_can_be_chosen_and_the_section_served_alone(client, faults_lab):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=faults_lab, state=State.READY)
    with_journals(session, "kill-deviated", "not-met-before", "exploration")
    client.force_login(user)

    page = client.get(f"/en/labs/sessions/{session.pk}/?journal=runs/not-met-before.json")
    section = client.get(
        f"/es/laboratorios/sesiones/{session.pk}/resultados/?journal=runs/exploration.json"
    )
    unknown = client.get(f"/en/labs/sessions/{session.pk}/results/?journal=../../etc/passwd")

    html = page.content.decode()
    assert "The hypothesis did not hold to begin with, so nothing else ran" in html
    assert 'href="?journal=runs/not-met-before.json#results" data-journal' in html
    assert 'data-journal="runs/not-met-before.json" aria-current="true"' in html
    part = section.content.decode()
    assert "<html" not in part and 'data-journal-shown="runs/exploration.json"' in part
    assert "Este experimento no tiene hipótesis de estado estable" in part
    assert marks(part) == ["action", "probe", "action"]
    # An unknown choice shows the latest run (not-met-before ran after the two others).
    assert 'data-journal-shown="runs/not-met-before.json"' in unknown.content.decode()


def test_status_changes_its_results_version_when_journals_are_read(client, faults_lab):
    user = UserFactory()
    session = LabSession.objects.create(user=user, lab=faults_lab, state=State.READY)
    client.force_login(user)
    url = f"/en/labs/sessions/{session.pk}/status/"

    before = client.get(url).json()["results_version"]
    with_journals(session, "kill-deviated")
    after = client.get(url).json()["results_version"]

    assert before == ""
    assert after == session.journals_collected_at.isoformat()


def test_refresh_is_queued_for_the_worker_only_for_the_owner_of_a_running_session(
    client, faults_lab
):
    owner = UserFactory()
    session = LabSession.objects.create(user=owner, lab=faults_lab, state=State.READY)
    ended = LabSession.objects.create(user=owner, lab=faults_lab, state=State.EXPIRED)
    client.force_login(owner)

    queued = client.post(
        f"/en/labs/sessions/{session.pk}/results/refresh/", HTTP_ACCEPT="application/json"
    )
    without_script = client.post(f"/es/laboratorios/sesiones/{session.pk}/resultados/actualizar/")
    refused = client.post(
        f"/es/laboratorios/sesiones/{ended.pk}/resultados/actualizar/",
        HTTP_ACCEPT="application/json",
    )

    assert queued.status_code == 202 and queued.json() == {"queued": True}
    assert without_script["Location"] == f"/es/laboratorios/sesiones/{session.pk}/#results"
    assert refused.status_code == 409
    assert refused.json()["error"] == "Esta sesión de laboratorio no está en ejecución."
    ended_page = client.get(f"/es/laboratorios/sesiones/{ended.pk}/").content.decode()
    assert "data-refresh" not in ended_page
    assert "Esta sesión no leyó ningún journal." in ended_page

    client.force_login(UserFactory())
    assert client.get(f"/en/labs/sessions/{session.pk}/results/").status_code == 404
    assert client.post(f"/en/labs/sessions/{session.pk}/results/refresh/").status_code == 404
