"""Work the learning pages skip, and that skipping it changes nothing a reader sees.

A reload of the lesson a reader read last writes nothing (academy.courses.services
.lesson_visit); the default language links (academy/context_processors.py) are worked out only
for pages that have no links of their own.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import translate_url
from django.utils import timezone, translation

from academy.courses.models import Course, Lesson, LessonProgress, Module
from academy.courses.services import VISIT_RESOLUTION, content_sync
from labs.models import Lab, LabStep
from tests.factories import UserFactory
from tests.perf.test_page_queries import add_labs, counted

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(demo_content):
    content_sync(root=demo_content)
    return demo_content


@pytest.fixture
def learner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def visited_at(user, key: str):
    return LessonProgress.objects.get(user=user, lesson__key=key).last_visited_at


def writes(queries: list[str]) -> list[str]:
    return [sql for sql in queries if sql.lstrip().upper().startswith(("UPDATE", "INSERT"))]


def test_a_reload_of_the_lesson_read_last_writes_nothing(client, site, learner):
    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    client.get(url)
    first = visited_at(learner, "first-lesson")
    with counted() as queries:
        assert client.get(url).status_code == 200
    assert writes(queries) == []
    assert visited_at(learner, "first-lesson") == first


def test_coming_back_to_an_earlier_lesson_makes_it_the_one_read_last(client, site, learner):
    first, second = (Lesson.objects.get(key=key) for key in ("first-lesson", "second-lesson"))
    client.get(first.get_absolute_url())
    client.get(second.get_absolute_url())
    with counted() as queries:
        client.get(first.get_absolute_url())
    assert len(writes(queries)) == 1
    assert visited_at(learner, "first-lesson") > visited_at(learner, "second-lesson")
    # The dashboard resumes where the reader was last: the first lesson, not done yet.
    dashboard = client.get("/en/dashboard/").content.decode()
    assert first.get_absolute_url() in dashboard


def test_a_visit_older_than_the_resolution_is_written_again(client, site, learner):
    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    client.get(url)
    long_ago = timezone.now() - VISIT_RESOLUTION - timedelta(seconds=1)
    LessonProgress.objects.filter(user=learner).update(last_visited_at=long_ago)
    client.get(url)
    assert visited_at(learner, "first-lesson") > long_ago


def test_a_later_visit_in_another_course_makes_the_lesson_write_again(client, site, learner):
    """The lesson read last is the reader's latest over every course, not only this one."""
    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    client.get(url)
    other = Course.objects.create(key="other", slug_en="other", title_en="Other", order=2)
    module = Module.objects.create(course=other, key="m", title_en="M", order=1)
    elsewhere = Lesson.objects.create(
        course=other, module=module, key="elsewhere", slug_en="elsewhere", title_en="E", order=1
    )
    now = timezone.now()
    LessonProgress.objects.filter(user=learner).update(last_visited_at=now - timedelta(seconds=60))
    LessonProgress.objects.create(
        user=learner, lesson=elsewhere, last_visited_at=now - timedelta(seconds=30)
    )
    with counted() as queries:
        client.get(url)
    assert len(writes(queries)) == 1
    assert visited_at(learner, "first-lesson") > visited_at(learner, "elsewhere")


def test_another_readers_visits_do_not_stop_this_readers_write(client, site, learner):
    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    client.get(url)  # the learner read it last
    bob = UserFactory()
    client.force_login(bob)
    with counted() as queries:
        client.get(url)
    assert writes(queries)  # Bob's first visit is recorded
    assert LessonProgress.objects.filter(user=bob, lesson__key="first-lesson").exists()


def test_the_language_links_are_worked_out_only_for_pages_without_their_own(client, site):
    lesson = Lesson.objects.get(key="first-lesson")
    with mock.patch("academy.context_processors.translate_url", wraps=translate_url) as translated:
        page = client.get(lesson.get_absolute_url()).content.decode()
        assert translated.call_count == 0  # the lesson gives its own (translated slugs)
        assert 'hreflang="es" href="/es/cursos/curso-demo/primera-leccion/"' in page
        labs = client.get("/en/labs/").content.decode()
        assert translated.call_count == 2  # one per language
    assert 'hreflang="es" href="/es/laboratorios/"' in labs
    assert 'hreflang="en" href="/en/labs/"' in labs


def test_a_lesson_renamed_in_the_admin_is_found_by_its_new_slug(client, site):
    lesson = Lesson.objects.get(key="first-lesson")
    old_url = lesson.get_absolute_url()
    assert client.get(old_url).status_code == 200  # kept in the cache
    lesson.slug_en = "renamed-lesson"
    lesson.title_en = "Renamed in the admin"
    lesson.save()
    page = client.get("/en/courses/demo-course/renamed-lesson/")
    assert page.status_code == 200 and "Renamed in the admin" in page.content.decode()
    assert client.get(old_url).status_code == 404


def test_a_retired_course_is_no_longer_found(client, site):
    course = Course.objects.get(key="demo-course")
    lesson_url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    assert client.get(course.get_absolute_url()).status_code == 200
    assert client.get(lesson_url).status_code == 200
    course.retired_at = timezone.now()
    course.save()
    assert client.get(course.get_absolute_url()).status_code == 404
    assert client.get(lesson_url).status_code == 404


def test_pages_that_do_not_exist_take_no_room_in_the_cache(client, site):
    from django.core.cache import caches

    fragments = caches["template_fragments"]
    fragments.clear()
    client.get(Lesson.objects.get(key="first-lesson").get_absolute_url())
    kept = len(fragments._cache)
    for number in range(50):
        assert client.get(f"/en/courses/demo-course/no-such-{number}/").status_code == 404
        assert client.get(f"/en/courses/no-such-{number}/").status_code == 404
    assert len(fragments._cache) == kept


def test_a_lesson_without_a_knowledge_check_reads_no_answers(client, site, learner):
    url = Lesson.objects.get(key="second-lesson").get_absolute_url()
    client.get(url)
    with counted() as queries:
        page = client.get(url).content.decode()
    assert not [sql for sql in queries if "courses_questionanswer" in sql]
    assert "Knowledge check" not in page
    first = Lesson.objects.get(key="first-lesson").get_absolute_url()
    with counted() as queries:
        page = client.get(first).content.decode()
    assert [sql for sql in queries if "courses_questionanswer" in sql]
    assert "Knowledge check" in page


def test_the_course_page_counts_the_labs_that_practise_it_after_an_admin_change(client, site):
    url = Course.objects.get(key="demo-course").get_absolute_url()
    add_labs(2)
    assert "<dt>Labs</dt><dd>2</dd>" in client.get(url).content.decode()
    retired = Lab.objects.get(key="lab-0")
    retired.retired_at = timezone.now()
    retired.save()
    assert "<dt>Labs</dt><dd>1</dd>" in client.get(url).content.decode()


def test_the_course_page_shows_no_readers_lab_progress_to_another(client, site):
    """The labs part comes from the catalogue as a visitor sees it: a learner's passed steps
    and live session never reach it, so another reader's page is the same."""
    url = Course.objects.get(key="demo-course").get_absolute_url()
    alice = UserFactory()
    add_labs(2, user=alice)  # a live session and a passed step in each
    client.force_login(alice)
    alice_page = client.get(url).content.decode()
    client.force_login(UserFactory())
    bob_page = client.get(url).content.decode()
    assert "<dt>Labs</dt><dd>2</dd>" in alice_page and "<dt>Labs</dt><dd>2</dd>" in bob_page
    assert "/labs/sessions/" not in bob_page


def _lab_with_topology() -> Lab:
    add_labs(1)
    lab = Lab.objects.get()
    lab.topology = [{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}]
    lab.save()
    return lab


def test_the_cached_lab_diagram_follows_an_admin_change_of_the_lab(client, site):
    lab = _lab_with_topology()
    url = lab.get_absolute_url()
    page = client.get(url).content.decode()
    assert 'data-container="api"' in page and "Diagram of the lab Lab 0" in page
    lab.topology = [*lab.topology, {"name": "db", "image": "target"}]
    lab.title_en = "Renamed lab"
    lab.save()
    page = client.get(url).content.decode()
    assert 'data-container="db"' in page and "Diagram of the lab Renamed lab" in page


def test_the_cached_lab_diagram_follows_the_language(client, site):
    lab = _lab_with_topology()
    english = client.get(lab.get_absolute_url()).content.decode()
    with translation.override("es"):
        spanish = client.get(lab.get_absolute_url()).content.decode()
    assert "Diagram of the lab Lab 0" in english
    assert "Laboratorio 0" in spanish and "Diagram of the lab" not in spanish


def test_a_step_renamed_in_the_admin_shows_on_the_lab_page(client, site):
    add_labs(1)
    lab = Lab.objects.get()
    client.get(lab.get_absolute_url())
    step = LabStep.objects.get(lab=lab, number=2)
    step.title_en = "Renamed step"
    step.save()
    page = client.get(lab.get_absolute_url()).content.decode()
    assert "<li>Renamed step</li>" in page and "<li>Step 2</li>" not in page


def test_the_status_poll_keeps_what_its_results_mean(client, site, learner):
    """A step passed once stays passed; its latest result is shown as it is."""
    from labs.models import CheckResult, LabSession

    add_labs(1)
    lab = Lab.objects.get()
    session = LabSession.objects.create(lab=lab, user=learner, state=LabSession.State.READY)
    first = LabStep.objects.filter(lab=lab).order_by("number").first()
    CheckResult.objects.create(session=session, step=first, passed=True, duration_ms=1)
    CheckResult.objects.create(
        session=session,
        step=first,
        passed=False,
        duration_ms=1,
        messages=["broken again"],
        created_at=timezone.now() + timedelta(seconds=1),
    )
    status = client.get(f"/en/labs/sessions/{session.pk}/status/").json()
    one, two = status["steps"]
    assert one["passed"] is True and one["result"]["passed"] is False
    assert one["result"]["messages"] == ["broken again"]
    assert two["passed"] is False and two["result"] is None
    client.force_login(UserFactory())
    assert client.get(f"/en/labs/sessions/{session.pk}/status/").status_code == 404
