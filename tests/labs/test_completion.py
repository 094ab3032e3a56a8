"""A lab's completion page (issue 12): the signed-in learner's own run, and nobody else's.

The rows a real run leaves behind (sessions, check results, collected journals) are written
directly: what is under test is what the page reads from them, not the lab engine.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from academy.courses.models import Course, LessonProgress
from labs import completion, selectors
from labs.models import CheckResult, Lab, LabSession, SessionJournal
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def lab(real_content) -> Lab:
    return Lab.objects.get(key="kill-a-replica")  # three steps; next in its course: latency


def _url(lab: Lab, language: str = "en") -> str:
    with translation.override(language):
        return reverse("labs:complete", kwargs={"lab_slug": lab.slug})


def _session(lab: Lab, user, *, at: datetime, state=LabSession.State.DESTROYED) -> LabSession:
    return LabSession.objects.create(lab=lab, user=user, state=state, requested_at=at)


def _check(session: LabSession, number: int, *, passed: bool, at: datetime) -> CheckResult:
    return CheckResult.objects.create(
        session=session,
        step=session.lab.steps.get(number=number),
        passed=passed,
        duration_ms=10,
        created_at=at,
    )


def _finish(lab: Lab, user) -> LabSession:
    """Two sessions: the first passes step 1, the second fails step 2 once, then passes the
    rest; its journals were collected. First start 09:00, last step first passed 10:05."""
    first = _session(lab, user, at=START)
    _check(first, 1, passed=True, at=START + timedelta(minutes=12))
    second = _session(lab, user, at=START + timedelta(minutes=30), state=LabSession.State.READY)
    _check(second, 2, passed=False, at=START + timedelta(minutes=40))
    _check(second, 2, passed=True, at=START + timedelta(minutes=45))
    _check(second, 3, passed=True, at=START + timedelta(minutes=65))
    _check(second, 3, passed=True, at=START + timedelta(minutes=70))  # checked again later
    second.coverage = [
        {"name": "web-1", "faulted_by": ["kill-web-1"], "observed_by": ["probe"]},
        {"name": "web-2", "faulted_by": [], "observed_by": ["probe"]},
        {"name": "lb", "faulted_by": [], "observed_by": []},
    ]
    second.journals_collected_at = START + timedelta(minutes=66)
    second.save()
    for position, (path, status) in enumerate(
        [("guardrail.json", "completed"), ("kill-all.json", "deviated")]
    ):
        SessionJournal.objects.create(
            session=second, path=path, title=path, status=status, position=position
        )
    return second


def test_the_summary_of_a_finished_lab(client, lab):
    user = UserFactory()
    finishing = _finish(lab, user)
    client.force_login(user)

    response = client.get(_url(lab))

    assert response.status_code == 200
    html = response.content.decode()
    assert "You completed Kill a replica behind a load balancer" in html
    assert "1 h 5 min" in html  # 09:00 to 10:05, the first pass of the last step
    for step in lab.steps.all():
        assert step.title in html
    assert 'datetime="2026-03-10T09:12:00+00:00"' in html  # step 1's first pass
    assert 'datetime="2026-03-10T09:45:00+00:00"' in html  # step 2's, not its failure
    assert 'datetime="2026-03-10T10:05:00+00:00"' in html  # step 3's, not the later one
    assert "2 checks." in html  # step 2: a failure and a pass
    assert '<span class="stat-value">5</span>' in html  # checks run
    assert "1 of them did not pass." in html
    assert "In 2 sessions." in html
    assert '<span class="stat-value">2</span>' in html  # journals read
    assert "Latest run: Completed" in html  # the newest journal's status
    assert "1 of 3 parts faulted, 2 of 3 observed." in html
    assert f'href="/en/labs/sessions/{finishing.pk}/#results"' in html
    # What next: the next lab of its course, the lessons it practises, the course, the exam.
    assert 'href="/en/labs/latency-and-timeouts/"' in html
    assert 'href="/en/courses/chaos-engineering-foundations/designing-an-experiment/"' in html
    assert 'href="/en/courses/chaos-engineering-foundations/"' in html
    assert "Chaos Engineering Practitioner" in html
    assert "Complete the course “Chaos Engineering Foundations” first." in html
    assert "You may start it." not in html


def test_the_certification_says_you_may_start_it_once_the_course_is_done(client, lab):
    user = UserFactory()
    _finish(lab, user)
    for lesson in Course.objects.get(key="chaos-engineering-foundations").lessons.all():
        LessonProgress.objects.create(
            user=user, lesson=lesson, last_visited_at=START, completed_at=START
        )
    client.force_login(user)

    html = client.get(_url(lab)).content.decode()

    assert "You may start it." in html
    assert "first." not in html
    assert 'href="/en/certifications/chaos-engineering-practitioner/"' in html


def test_an_unfinished_lab_shows_what_remains_and_no_summary(client, lab):
    user = UserFactory()
    session = _session(lab, user, at=START, state=LabSession.State.READY)
    _check(session, 1, passed=True, at=START + timedelta(minutes=5))
    _check(session, 2, passed=False, at=START + timedelta(minutes=9))
    client.force_login(user)

    response = client.get(_url(lab))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Not finished yet" in html
    assert "You have passed 1 of its 3 steps." in html
    assert "Not passed yet (1 check)." in html
    assert "Not checked yet." in html
    assert "You completed" not in html and "stat-tile" not in html
    assert f'href="/en/labs/sessions/{session.pk}/"' in html  # back to the running session
    assert completion.lab_completion_url(lab=lab, user=user) is None


def test_another_learner_never_sees_my_summary(client, lab):
    me, other = UserFactory(), UserFactory()
    finishing = _finish(lab, me)
    client.force_login(other)

    html = client.get(_url(lab)).content.decode()

    assert "Not finished yet" in html
    assert "You have passed 0 of its 3 steps." in html
    assert f"/sessions/{finishing.pk}/" not in html
    assert "1 h 5 min" not in html
    # The page takes no learner or session from the request: there is nothing to forge.
    forged = client.get(_url(lab), {"user": me.pk, "session": finishing.pk}).content.decode()
    assert "Not finished yet" in forged and f"/sessions/{finishing.pk}/" not in forged


def test_a_visitor_signs_in_first_and_a_forged_post_changes_nothing(client, lab):
    response = client.get(_url(lab))
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/sign-in/")
    user = UserFactory()
    session = _session(lab, user, at=START, state=LabSession.State.READY)
    client.force_login(user)
    before = (CheckResult.objects.count(), LabSession.objects.count())

    response = client.post(_url(lab), {"step": 1, "passed": "true"})

    assert response.status_code == 405
    assert (CheckResult.objects.count(), LabSession.objects.count()) == before
    session.refresh_from_db()
    assert session.state == LabSession.State.READY
    assert "Not finished yet" in client.get(_url(lab)).content.decode()


def test_an_exam_task_has_no_completion_page(client, real_content):
    task = Lab.objects.filter(exam_only=True).first()
    user = UserFactory()
    session = _session(task, user, at=START)
    for step in task.steps.all():
        CheckResult.objects.create(session=session, step=step, passed=True, duration_ms=1)
    client.force_login(user)

    assert client.get(f"/en/labs/{task.slug}/complete/").status_code == 404
    assert completion.lab_completion(lab=task, user=user) is None
    assert completion.lab_completion_url(lab=task, user=user) is None
    assert selectors.session_status(session=session)["completion_url"] is None


def test_the_spanish_page_has_spanish_urls_dates_and_slugs(client, lab):
    user = UserFactory(preferred_language="es")
    _finish(lab, user)
    client.force_login(user)
    url = _url(lab, "es")
    assert url.startswith("/es/") and lab.slug_es in url

    html = client.get(url).content.decode()

    assert "Matar una réplica" in html or lab.title_es in html
    assert "10 de marzo de 2026" in html  # Django's Spanish date format
    assert 'href="/es/laboratorios/latencia-y-tiempos-de-espera/"' in html
    assert f'hreflang="en" href="{_url(lab, "en")}"' in html
    # The English slug under the Spanish prefix goes to the Spanish one.
    with translation.override("es"):
        english_slug = reverse("labs:complete", kwargs={"lab_slug": lab.slug_en})
    redirected = client.get(english_slug)
    assert redirected.status_code == 301 and redirected["Location"] == url


def test_the_session_status_carries_the_completion_url_once_every_step_passed(client, lab):
    user = UserFactory()
    session = _session(lab, user, at=START, state=LabSession.State.READY)
    client.force_login(user)
    status_url = f"/en/labs/sessions/{session.pk}/status/"
    for number in (1, 2):
        _check(session, number, passed=True, at=START + timedelta(minutes=number))
        assert client.get(status_url).json()["completion_url"] is None

    _check(session, 3, passed=True, at=START + timedelta(minutes=3))

    assert client.get(status_url).json()["completion_url"] == _url(lab)
    with translation.override("es"):
        assert selectors.session_status(session=session)["completion_url"] == _url(lab, "es")
    # A step passed in another learner's session counts for nobody else.
    stranger_session = _session(lab, UserFactory(), at=START, state=LabSession.State.READY)
    assert selectors.session_status(session=stranger_session)["completion_url"] is None


def test_the_lab_page_links_to_the_summary_only_when_complete(client, lab):
    user = UserFactory()
    client.force_login(user)
    assert _url(lab) not in client.get(lab.get_absolute_url()).content.decode()
    _finish(lab, user)
    assert _url(lab) in client.get(lab.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    ("minutes", "english"),
    [
        (0.5, "under a minute"),
        (1, "1 min"),
        (12, "12 min"),
        (60, "1 h"),
        (65, "1 h 5 min"),
        (24 * 60 + 3 * 60 + 20, "1 day 3 h"),
        (3 * 24 * 60 + 59, "3 days"),
    ],
)
def test_durations_read_the_way_people_say_them(minutes, english):
    with translation.override("en"):
        assert completion.duration_text(timedelta(minutes=minutes)) == english
    assert completion.duration_text(None) == ""
