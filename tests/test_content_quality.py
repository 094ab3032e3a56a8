"""The real courses meet the bar set for them: length, both languages, knowledge checks."""

import re

import pytest
from django.conf import settings

from academy.courses.content import content_read

CONTENT = content_read(root=settings.CONTENT_DIR)
LESSONS = [(course, lesson) for course in CONTENT.courses for lesson in course.lessons.values()]
IDS = [f"{course.key}/{lesson.key}" for course, lesson in LESSONS]


def _words(markdown: str) -> int:
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)  # code does not count
    return len(re.findall(r"[^\W\d_]+", prose))


def test_both_foundation_courses_exist_with_at_least_six_lessons():
    by_key = {course.key: course for course in CONTENT.courses}
    assert {"chaos-engineering-foundations", "gitops-foundations"} <= set(by_key)
    for course in by_key.values():
        assert len(course.lessons) >= 6, course.key


def test_nothing_lacks_a_translation():
    assert CONTENT.missing_translations == []


@pytest.mark.parametrize(("course", "lesson"), LESSONS, ids=IDS)
def test_lesson_is_long_enough_in_each_language(course, lesson):
    for language in ("en", "es"):
        assert _words(lesson.versions[language].body_markdown) >= 400, language


@pytest.mark.parametrize(("course", "lesson"), LESSONS, ids=IDS)
def test_lesson_has_a_knowledge_check_of_three_questions(course, lesson):
    assert len(lesson.questions) >= 3
    for question in lesson.questions:
        assert question.explanation.get("es") and question.explanation.get("en")


@pytest.mark.parametrize(("course", "lesson"), LESSONS, ids=IDS)
def test_spanish_lesson_uses_the_glossary(course, lesson):
    text = lesson.versions["es"].body_markdown.lower()
    # Terms the glossary rules out in favour of one Spanish term per concept.
    for wrong in (
        "radio de explosión",
        "estado estacionario",
        "presupuesto de error ",
        "deriva",
        "ingeniería de caos",
    ):
        assert wrong not in text, wrong
