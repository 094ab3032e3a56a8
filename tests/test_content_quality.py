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


# --- Labs ----------------------------------------------------------------------------------------

LABS = CONTENT.labs
LAB_IDS = [lab.key for lab in LABS]


def test_the_six_chaos_and_gitops_labs_exist():
    assert {
        "first-steady-state",
        "kill-a-replica",
        "latency-and-timeouts",
        "resource-pressure",
        "gitops-reconcile",
        "chaos-meets-gitops",
    } <= set(LAB_IDS)


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_lab_exists_in_both_languages_with_its_messages(lab):
    for language in ("en", "es"):
        assert lab.title.values.get(language) and lab.summary.values.get(language)
        assert lab.slug.values.get(language)
    for step in lab.steps:
        for language in ("en", "es"):
            assert step.titles.get(language), (step.key, language)
            assert _words(step.bodies.get(language, "")) >= 60, (step.key, language)
        for key, texts in step.messages.items():
            assert texts.get("en") and texts.get("es"), (step.key, key)
            used = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", step.check)
            assert used, f"{step.key}: message {key!r} is never printed by the check"


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_lab_belongs_to_lessons(lab):
    assert lab.lesson_refs, "link the lab from the lessons it practises"


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_spanish_lab_steps_use_the_glossary(lab):
    for step in lab.steps:
        text = step.bodies["es"].lower()
        for wrong in ("radio de explosión", "estado estacionario", "deriva", "ingeniería de caos"):
            assert wrong not in text, (step.key, wrong)


@pytest.mark.django_db
def test_each_lesson_links_to_its_labs_in_both_languages(client, real_content):
    from django.utils import translation

    from academy.courses.models import Lesson
    from labs.models import Lab

    for lab in Lab.objects.published():
        for ref in lab.lesson_refs:
            course_key, lesson_key = ref.split("/")
            lesson = Lesson.objects.get(key=lesson_key, course__key=course_key)
            for language in ("en", "es"):
                # Inside the override: the page's LocaleMiddleware leaves its language active.
                with translation.override(language):
                    lesson_url, lab_url = lesson.get_absolute_url(), lab.get_absolute_url()
                    title = getattr(lab, f"title_{language}")
                    html = client.get(lesson_url).content.decode()
                assert lab_url in html and title in html, (ref, lab.key, language)
