"""Game-day rules without the engine: who may start one, which faults a lab offers, bounds,
one at a time, and a stale one that never finished does not block the room."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.workshops import gameday, services
from academy.workshops.models import GameDay, GameDayOutcome
from labs.models import Lab, LabSession
from tests.factories import UserFactory
from tests.workshops.conftest import make_instructor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate-limit counters live in the cache, keyed by user id, which a new test may reuse."""
    from django.core.cache import cache

    cache.clear()


def _post(user, workshop, data, language="en"):
    client = Client()
    client.force_login(user)
    with translation.override(language):
        return client.post(reverse("workshops:gameday", kwargs={"pk": workshop.pk}), data)


@pytest.fixture
def faults_lab(workshop) -> Lab:
    return Lab.objects.get(key="faults-lab")


def test_faults_offered_follow_the_lab(workshop, faults_lab):
    tiny = Lab.objects.get(key="tiny-lab")
    assert gameday.fault_choices(tiny) == []  # no faults sidecar: nothing through its path
    choices = {choice.fault: choice.targets for choice in gameday.fault_choices(faults_lab)}
    assert set(choices) == {"kill", "stress_cpu", "stress_memory"}  # no proxy, no reconciler
    assert choices["kill"] == ["api"]  # never the learner's shell or the sidecar
    assert gameday.probe_for(faults_lab) == {"container": "api", "port": 8080, "path": "/"}


def test_forged_and_out_of_bounds_starts_do_nothing(workshop, instructor, faults_lab):
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    LabSession.objects.create(user=ana.user, lab=faults_lab, state="ready", sandbox={})
    good = {"fault": f"{faults_lab.pk}:kill:api", "duration": "30"}
    for forger in (ana.user, make_instructor(), UserFactory()):
        assert _post(forger, workshop, good).status_code == 404
    for data in (
        {**good, "duration": "9"},
        {**good, "duration": "301"},
        {**good, "duration": "soon"},
        {**good, "fault": f"{faults_lab.pk}:kill:toolbox"},
        {**good, "fault": f"{faults_lab.pk}:kill:faults"},
        {**good, "fault": f"{faults_lab.pk}:latency:api"},
        {**good, "fault": "999999:kill:api"},
    ):
        response = _post(instructor, workshop, data)
        assert response.status_code == 400, data
    assert not GameDay.objects.exists()
    response = _post(instructor, workshop, good, language="es")
    assert response.status_code == 302
    game_day = GameDay.objects.get()
    assert list(game_day.outcomes.values_list("attendee", "result")) == [(ana.pk, "pending")]
    # One at a time.
    assert _post(instructor, workshop, good).status_code == 400
    assert GameDay.objects.count() == 1


def test_nobody_running_the_lab_is_refused(workshop, instructor, faults_lab):
    services.attendee_join(workshop=workshop, display_name="Ana")
    with pytest.raises(gameday.GameDayError):
        gameday.game_day_start(
            workshop=workshop,
            by=instructor,
            lab=faults_lab,
            fault="kill",
            target="api",
            duration_seconds=30,
        )


def test_a_stale_game_day_is_finished_before_a_new_one(workshop, instructor, faults_lab):
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    session = LabSession.objects.create(user=ana.user, lab=faults_lab, state="ready", sandbox={})
    old = GameDay.objects.create(
        workshop=workshop, lab=faults_lab, fault="kill", target="api", duration_seconds=10
    )
    GameDayOutcome.objects.create(game_day=old, attendee=ana, session=session)
    GameDay.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    new = gameday.game_day_start(
        workshop=workshop,
        by=instructor,
        lab=faults_lab,
        fault="stress_cpu",
        target="api",
        duration_seconds=10,
    )
    old.refresh_from_db()
    assert old.state == GameDay.State.FINISHED
    assert old.outcomes.get().result == GameDayOutcome.Result.FAILED
    assert new.state == GameDay.State.RUNNING


def test_an_outcome_of_a_session_that_ended_fails_without_the_engine(
    workshop, instructor, faults_lab
):
    ana = services.attendee_join(workshop=workshop, display_name="Ana")[0]
    session = LabSession.objects.create(user=ana.user, lab=faults_lab, state="ready", sandbox={})
    game_day = gameday.game_day_start(
        workshop=workshop,
        by=instructor,
        lab=faults_lab,
        fault="kill",
        target="api",
        duration_seconds=10,
    )
    LabSession.objects.filter(pk=session.pk).update(state="destroyed")
    outcome = game_day.outcomes.get()
    assert gameday.game_day_outcome_run(outcome=outcome) == GameDayOutcome.Result.FAILED
    game_day.refresh_from_db()
    assert game_day.state == GameDay.State.FINISHED
