"""What the learning pages cost in queries, and that their cached parts are never stale.

Each page costs the same number of queries whatever the number of labs, lessons or steps it
shows (a per-item query that creeps back fails here), for visitors and learners, in English and
Spanish; the budgets below are today's counts, so that a page which grows a query says so. The
cached parts (academy/courses/caching.py) follow a content sync, an admin save and the reader's
own progress.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.template import engines
from django.utils import timezone, translation

from academy.courses.models import Course, Lesson, LessonProgress, Module
from academy.courses.services import content_sync
from labs.models import CheckResult, Lab, LabSession, LabStep
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "es"]


@contextmanager
def counted():
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield queries


@pytest.fixture
def site(demo_content):
    content_sync(root=demo_content)
    return demo_content


def add_labs(count: int, *, user=None, start: int = 0) -> None:
    """``count`` labs that practise the demo course's first lesson, with two steps each; for
    ``user``, a live session and a passed step in each."""
    for number in range(start, start + count):
        lab = Lab.objects.create(
            key=f"lab-{number}",
            slug_en=f"lab-{number}",
            slug_es=f"laboratorio-{number}",
            title_en=f"Lab {number}",
            title_es=f"Laboratorio {number}",
            summary_en="A lab.",
            summary_es="Un laboratorio.",
            difficulty="beginner",
            duration_minutes=20,
            order=number,
            shell_container="toolbox",
            lesson_refs=["demo-course/first-lesson"],
        )
        steps = [
            LabStep.objects.create(
                lab=lab, key=f"step-{step}", number=step, title_en=f"Step {step}", body_html=""
            )
            for step in (1, 2)
        ]
        if user is not None:
            session = LabSession.objects.create(lab=lab, user=user, state=LabSession.State.READY)
            CheckResult.objects.create(session=session, step=steps[0], passed=True, duration_ms=1)


def add_lessons(count: int, *, user=None) -> None:
    """``count`` more lessons in the demo course; ``user`` has visited each."""
    course = Course.objects.get(key="demo-course")
    module = Module.objects.get(course=course, key="basics")
    for number in range(count):
        lesson = Lesson.objects.create(
            course=course,
            module=module,
            key=f"extra-{number}",
            slug_en=f"extra-{number}",
            slug_es=f"extra-es-{number}",
            title_en=f"Extra {number}",
            title_es=f"Extra es {number}",
            body_html_en="<p>Extra.</p>",
            order=10 + number,
        )
        if user is not None:
            # Read a day ago: the lesson the reader read last stays the one they read last.
            LessonProgress.objects.create(
                user=user, lesson=lesson, last_visited_at=timezone.now() - timedelta(days=1)
            )


def page_urls(language: str) -> dict[str, str]:
    with translation.override(language):
        lesson = Lesson.objects.get(key="first-lesson")
        lab = Lab.objects.order_by("order").first()
        return {
            "home": f"/{language}/",
            "catalogue": "/en/courses/" if language == "en" else "/es/cursos/",
            "course": lesson.course.get_absolute_url(),
            "lesson": lesson.get_absolute_url(),
            "lab": lab.get_absolute_url(),
        }


def page_queries(client, url: str) -> tuple[int, int]:
    """Queries of a first (cold cache: the content changed since the last request) and a
    second (warm) request of ``url``."""
    counts = []
    for _ in range(2):
        with counted() as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        counts.append(len(queries))
    return counts[0], counts[1]


# The warm-cache budget of each page: visitor, then learner (whose session, user, progress and
# the header's instructor link cost a few more).
BUDGETS = {
    "home": (3, 9),
    "catalogue": (3, 9),
    "course": (2, 6),
    "lesson": (1, 6),
    "lab": (2, 7),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "learner"])
def test_pages_cost_the_same_queries_with_6_or_12_labs(client, site, language, signed_in):
    user = UserFactory() if signed_in else None
    if user:
        client.force_login(user)
        client.get(Lesson.objects.get(key="first-lesson").get_absolute_url())  # a first visit
    add_labs(6, user=user)
    few = {name: page_queries(client, url) for name, url in page_urls(language).items()}
    add_labs(6, user=user, start=6)
    many = {name: page_queries(client, url) for name, url in page_urls(language).items()}
    assert many == few
    for name, (_cold, warm) in many.items():
        assert warm <= BUDGETS[name][signed_in], (name, warm)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "learner"])
def test_pages_cost_the_same_queries_with_2_or_8_lessons(client, site, language, signed_in):
    user = UserFactory() if signed_in else None
    if user:
        client.force_login(user)
        client.get(Lesson.objects.get(key="first-lesson").get_absolute_url())  # a first visit
    add_labs(1, user=user)
    urls = page_urls(language)
    few = {name: page_queries(client, urls[name]) for name in ("home", "course", "lesson")}
    add_lessons(6, user=user)
    many = {name: page_queries(client, urls[name]) for name in ("home", "course", "lesson")}
    assert many == few


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_dashboard_costs_the_same_queries_with_6_or_12_labs(client, site, language):
    user = UserFactory()
    client.force_login(user)
    client.get(Lesson.objects.get(key="first-lesson").get_absolute_url())
    add_labs(6, user=user)
    url = f"/{language}/dashboard/" if language == "en" else "/es/panel/"
    few = page_queries(client, url)
    add_labs(6, user=user, start=6)
    assert page_queries(client, url) == few


def test_the_lab_page_costs_the_same_queries_with_2_or_9_steps(client, site):
    add_labs(1)
    lab = Lab.objects.get()
    url = lab.get_absolute_url()
    few = page_queries(client, url)
    for number in range(3, 10):
        LabStep.objects.create(lab=lab, key=f"step-{number}", number=number, title_en="More")
    assert page_queries(client, url) == few


def test_the_session_status_poll_costs_the_same_queries_with_2_or_9_steps(client, site):
    user = UserFactory()
    client.force_login(user)
    add_labs(1, user=user)
    session = LabSession.objects.get()
    url = f"/en/labs/sessions/{session.pk}/status/"

    def poll() -> int:
        with counted() as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    few = poll()
    assert few <= 7  # session, user, the session with its lab and user, results, steps, completion
    step = LabStep.objects.filter(lab=session.lab).first()
    for number in range(3, 10):
        more = LabStep.objects.create(lab=session.lab, key=f"s{number}", number=number)
        CheckResult.objects.create(session=session, step=more, passed=True, duration_ms=1)
    CheckResult.objects.create(session=session, step=step, passed=False, duration_ms=1)
    assert poll() == few


def test_a_content_sync_changes_the_cached_lesson(client, site):
    lesson = Lesson.objects.get(key="first-lesson")
    url = lesson.get_absolute_url()
    course_url = lesson.course.get_absolute_url()
    first = client.get(url).content.decode()
    assert "Hello learners." in first and "Which one is right?" in first
    assert "Second lesson" in first  # the outline and the pager
    client.get(course_url)

    lessons = site / "courses" / "demo-course" / "lessons"
    markdown = lessons / "first-lesson.en.md"
    markdown.write_text(
        markdown.read_text(encoding="utf-8").replace("Hello learners.", "Hello again."),
        encoding="utf-8",
    )
    second = lessons / "second-lesson.en.md"
    second.write_text(
        second.read_text(encoding="utf-8").replace(
            "title: Second lesson", "title: The renamed lesson"
        ),
        encoding="utf-8",
    )
    quiz = lessons / "first-lesson.quiz.yaml"
    quiz.write_text(
        quiz.read_text(encoding="utf-8").replace("Which one is right?", "Which is right now?"),
        encoding="utf-8",
    )
    report = content_sync(root=site)
    assert report.changed

    page = client.get(url).content.decode()
    assert "Hello again." in page and "Hello learners." not in page
    assert "Which is right now?" in page and "Which one is right?" not in page
    assert "The renamed lesson" in page and "Second lesson" not in page
    assert "The renamed lesson" in client.get(course_url).content.decode()


def test_a_lesson_retired_by_a_sync_leaves_the_cached_outline(client, site):
    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    assert "Second lesson" in client.get(url).content.decode()
    course_yaml = site / "courses" / "demo-course" / "course.yaml"
    course_yaml.write_text(
        course_yaml.read_text(encoding="utf-8").replace("      - second-lesson\n", ""),
        encoding="utf-8",
    )
    for path in (site / "courses" / "demo-course" / "lessons").glob("second-lesson*"):
        path.unlink()
    content_sync(root=site)
    assert Lesson.objects.get(key="second-lesson").retired_at is not None
    assert "Second lesson" not in client.get(url).content.decode()


def test_an_admin_save_changes_the_cached_pages(client, site):
    add_labs(1)
    lesson = Lesson.objects.get(key="second-lesson")
    home = client.get("/en/").content.decode()
    course = client.get(lesson.course.get_absolute_url()).content.decode()
    assert "Lab 0" in home and "Second lesson" in course
    lesson.title_en = "Edited in the admin"
    lesson.save()
    lab = Lab.objects.get()
    lab.title_en = "Lab edited in the admin"
    lab.save()
    assert "Edited in the admin" in client.get(lesson.course.get_absolute_url()).content.decode()
    assert "Lab edited in the admin" in client.get("/en/").content.decode()


def test_a_second_sync_that_changes_nothing_keeps_the_version(site):
    before = Course.objects.get().updated_at
    report = content_sync(root=site)
    assert not report.changed
    assert Course.objects.get().updated_at == before


def test_each_reader_sees_their_own_progress_on_cached_pages(client, site):
    lesson = Lesson.objects.get(key="first-lesson")
    course_url = lesson.course.get_absolute_url()
    done_mark = '<li class="done">'
    alice, bob = UserFactory(), UserFactory()
    client.force_login(alice)
    assert done_mark not in client.get(course_url).content.decode()
    client.post(f"{lesson.get_absolute_url()}complete/")
    assert done_mark in client.get(course_url).content.decode()
    assert done_mark in client.get(lesson.get_absolute_url()).content.decode()

    client.force_login(bob)  # the same cached outline must not carry Alice's marks
    assert done_mark not in client.get(course_url).content.decode()
    assert done_mark not in client.get(lesson.get_absolute_url()).content.decode()
    client.logout()
    page = client.get(lesson.get_absolute_url()).content.decode()
    assert done_mark not in page and "Sign in to track your progress" in page


def test_cached_parts_follow_the_language(client, site):
    lesson = Lesson.objects.get(key="first-lesson")
    english = client.get(lesson.get_absolute_url()).content.decode()
    with translation.override("es"):
        url = lesson.get_absolute_url()
    spanish = client.get(url).content.decode()
    assert "Which one is right?" in english and "Second lesson" in english
    assert "¿Cuál es la correcta?" in spanish and "Which one is right?" not in spanish
    assert "Segunda lección" in spanish and "Second lesson" not in spanish


def test_a_cached_knowledge_check_keeps_a_fresh_csrf_token(client, site):
    """The questions are cached; the form's CSRF token is not: each reader posts with theirs."""
    from django.test import Client

    url = Lesson.objects.get(key="first-lesson").get_absolute_url()
    client.get(url)  # fills the cache
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(url)
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    choice = page.content.decode().split('name="question-')[1].split('"')[0]
    value = page.content.decode().split(f'name="question-{choice}" value="')[1].split('"')[0]
    response = strict.post(url, {"csrfmiddlewaretoken": token, f"question-{choice}": value})
    assert response.status_code == 200
    assert "You answered 1 of 1 correctly." in response.content.decode()
    forged = Client(enforce_csrf_checks=True)
    forged.get(url)
    assert forged.post(url, {"csrfmiddlewaretoken": "x" * 64}).status_code == 403


def test_templates_are_compiled_once_per_process():
    """No "loaders" in TEMPLATES: Django's default is then its cached loader (with DEBUG too,
    where it reloads a template when its file changes)."""
    loaders = engines["django"].engine.template_loaders
    assert [type(loader).__module__ for loader in loaders] == ["django.template.loaders.cached"]
