"""content_sync and the sync_content command: reconcile, idempotence, all or nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from academy.contentfiles import ContentError
from academy.courses.models import Choice, Course, Lesson, Module, Question
from academy.courses.services import content_sync
from tests.content_tree import QUIZ_YAML, lesson_md

pytestmark = pytest.mark.django_db


def _snapshot() -> list:
    """Everything the sync writes, to compare the database before and after."""
    rows = []
    for model in (Course, Module, Lesson, Question, Choice):
        rows += [tuple(sorted(vars(row).items()).__iter__()) for row in model.objects.all()]
    return [tuple((k, v) for k, v in row if k != "_state") for row in rows]


def test_first_sync_creates_everything(demo_content):
    report = content_sync(root=demo_content)

    assert report.created["courses"] == 1
    assert report.created["lessons"] == 2
    course = Course.objects.get(key="demo-course")
    assert (course.slug_en, course.slug_es) == ("demo-course", "curso-demo")
    lesson = Lesson.objects.get(key="first-lesson")
    assert lesson.slug_es == "primera-leccion"
    assert '<h2 id="start">' in lesson.body_html_en
    assert "Hola." in lesson.body_html_es
    question = Question.objects.get(lesson=lesson)
    assert question.prompt_es == "¿Cuál es la correcta?"
    assert question.choices.get(is_correct=True).key == "a"


def test_second_sync_changes_nothing_and_says_so(demo_content):
    call_command("sync_content", path=demo_content, stdout=StringIO())
    before = _snapshot()
    out = StringIO()

    call_command("sync_content", path=demo_content, stdout=out)

    assert "Nothing to do" in out.getvalue()
    assert _snapshot() == before


def test_quiet_sync_applies_and_prints_nothing(demo_content):
    out = StringIO()

    call_command("sync_content", path=demo_content, verbosity=0, stdout=out)

    assert out.getvalue() == ""
    assert _snapshot()  # applied all the same


def test_edit_updates_only_what_changed(demo_content):
    content_sync(root=demo_content)
    path = demo_content / "courses/demo-course/lessons/second-lesson.es.md"
    path.write_text(lesson_md("segunda-leccion", "Segunda lección", "Texto nuevo."), "utf-8")

    report = content_sync(root=demo_content)

    assert report.updated == {"lessons": 1}
    assert "Texto nuevo." in Lesson.objects.get(key="second-lesson").body_html_es


def test_removed_lesson_is_retired_and_comes_back(demo_content):
    content_sync(root=demo_content)
    course_yaml = demo_content / "courses/demo-course/course.yaml"
    original = course_yaml.read_text()
    lessons_dir = demo_content / "courses/demo-course/lessons"
    kept = {p.name: p.read_text() for p in lessons_dir.glob("second-lesson.*")}
    for name in kept:
        (lessons_dir / name).unlink()
    course_yaml.write_text(original.replace("      - second-lesson\n", ""))

    report = content_sync(root=demo_content)

    assert report.retired == {"lessons": 1}
    assert not Lesson.objects.published().filter(key="second-lesson").exists()
    assert Lesson.objects.filter(key="second-lesson").exists()  # progress stays attached

    course_yaml.write_text(original)
    for name, text in kept.items():
        (lessons_dir / name).write_text(text)
    report = content_sync(root=demo_content)
    assert Lesson.objects.published().filter(key="second-lesson").exists()
    assert report.updated["lessons"] == 1


def test_removed_course_is_retired(demo_content, tmp_path_factory):
    content_sync(root=demo_content)
    empty = tmp_path_factory.mktemp("empty")
    (empty / "courses").mkdir()

    report = content_sync(root=empty)

    assert report.retired == {"courses": 1}
    assert not Course.objects.published().exists()


def test_check_mode_validates_without_writing(demo_content):
    out = StringIO()
    call_command("sync_content", path=demo_content, check=True, stdout=out)

    assert "Would apply" in out.getvalue()
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        (
            "courses/demo-course/course.yaml",
            "order: 1\ntitle: a: b\nlevel: beginner\n",
            "course.yaml:2: invalid YAML",
        ),
        (
            "courses/demo-course/lessons/first-lesson.quiz.yaml",
            QUIZ_YAML.replace("        correct: true\n", ""),
            "first-lesson.quiz.yaml:6: question 1: exactly one choice must be 'correct: true'",
        ),
        (
            "courses/demo-course/lessons/first-lesson.en.md",
            "---\nslug: first-lesson\nsummary: no title\n---\n\nBody.\n",
            "first-lesson.en.md:2: front matter: 'title' is missing",
        ),
        (
            "courses/demo-course/lessons/first-lesson.es.md",
            "---\nslug: Primera Lección\ntitle: Primera\n---\n\nCuerpo.\n",
            "first-lesson.es.md:2: front matter slug: 'Primera Lección' is not a slug",
        ),
        (
            "courses/demo-course/course.yaml",
            "order: 1\nslug: {en: demo-course}\ntitle: {en: Demo}\nsummary: {en: S}\n"
            "modules:\n  - key: basics\n    title: {en: Basics}\n"
            "    lessons: [first-lesson, ghost]\n",
            "course.yaml:8: lesson 'ghost' is listed but ghost.en.md does not exist",
        ),
    ],
    ids=["bad-yaml", "no-correct-choice", "missing-field", "bad-slug", "unknown-reference"],
)
def test_broken_file_is_reported_and_nothing_is_applied(demo_content, relative, text, expected):
    content_sync(root=demo_content)
    before = _snapshot()
    (demo_content / "courses/demo-course/lessons/second-lesson.en.md").write_text(
        lesson_md("second-lesson", "Second lesson, edited"), encoding="utf-8"
    )
    (demo_content / relative).write_text(text, encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was applied"):
        call_command("sync_content", path=demo_content, stdout=StringIO(), stderr=err)

    assert expected in err.getvalue()
    assert _snapshot() == before  # the valid edit next to the broken file was not applied


def test_every_problem_is_reported_at_once(demo_content):
    lessons = demo_content / "courses/demo-course/lessons"
    (lessons / "first-lesson.quiz.yaml").write_text("questions: [\n")
    (lessons / "second-lesson.en.md").write_text("no front matter\n")

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo_content)

    paths = {problem.path.name for problem in caught.value.problems}
    assert paths == {"first-lesson.quiz.yaml", "second-lesson.en.md"}


def test_missing_spanish_is_reported_and_falls_back_to_english(demo_content):
    (demo_content / "courses/demo-course/lessons/second-lesson.es.md").unlink()
    out = StringIO()

    call_command("sync_content", path=demo_content, stdout=out)

    assert "missing translation" in out.getvalue()
    assert "second-lesson" in out.getvalue()
    lesson = Lesson.objects.get(key="second-lesson")
    assert lesson.body_html_es == ""
    with translation.override("es"):
        assert lesson.title == "Second lesson"
        assert "Some text for the lesson." in lesson.body_html


def test_unlisted_lesson_file_is_an_error(demo_content):
    lessons = demo_content / "courses/demo-course/lessons"
    (lessons / "stray.en.md").write_text(lesson_md("stray", "Stray"))

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo_content)

    assert "not listed in course.yaml" in caught.value.problems[0].message


def test_duplicate_slug_across_lessons_is_an_error(demo_content):
    lessons = demo_content / "courses/demo-course/lessons"
    (lessons / "second-lesson.es.md").write_text(lesson_md("primera-leccion", "Otra"))

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo_content)

    assert "share the es slug 'primera-leccion'" in caught.value.problems[0].message


@pytest.mark.parametrize(("language", "slug"), [("en", "complete"), ("es", "completado")])
def test_a_lesson_cannot_take_the_completion_pages_slug(demo_content, language, slug):
    # /<lang>/courses/<course>/complete/ is the course's completion page: a lesson there
    # would never be reached.
    lesson = demo_content / f"courses/demo-course/lessons/second-lesson.{language}.md"
    lesson.write_text(lesson_md(slug, "Otra"))

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo_content)

    assert f"the {language} slug '{slug}' is taken" in caught.value.problems[0].message
