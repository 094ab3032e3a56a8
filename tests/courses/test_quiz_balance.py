"""The content check refuses knowledge checks whose answer key can be guessed from the form of
the choices: the correct one mostly the longest, or mostly at the same place in the list."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from academy.certifications.content import position_limit
from academy.contentsync import content_read
from academy.courses.models import Question
from academy.courses.services import content_sync

pytestmark = pytest.mark.django_db

QUIZ = "courses/demo-course/lessons/first-lesson.quiz.yaml"


def _quiz(questions: list[tuple[list[str], int]]) -> str:
    """A quiz file: each question is (choice texts, place of the correct one from 0). The
    choice keys follow the list order unless a question gives its own with 'key=text'."""
    out = ["questions:"]
    for number, (texts, correct) in enumerate(questions, start=1):
        out += [
            f"  - key: q{number}",
            '    prompt: {en: "Which one?", es: "¿Cuál?"}',
            "    choices:",
        ]
        for place, text in enumerate(texts):
            key, _, text = text.rpartition("=") if "=" in text else ("abcde"[place], "", text)
            out.append(f"      - key: {key}")
            if place == correct:
                out.append("        correct: true")
            out.append(f"        text: {{en: {text}, es: {text}}}")
        out.append('    explanation: {en: "Because.", es: "Porque."}')
    return "\n".join(out) + "\n"


def _sync_fails(root, text: str) -> str:
    """Writes the quiz, syncs, and returns the problems; asserts nothing was applied."""
    content_sync(root=root)
    before = sorted(Question.objects.values_list("key", "prompt_en"))
    (root / QUIZ).write_text(text, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was applied"):
        call_command("sync_content", path=root, stdout=StringIO(), stderr=err)
    assert sorted(Question.objects.values_list("key", "prompt_en")) == before
    return err.getvalue()


def test_correct_choice_mostly_longest_is_refused_with_path_and_lines(demo_content):
    questions = [
        (["A much longer right answer", "short", "brief"], 0),
        (["short", "A much longer right answer", "brief"], 1),
        (["short", "brief", "A much longer right answer"], 2),
        (["right", "A longer wrong answer", "brief"], 0),
        (["short", "right", "A longer wrong answer"], 1),
    ]

    err = _sync_fails(demo_content, _quiz(questions))

    assert "demo-course/course.yaml:1: knowledge checks: in 3 of 5 questions" in err
    assert "at most 40 % may be" in err
    # each question that tips it is named with its file and line
    assert "first-lesson.quiz.yaml:2 q1" in err
    assert "first-lesson.quiz.yaml:24 q3" in err
    assert "q4" not in err.split("at most 40 %")[1]


def test_correct_choice_longest_in_two_of_five_passes(demo_content):
    questions = [
        (["A much longer right answer", "short", "brief"], 0),
        (["short", "A much longer right answer", "brief"], 1),
        (["short", "brief", "right"], 2),
        (["right", "A longer wrong answer", "brief"], 0),
        (["short", "right", "A longer wrong answer"], 1),
    ]
    (demo_content / QUIZ).write_text(_quiz(questions), encoding="utf-8")

    content_sync(root=demo_content)

    assert Question.objects.count() == 5


def test_correct_choice_at_one_position_is_refused(demo_content):
    questions = [(["right", "wrong", "other"], 0) for _ in range(6)]

    err = _sync_fails(demo_content, _quiz(questions))

    limit = position_limit(6, 3)
    assert limit == 2
    assert (
        "course.yaml:1: knowledge checks: among the 6 questions with 3 choices, choice 1 is the "
        f"correct one in 6; at most {limit} may be"
    ) in err
    assert "first-lesson.quiz.yaml:2 q1" in err


def test_position_is_the_place_in_the_list_not_the_key(demo_content):
    # Renaming the keys does not hide that the answer is always listed first...
    listed_first = [(["b=right", "a=wrong", "c=other"], 0) for _ in range(3)]
    err = _sync_fails(demo_content, _quiz(listed_first))
    assert "choice 1 is the correct one in 3; at most 1 may be" in err

    # ...and the same key 'a' at three different places is a fair spread.
    spread = [
        (["a=right", "b=wrong", "c=other"], 0),
        (["b=wrong", "a=right", "c=other"], 1),
        (["b=wrong", "c=other", "a=right"], 2),
    ]
    (demo_content / QUIZ).write_text(_quiz(spread), encoding="utf-8")
    content_sync(root=demo_content)
    assert Question.objects.count() == 3


def _course_questions():
    courses = content_read(root=settings.CONTENT_DIR).specs["courses"]
    return {
        course.key: [q for lesson in course.lessons.values() for q in lesson.questions]
        for course in courses
    }


@pytest.mark.parametrize("course", sorted(_course_questions()))
def test_real_knowledge_checks_do_not_give_the_key_away(course):
    questions = _course_questions()[course]

    longest = [q.key for q in questions if q.correct_is_longest]
    assert len(longest) * 100 <= 40 * len(questions), longest
    for size in {len(q.choices) for q in questions}:
        group = [q for q in questions if len(q.choices) == size]
        counts = [sum(q.correct_position == p for q in group) for p in range(size)]
        assert max(counts) <= position_limit(len(group), size), (size, counts)
