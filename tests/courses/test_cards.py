"""Course and lab cards: what they count (lessons, labs, estimated time, steps) and whose
progress their rings draw."""

import re

import pytest
from django.utils import timezone

from academy.courses import selectors
from academy.courses.models import Course, Lesson, LessonProgress
from academy.courses.services import content_sync
from labs.models import CheckResult, Lab, LabSession
from tests.content_tree import write_demo_course
from tests.factories import UserFactory
from tests.labs_tree import write_tiny_lab

pytestmark = pytest.mark.django_db

RING = re.compile(r'class="ring-value"[^>]*stroke-dasharray="(\d+) 100"')


@pytest.fixture
def course_with_lab(tmp_path) -> Course:
    """The demo course (two lessons) and the tiny lab (one step, 10 minutes) that practises
    its first lesson."""
    write_demo_course(tmp_path)
    yaml = write_tiny_lab(tmp_path) / "lab.yaml"
    yaml.write_text(
        yaml.read_text().replace("shell:", "lessons: [demo-course/first-lesson]\nshell:")
    )
    content_sync(root=tmp_path)
    Lesson.objects.filter(key="first-lesson").update(reading_minutes=25)
    Lesson.objects.filter(key="second-lesson").update(reading_minutes=20)
    return Course.objects.get(key="demo-course")


def _complete(user, lesson_key: str) -> None:
    now = timezone.now()
    LessonProgress.objects.create(
        user=user, lesson=Lesson.objects.get(key=lesson_key), last_visited_at=now, completed_at=now
    )


def _pass_the_lab(user) -> LabSession:
    lab = Lab.objects.get(key="tiny-lab")
    session = LabSession.objects.create(user=user, lab=lab, state=LabSession.State.READY)
    CheckResult.objects.create(session=session, step=lab.steps.get(), passed=True, duration_ms=5)
    return session


def test_a_course_counts_the_labs_that_practise_its_lessons_and_estimates_its_time(
    course_with_lab,
):
    progress = selectors.course_progress(course=course_with_lab, user=None)

    assert [item.lab.key for item in progress.labs] == ["tiny-lab"]
    assert progress.reading_minutes == 45
    assert progress.minutes == 55  # 25 + 20 minutes of reading, 10 of lab
    assert progress.hours == 1  # rounded to the half hour
    assert progress.labs_completed == 0


def test_a_lab_that_practises_another_course_is_not_counted(course_with_lab):
    Lab.objects.filter(key="tiny-lab").update(lesson_refs=["other-course/first-lesson"])

    progress = selectors.catalogue(user=None)[0]

    assert progress.labs == []
    assert progress.minutes == 45


def test_the_course_card_shows_lessons_labs_and_time_and_no_ring_to_anonymous_readers(
    client, course_with_lab
):
    html = client.get("/en/courses/").content.decode()

    card = html[html.index('class="card course-card"') :]
    facts = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card[: card.index("</dl>")]))
    assert "Lessons 2" in facts and "Labs 1" in facts and "Duration ≈ 1 h" in facts
    assert "ring-value" not in html and "lessons done" not in html


def test_rings_draw_the_readers_own_progress_never_another_learners(client, course_with_lab):
    other = UserFactory()
    _complete(other, "first-lesson")
    _complete(other, "second-lesson")
    _pass_the_lab(other)
    me = UserFactory()
    _complete(me, "first-lesson")
    client.force_login(me)

    html = client.get("/en/courses/").content.decode()
    assert RING.findall(html) == ["50"]
    assert "1 of 2 lessons done (50%)" in html

    html = client.get("/en/labs/").content.decode()
    # Nothing passed yet: an empty ring, with the same fact in words beside it.
    assert RING.findall(html) == []
    assert 'class="ring" aria-hidden="true"' in html
    assert "0 of 1 steps passed" in html
    assert "Completed" not in html and "go back to it" not in html


def test_a_running_lab_links_back_to_its_session_and_a_passed_one_shows_completed(
    client, course_with_lab
):
    me = UserFactory()
    session = _pass_the_lab(me)
    client.force_login(me)

    html = client.get("/en/labs/").content.decode()

    assert f'href="{session.get_absolute_url()}"' in html
    assert "Your session is running: go back to it" in html
    assert "lab-card-completed" in html and "Completed" in html
    assert RING.findall(html) == ["100"]
    assert "1 of 1 steps passed" in html


def test_the_home_page_draws_a_lab_in_the_pages_language(client, course_with_lab):
    english = client.get("/en/").content.decode()
    spanish = client.get("/es/").content.decode()

    for html in (english, spanish):
        assert 'class="lab-preview" role="img" aria-label="' in html
        assert "Experiment ended with status: completed" in html  # chaos run's own words
        assert "<img" not in html[html.index("lab-preview") : html.index("lp-lines")]
    assert "Passed. Well done!" in english
    assert "Aprobado. ¡Bien hecho!" in spanish
