"""A course's completion page (issue 12): lessons, labs with their times, knowledge checks,
the total time, the certification's call to action and the other course; only ever the
signed-in learner's own."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from academy.courses import completion
from academy.courses.models import Course, LessonProgress, QuestionAnswer
from labs.models import CheckResult, Lab, LabSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def course(real_content) -> Course:
    return Course.objects.get(key="gitops-foundations")


def _url(course: Course, language: str = "en") -> str:
    with translation.override(language):
        return reverse("courses:course_complete", kwargs={"course_slug": course.slug})


def _read_every_lesson(course: Course, user, *, wrong_in_first: int = 0) -> tuple[int, int]:
    """Marks each lesson done an hour apart and answers its knowledge check, every answer right
    except ``wrong_in_first`` in the first lesson; returns (correct, questions)."""
    correct = questions = 0
    for hour, lesson in enumerate(course.lessons.published().order_by("order")):
        LessonProgress.objects.create(
            user=user,
            lesson=lesson,
            last_visited_at=START + timedelta(hours=hour),
            completed_at=START + timedelta(hours=hour),
        )
        for index, question in enumerate(lesson.questions.published()):
            right = not (hour == 0 and index < wrong_in_first)
            choice = question.choices.filter(is_correct=right).first()
            QuestionAnswer.objects.create(
                user=user, question=question, choice=choice, is_correct=right, answered_at=START
            )
            questions += 1
            correct += right
    return correct, questions


def _finish_lab(lab: Lab, user, *, start: datetime, minutes: int) -> None:
    session = LabSession.objects.create(
        lab=lab, user=user, state=LabSession.State.DESTROYED, requested_at=start
    )
    for step in lab.steps.all():
        CheckResult.objects.create(
            session=session,
            step=step,
            passed=True,
            duration_ms=10,
            created_at=start + timedelta(minutes=minutes * step.number / lab.steps.count()),
        )


def test_the_summary_of_a_finished_course(client, course):
    user = UserFactory()
    correct, questions = _read_every_lesson(course, user, wrong_in_first=1)
    lessons = course.lessons.published().count()
    lab = Lab.objects.get(key="gitops-reconcile")
    _finish_lab(lab, user, start=START + timedelta(minutes=30), minutes=80)
    client.force_login(user)

    response = client.get(_url(course))

    assert response.status_code == 200
    html = response.content.decode()
    assert "You completed GitOps Foundations" in html
    assert f'<span class="stat-value">{lessons}/{lessons}</span>' in html
    assert '<span class="stat-value">1/2</span>' in html  # labs completed
    assert questions > 1 and correct == questions - 1
    assert f'<span class="stat-value">{correct}/{questions}</span>' in html
    first = course.lessons.published().order_by("order").first()
    first_questions = first.questions.published().count()
    assert f"Knowledge check: {first_questions - 1} of {first_questions} correct." in html
    # Total time: the first lesson done (08:00) to the last (one hour per lesson after it).
    assert f"{lessons - 1} h" in html
    assert 'href="/en/labs/gitops-reconcile/complete/"' in html
    assert "Completed in 1 h 20 min." in html
    assert "0 of 3 steps passed." in html  # the course's other lab, not done
    assert "you may start its exam now" in html
    assert 'href="/en/certifications/gitops-practitioner/"' in html
    assert 'href="/en/courses/chaos-engineering-foundations/"' in html  # what next


def test_total_time_runs_from_a_lab_started_before_the_first_lesson(course):
    user = UserFactory()
    _read_every_lesson(course, user)
    lab = Lab.objects.get(key="gitops-reconcile")
    _finish_lab(lab, user, start=START - timedelta(days=1), minutes=10)

    summary = completion.course_completion(course=course, user=user)

    assert summary.started_at == START - timedelta(days=1)
    lessons = course.lessons.published().count()
    assert summary.finished_at == START + timedelta(hours=lessons - 1)
    assert summary.duration == timedelta(days=1, hours=lessons - 1)


def test_an_unfinished_course_shows_what_remains_and_no_summary(client, course):
    user = UserFactory()
    lessons = list(course.lessons.published().order_by("order"))
    LessonProgress.objects.create(
        user=user, lesson=lessons[0], last_visited_at=START, completed_at=START
    )
    client.force_login(user)

    html = client.get(_url(course)).content.decode()

    assert "Not finished yet" in html
    assert f"You have marked 1 of its {len(lessons)} lessons done." in html
    assert "stat-tile" not in html and "You completed" not in html
    assert lessons[1].get_absolute_url() in html
    assert f'href="{lessons[0].get_absolute_url()}"' not in html  # done: not in what remains
    assert _url(course) not in client.get(course.get_absolute_url()).content.decode()


def test_another_learner_never_sees_my_summary(client, course):
    me, other = UserFactory(), UserFactory()
    _read_every_lesson(course, me)
    client.force_login(other)

    html = client.get(_url(course), {"user": me.pk}).content.decode()

    assert "Not finished yet" in html
    assert "You have marked 0 of its" in html
    assert "You completed" not in html


def test_a_forged_post_changes_nothing(client, course):
    user = UserFactory()
    client.force_login(user)

    response = client.post(_url(course), {"lesson": course.lessons.first().pk})

    assert response.status_code == 405
    assert not LessonProgress.objects.filter(user=user).exists()
    assert "Not finished yet" in client.get(_url(course)).content.decode()


def test_a_visitor_signs_in_first_and_unknown_courses_are_404(client, course):
    response = client.get(_url(course))
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/sign-in/")
    client.force_login(UserFactory())
    assert client.get("/en/courses/no-such-course/complete/").status_code == 404
    # The summary's pattern comes before the lessons': a lesson keeps its own URL.
    lesson = course.lessons.published().first()
    assert client.get(lesson.get_absolute_url()).status_code == 200


def test_the_course_page_links_to_the_summary_when_complete(client, course):
    user = UserFactory()
    _read_every_lesson(course, user)
    client.force_login(user)

    assert _url(course) in client.get(course.get_absolute_url()).content.decode()


def test_the_spanish_page_has_spanish_urls_and_dates(client, course):
    user = UserFactory(preferred_language="es")
    _read_every_lesson(course, user)
    client.force_login(user)
    url = _url(course, "es")
    assert url.startswith("/es/") and course.slug_es in url

    html = client.get(url).content.decode()

    assert course.title_es in html
    assert "2 de marzo de 2026" in html  # Django's Spanish date format
    assert 'href="/es/cursos/fundamentos-de-ingenieria-del-caos/"' in html
    assert f'hreflang="en" href="{_url(course, "en")}"' in html
    with translation.override("es"):
        english_slug = reverse("courses:course_complete", kwargs={"course_slug": course.slug_en})
    redirected = client.get(english_slug)
    assert redirected.status_code == 301 and redirected["Location"] == url
