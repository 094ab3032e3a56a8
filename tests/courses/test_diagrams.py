"""Diagrams in lessons: SVG written as text beside the lesson, its words per language in YAML,
checked against an allow-list at content sync and drawn inline in a <figure>."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from academy.contentfiles import ContentError
from academy.courses.content import content_read
from academy.courses.models import Lesson
from academy.courses.rendering import (
    DIAGRAM_REFERENCE,
    DiagramError,
    diagram_read,
    render_lesson,
)
from academy.courses.services import content_sync
from tests.content_tree import lesson_md

CONTENT = Path(settings.CONTENT_DIR)
DIAGRAM_FOLDERS = sorted(CONTENT.glob("courses/*/lessons/diagrams"))
DIAGRAMS = sorted(path for folder in DIAGRAM_FOLDERS for path in folder.glob("*.svg"))
# The five the issue asks for (issue 12, item 2), and where each idea is taught.
EXPECTED = {
    "reconciliation-loop": "gitops-foundations/drift-and-continuous-reconciliation",
    "pull-versus-push": "gitops-foundations/pull-vs-push-delivery",
    "error-budget-burn": "chaos-engineering-foundations/slos-and-error-budgets",
    "blast-radius": "chaos-engineering-foundations/designing-an-experiment",
    "steady-state-cycle": "chaos-engineering-foundations/steady-state-and-hypotheses",
}

GOOD_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 100">
  <defs>
    <marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" markerHeight="10"
      orient="auto-start-reverse"><path class="d-head" d="M0 0L10 5L0 10z"/></marker>
  </defs>
  <rect class="d-box" x="4" y="4" width="180" height="60" rx="10"/>
  <path class="d-line" d="M184 34L300 34" marker-end="url(#head)"/>
  <text x="94" y="34" text-anchor="middle">{{ state }}</text>
  <text class="d-small" x="320" y="34">{{ two-lines }}</text>
  <text class="d-small" x="320" y="80">14.4\u00d7 2 %</text>
</svg>
"""
GOOD_YAML = """\
state:
  en: Desired state
  es: Estado deseado
two-lines:
  en: "first line\\nsecond line"
  es: "primera línea\\nsegunda línea"
"""
REFERENCE_EN = '![A box and an arrow.](diagrams/demo.svg "The demo diagram")'
REFERENCE_ES = '![Una caja y una flecha.](diagrams/demo.svg "El diagrama de prueba")'


def _course_with_diagram(root: Path, svg: str = GOOD_SVG, texts: str | None = GOOD_YAML) -> Path:
    """The demo course (tests/content_tree.py) whose first lesson shows diagrams/demo.svg."""
    from tests.content_tree import write_demo_course

    lessons = write_demo_course(root) / "lessons"
    (lessons / "first-lesson.en.md").write_text(
        lesson_md("first-lesson", "First lesson", f"## Start\n\nHello.\n\n{REFERENCE_EN}\n"),
        encoding="utf-8",
    )
    (lessons / "first-lesson.es.md").write_text(
        lesson_md("primera-leccion", "Primera lección", f"## Inicio\n\nHola.\n\n{REFERENCE_ES}\n"),
        encoding="utf-8",
    )
    folder = lessons / "diagrams"
    folder.mkdir()
    (folder / "demo.svg").write_text(svg, encoding="utf-8")
    if texts is not None:
        (folder / "demo.yaml").write_text(texts, encoding="utf-8")
    return folder


def _problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        content_read(root=root)
    return [problem.render(root) for problem in caught.value.problems]


# --- The real diagrams ---------------------------------------------------------------------------


def test_the_five_diagrams_exist_and_are_shown_where_their_idea_is_taught():
    content = content_read(root=CONTENT)
    shown: dict[str, set[str]] = {}
    for course in content.courses:
        for lesson in course.lessons.values():
            for language, version in lesson.versions.items():
                for name in version.body_markdown.diagrams:
                    shown.setdefault(name, set()).add(f"{course.key}/{lesson.key}:{language}")
    for name, lesson in EXPECTED.items():
        assert shown.get(name) == {f"{lesson}:en", f"{lesson}:es"}, name


@pytest.mark.parametrize("svg_path", DIAGRAMS, ids=[path.stem for path in DIAGRAMS])
def test_every_diagram_has_every_text_in_both_languages(svg_path):
    diagram = diagram_read(svg_path, languages=("en", "es"))

    assert diagram.keys, "a diagram with no words cannot be translated"
    for language in ("en", "es"):
        assert set(diagram.texts[language]) == set(diagram.keys), language
        drawn = diagram.render(language, label="label")
        assert "{{" not in drawn and "}}" not in drawn
        for text in diagram.texts[language].values():
            for line in text.splitlines():
                assert f">{_escaped(line)}<" in drawn, (language, line)
    english, spanish = diagram.render("en", label="x"), diagram.render("es", label="x")
    assert english != spanish
    # The same shapes in both languages: only the words differ.
    assert _without_words(english) == _without_words(spanish)


@pytest.mark.parametrize("svg_path", DIAGRAMS, ids=[path.stem for path in DIAGRAMS])
def test_diagrams_share_one_scale_so_phone_text_stays_legible(svg_path):
    """Every diagram is 400 units wide, so one type scale fits all; the smallest text in the
    stylesheet (15 units) is at least 12 px on a 375 px phone, where the figure is 325 px wide."""
    view_box = re.search(r'viewBox="([\d. ]+)"', svg_path.read_text()).group(1).split()
    assert float(view_box[2]) == 400
    css = (settings.BASE_DIR / "static/css/lesson-diagrams.css").read_text()
    sizes = [int(size) for size in re.findall(r"font-size:\s*(\d+)px", css)]
    assert min(sizes) * 325 / 400 >= 12


def _escaped(text: str) -> str:
    from html import escape

    return escape(text)


def _without_words(svg: str) -> str:
    return re.sub(r">[^<]+<", "><", re.sub(r'aria-label="[^"]*"', "", svg))


# --- Drawing -------------------------------------------------------------------------------------


def test_a_lesson_shows_its_diagram_inline_in_a_figure(tmp_path):
    _course_with_diagram(tmp_path)
    content = content_read(root=tmp_path)
    lesson = content.courses[0].lessons["first-lesson"]

    english = render_lesson(lesson.versions["en"].body_markdown).body_html
    spanish = render_lesson(lesson.versions["es"].body_markdown).body_html

    assert '<figure class="lesson-diagram" id="diagram-demo">' in english
    assert 'role="img" aria-label="A box and an arrow."' in english
    assert "<figcaption>The demo diagram</figcaption>" in english
    assert ">Desired state<" in english and "Estado deseado" not in english
    assert ">Estado deseado<" in spanish and "Desired state" not in spanish
    assert 'aria-label="Una caja y una flecha."' in spanish
    # A text of two lines is two tspans, centred on the placeholder's y.
    assert '<tspan x="320" dy="-0.6em">primera línea</tspan>' in spanish
    assert '<tspan x="320" dy="1.2em">segunda línea</tspan>' in spanish
    # Ids are made unique on the page, and the marker reference follows them.
    assert 'id="diagram-demo-head"' in english
    assert 'marker-end="url(#diagram-demo-head)"' in english
    assert "<img" not in english


def test_a_forged_figure_token_and_a_reference_in_code_stay_text():
    source = 'DIAGRAM0000000000000000N0\n\n```markdown\n![alt](diagrams/demo.svg "caption")\n```\n'
    html = render_lesson(source, diagrams={"demo": "<figure>SHOULD NOT APPEAR</figure>"}).body_html

    assert "SHOULD NOT APPEAR" not in html
    assert "DIAGRAM0000000000000000N0" in html
    assert "diagrams/demo.svg" in html  # shown as code


def test_the_reference_syntax():
    match = DIAGRAM_REFERENCE.match(REFERENCE_EN)
    assert (match["alt"], match["name"], match["caption"]) == (
        "A box and an arrow.",
        "demo.svg",
        "The demo diagram",
    )


# --- Hostile and broken diagrams are refused at sync ----------------------------------------------

HOSTILE = {
    "script": (
        '<script>alert(1)</script><rect class="d-box" x="0" y="0" width="1" height="1"/>',
        "<script> is not allowed",
    ),
    "onload": (
        '<rect class="d-box" x="0" y="0" width="1" height="1" onload="alert(1)"/>',
        "event handler (onload)",
    ),
    "foreignObject": (
        "<foreignObject><div>x</div></foreignObject>",
        "<foreignObject> is not allowed",
    ),
    "javascript-link": (
        '<a href="javascript:alert(1)"><rect class="d-box" x="0" y="0" width="1" height="1"/></a>',
        "<a> is not allowed",
    ),
    "javascript-href-on-allowed-element": (
        '<path class="d-line" d="M0 0L1 1" href="javascript:alert(1)"/>',
        "link (href)",
    ),
    "external-image": (
        '<image href="https://evil.example/track.png" x="0" y="0" width="10" height="10"/>',
        "<image> is not allowed",
    ),
    "xlink-use": (
        '<use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://evil.example/a.svg#x"/>',
        "<use> is not allowed",
    ),
    "style-attribute": (
        '<rect class="d-box" x="0" y="0" width="1" height="1" style="fill:url(https://evil.example)"/>',
        "style attribute",
    ),
    "style-element": ("<style>rect { fill: red }</style>", "<style> is not allowed"),
    "url-in-marker": (
        '<path class="d-line" d="M0 0L1 1" marker-end="url(https://evil.example/m.svg#x)"/>',
        "must be url(#an-id-in-this-diagram)",
    ),
    "hard-coded-colour": (
        '<rect class="d-box" x="0" y="0" width="1" height="1" fill="#ff0000"/>',
        "colours come from classes",
    ),
    "words-outside-the-yaml": (
        '<text x="10" y="10">Only in English</text>',
        "put words in the diagram's YAML",
    ),
}


@pytest.mark.parametrize("attack", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_or_broken_svg_is_refused_naming_the_file(tmp_path, attack):
    element, reason = HOSTILE[attack]
    svg = GOOD_SVG.replace("</svg>", f"  {element}\n</svg>")
    _course_with_diagram(tmp_path, svg=svg)

    problems = _problems(tmp_path)

    assert problems, attack
    for problem in problems:
        assert "first-lesson." in problem and "diagrams/demo.svg" in problem, problem
    assert any(reason in problem for problem in problems), problems


def test_entities_are_refused_before_parsing(tmp_path):
    svg = (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        + GOOD_SVG.replace("14.4\u00d7 2 %", "&b;")
    )
    _course_with_diagram(tmp_path, svg=svg)

    assert any("DOCTYPE or entities" in problem for problem in _problems(tmp_path))


def test_a_huge_svg_is_refused(tmp_path):
    padding = '<rect class="d-box" x="0" y="0" width="1" height="1"/>\n' * 2000
    _course_with_diagram(tmp_path, svg=GOOD_SVG.replace("</svg>", padding + "</svg>"))

    assert any("a diagram may have 65536" in problem for problem in _problems(tmp_path))


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        (GOOD_YAML.replace("  es: Estado deseado\n", ""), "'state' has no es text"),
        (GOOD_YAML + "unused:\n  en: x\n  es: y\n", "keys not used in demo.svg: unused"),
        (
            GOOD_YAML.replace("state:\n  en: Desired state\n  es: Estado deseado\n", ""),
            "'state' is missing",
        ),
        (GOOD_YAML + "  fr: Bonjour\n", "unknown language(s) ['fr']"),
        ("state: [", "is not valid YAML"),
        (None, "demo.yaml does not exist"),
    ],
    ids=[
        "missing-spanish",
        "unused-key",
        "missing-key",
        "unknown-language",
        "bad-yaml",
        "no-texts",
    ],
)
def test_missing_or_extra_texts_are_refused(tmp_path, texts, reason):
    _course_with_diagram(tmp_path, texts=texts)

    problems = _problems(tmp_path)

    assert any(reason in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('![](diagrams/demo.svg "Caption")', "has no alt text"),
        ("![Alt text](diagrams/demo.svg)", "has no caption"),
        ('![Alt](diagrams/missing.svg "Caption")', "missing.svg does not exist"),
        ('![Alt](diagrams/../../secret.svg "Caption")', "a diagram is diagrams/NAME.svg"),
        ('See ![Alt](diagrams/demo.svg "Caption") here.', "a diagram goes on a line of its own"),
    ],
)
def test_bad_references_are_refused_with_their_line(tmp_path, line, reason):
    folder = _course_with_diagram(tmp_path)
    lesson = folder.parent / "first-lesson.en.md"
    lesson.write_text(lesson_md("first-lesson", "First lesson", f"Hello.\n\n{line}\n"))

    problems = _problems(tmp_path)

    # front matter (5 lines) + blank line + "Hello." + blank line: the reference is on line 9
    assert any("first-lesson.en.md:9: " in p and reason in p for p in problems), problems


def test_a_diagram_no_lesson_shows_is_refused(tmp_path):
    folder = _course_with_diagram(tmp_path)
    (folder / "forgotten.svg").write_text(GOOD_SVG)
    (folder / "notes.txt").write_text("scratch")

    problems = _problems(tmp_path)

    assert any(
        "forgotten.svg: diagram 'forgotten' is not shown in any lesson" in p for p in problems
    )
    assert any(
        "notes.txt: a diagrams folder holds NAME.svg and NAME.yaml only" in p for p in problems
    )


def test_diagram_read_says_which_file(tmp_path):
    path = tmp_path / "demo.svg"
    path.write_text(GOOD_SVG.replace("</svg>", "<script/></svg>"))

    with pytest.raises(DiagramError, match=r"^demo\.svg <script> is not allowed"):
        diagram_read(path, languages=("en", "es"))


@pytest.mark.django_db
def test_the_sync_command_reports_a_hostile_diagram_and_applies_nothing(tmp_path):
    svg = GOOD_SVG.replace("</svg>", '<rect class="d-box" onclick="steal()"/></svg>')
    _course_with_diagram(tmp_path, svg=svg)
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was applied"):
        call_command("sync_content", path=tmp_path, stdout=StringIO(), stderr=err)

    assert "diagrams/demo.svg <rect> has an event handler (onclick)" in err.getvalue()
    assert not Lesson.objects.exists()


@pytest.mark.django_db
def test_changing_a_diagram_renders_its_lesson_again(tmp_path):
    folder = _course_with_diagram(tmp_path)
    content_sync(root=tmp_path)
    lesson = Lesson.objects.get(key="first-lesson")
    assert ">Estado deseado<" in lesson.body_html_es

    (folder / "demo.yaml").write_text(GOOD_YAML.replace("Estado deseado", "Estado que se desea"))
    content_sync(root=tmp_path)

    lesson.refresh_from_db()
    assert ">Estado que se desea<" in lesson.body_html_es
    assert Lesson.objects.get(key="second-lesson").body_html_es  # untouched lessons still fine


# --- The lesson pages ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words", "other_words"),
    [
        ("en", ["Reconciler", "Desired state", "Observe"], ["Reconciliador", "Estado deseado"]),
        ("es", ["Reconciliador", "Estado deseado", "Observar"], ["Reconciler", "Desired state<"]),
    ],
)
def test_the_lesson_page_shows_the_diagram_in_its_language(
    client, real_content, language, words, other_words
):
    lesson = Lesson.objects.get(key="drift-and-continuous-reconciliation")
    with translation.override(language):
        url = lesson.get_absolute_url()
    assert url.startswith(f"/{language}/")

    html = client.get(url).content.decode()

    figure = re.search(r'<figure class="lesson-diagram".*?</figure>', html, re.S).group(0)
    assert 'role="img" aria-label="' in figure and "<figcaption>" in figure
    for word in words:
        assert f">{word}<" in figure, word
    for word in other_words:
        assert word not in figure, word
    assert "css/lesson-diagrams.css" in html
    assert "<script" not in figure and not re.search(r"\son\w+=", figure)


def test_the_example_in_content_readme_is_a_valid_diagram(tmp_path):
    readme = (CONTENT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### A diagram") : readme.index("### A knowledge check")]
    (tmp_path / "example.svg").write_text(re.search(r"```xml\n(.*?)```", section, re.S)[1])
    (tmp_path / "example.yaml").write_text(re.search(r"```yaml\n(.*?)```", section, re.S)[1])

    diagram = diagram_read(tmp_path / "example.svg", languages=("en", "es"))

    assert ">extraído por</tspan>" in diagram.render("es", label="x")
    assert DIAGRAM_REFERENCE.search(section)


def test_markup_in_texts_alt_and_caption_is_shown_as_text(tmp_path):
    texts = GOOD_YAML.replace("es: Estado deseado", "es: '<script>alert(1)</script>'")
    folder = _course_with_diagram(tmp_path, texts=texts)
    (folder.parent / "first-lesson.es.md").write_text(
        lesson_md(
            "primera-leccion",
            "Primera lección",
            '![Alt" onmouseover="alert(1)](diagrams/demo.svg "<img src=x onerror=alert(1)>")\n',
        ),
        encoding="utf-8",
    )
    lesson = content_read(root=tmp_path).courses[0].lessons["first-lesson"]

    html = render_lesson(lesson.versions["es"].body_markdown).body_html

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert 'aria-label="Alt&quot; onmouseover=&quot;alert(1)"' in html
    assert "<figcaption>&lt;img src=x onerror=alert(1)&gt;</figcaption>" in html
    assert "<img" not in html


@pytest.mark.parametrize("svg_path", DIAGRAMS, ids=[path.stem for path in DIAGRAMS])
def test_spanish_diagram_texts_use_the_glossary(svg_path):
    from tests.test_glossary import _pattern, rejected_variants

    texts = diagram_read(svg_path, languages=("en", "es")).texts["es"]
    hits = [
        f"{key}: {variant!r} -> {preferred!r}"
        for key, text in texts.items()
        for variant, preferred in rejected_variants().items()
        if _pattern(variant).search(text)
    ]
    assert hits == []
