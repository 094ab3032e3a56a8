"""Builds small content trees on disk for sync tests, one file at a time."""

from pathlib import Path
from textwrap import dedent

COURSE_YAML = """\
order: 1
level: beginner
slug:
  en: demo-course
  es: curso-demo
title:
  en: Demo course
  es: Curso demo
summary:
  en: A course for tests.
  es: Un curso para pruebas.
modules:
  - key: basics
    title:
      en: Basics
      es: Fundamentos
    lessons:
      - first-lesson
      - second-lesson
"""

QUIZ_YAML = """\
questions:
  - key: q1
    prompt:
      en: Which one is right?
      es: ¿Cuál es la correcta?
    choices:
      - key: a
        text: {en: This one, es: Esta}
        correct: true
      - key: b
        text: {en: That one, es: Esa}
    explanation:
      en: Because it is.
      es: Porque sí.
"""


def lesson_md(slug: str, title: str, body: str = "Some text for the lesson.") -> str:
    return f"---\nslug: {slug}\ntitle: {title}\nsummary: About {title}.\n---\n\n{dedent(body)}\n"


def write_demo_course(root: Path) -> Path:
    """A valid course with two lessons in both languages; returns the course folder."""
    course = root / "courses" / "demo-course"
    lessons = course / "lessons"
    lessons.mkdir(parents=True)
    (course / "course.yaml").write_text(COURSE_YAML, encoding="utf-8")
    (lessons / "first-lesson.en.md").write_text(
        lesson_md("first-lesson", "First lesson", "## Start\n\nHello learners."), encoding="utf-8"
    )
    (lessons / "first-lesson.es.md").write_text(
        lesson_md("primera-leccion", "Primera lección", "## Inicio\n\nHola."), encoding="utf-8"
    )
    (lessons / "first-lesson.quiz.yaml").write_text(QUIZ_YAML, encoding="utf-8")
    (lessons / "second-lesson.en.md").write_text(
        lesson_md("second-lesson", "Second lesson"), encoding="utf-8"
    )
    (lessons / "second-lesson.es.md").write_text(
        lesson_md("segunda-leccion", "Segunda lección"), encoding="utf-8"
    )
    return course
