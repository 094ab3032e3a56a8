"""Knowledge-check text is inline Markdown: rendered on the lesson page, never raw HTML."""

import re

import pytest
from django.utils import translation

from academy.courses.models import Choice, Lesson, Question
from academy.courses.rendering import render_inline
from academy.courses.services import content_sync


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """A request under /es/ leaves Spanish active in this thread; the next test must not
    inherit it."""
    yield
    translation.deactivate()


def test_inline_markdown_renders_code_emphasis_and_links():
    html = render_inline("Run `kubectl apply` *once*, see [docs](https://example.org)")

    assert "<code>kubectl apply</code>" in html
    assert "<em>once</em>" in html
    assert 'href="https://example.org"' in html
    assert not html.startswith("<p>")  # fits in a legend or a label


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
    ],
)
def test_inline_markdown_carries_no_script(attack):
    html = render_inline(f"Before {attack} after").lower()

    assert "<script" not in html
    assert "<img" not in html
    assert not re.search(r"<a [^>]*javascript:", html)  # shown as text at most, never a link
    assert "before" in html and "after" in html


QUIZ_WITH_MARKDOWN = """\
questions:
  - key: q1
    prompt:
      en: "Which command applies `main`?"
      es: "¿Qué comando aplica `main`?"
    choices:
      - key: a
        text: {en: "The `agent` *pulls* it", es: "El `agente` lo *extrae*"}
        correct: true
      - key: b
        text:
          en: "CI <script>alert('x')</script> pushes"
          es: "La IC <script>alert('x')</script> empuja"
    explanation:
      en: "Only the `agent` applies."
      es: "Solo el `agente` aplica."
"""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/en/courses/demo-course/first-lesson/", "<code>agent</code>"),
        ("/es/cursos/curso-demo/primera-leccion/", "<code>agente</code>"),
    ],
)
def test_lesson_page_renders_quiz_markdown_in_both_languages(client, demo_content, url, code):
    quiz = demo_content / "courses/demo-course/lessons/first-lesson.quiz.yaml"
    quiz.write_text(QUIZ_WITH_MARKDOWN, encoding="utf-8")
    content_sync(root=demo_content)
    question = Question.objects.get(lesson=Lesson.objects.get(key="first-lesson"))
    wrong = Choice.objects.get(question=question, key="b")

    html = client.post(url, {f"question-{question.pk}": str(wrong.pk)}).content.decode()

    assert "<code>main</code>" in html  # the prompt
    assert code in html  # the choice, and the correct answer named after a wrong one
    assert "`" not in html.split('id="knowledge-check"', 1)[1].split("</section>", 1)[0]
    assert "<script>alert" not in html
    assert "&lt;code&gt;" not in html  # the named answer is rendered, not escaped
    assert "&lt;script&gt;alert('x')" in html  # shown as text, not run
