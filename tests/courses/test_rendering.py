"""Lesson HTML cannot carry script from content, and renders what authors write."""

import pytest

from academy.courses.rendering import render_lesson

ATTACKS = [
    "<script>alert('x')</script>",
    '<img src="x.png" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">click</a>',
    '<iframe src="https://example.org"></iframe>',
    '<div onclick="alert(1)" style="background:url(javascript:alert(1))">x</div>',
    "<svg><script>alert(1)</script></svg>",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<form action="https://evil.example"><input name="password"></form>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_content_cannot_inject_script(attack):
    html = render_lesson(f"## Title\n\nBefore {attack} after\n\n{attack}\n").body_html.lower()

    for forbidden in (
        "<script",
        "javascript:",
        "onerror",
        "onclick",
        "<iframe",
        "<object",
        "<form",
        "<input",
        "data:text/html",
        "<svg",
        "background:url",
    ):
        assert forbidden not in html
    assert "before" in html and "after" in html


def test_code_blocks_are_highlighted_and_escaped():
    rendered = render_lesson('```python\nprint("<b>hi</b>")\n```\n')

    assert '<div class="highlight">' in rendered.body_html
    assert '<span class="nb">print</span>' in rendered.body_html
    assert "&lt;b&gt;" in rendered.body_html


def test_code_blocks_keep_their_language_for_the_lab_page():
    # The lab page offers "Run in terminal" on shell blocks only (static/js/copy.js).
    html = render_lesson("```bash\necho hi\n```\n\n```json\n{}\n```\n").body_html

    assert '<code class="language-bash">' in html
    assert '<code class="language-json">' in html
    for fence in ('```bash" onclick="x', "```{.bash onclick=x}"):
        forged = render_lesson(f"{fence}\necho\n```\n").body_html
        assert "onclick=" not in forged.replace("&quot;", '"').split("<code>", 1)[0]
        assert "<code onclick" not in forged and 'onclick="x"' not in forged


def test_headings_get_anchors_and_a_table_of_contents():
    rendered = render_lesson("## Hipótesis de estado estable\n\ntext\n\n### Radio de impacto\n")

    assert 'id="hipótesis-de-estado-estable"' in rendered.body_html
    assert 'href="#hipótesis-de-estado-estable"' in rendered.toc_html
    assert 'href="#radio-de-impacto"' in rendered.toc_html


def test_tables_render_with_alignment_only():
    rendered = render_lesson("| a | b |\n|:--|--:|\n| 1 | 2 |\n")

    assert "<table>" in rendered.body_html
    assert 'style="text-align: right;"' in rendered.body_html


def test_links_are_kept_and_made_safe():
    html = render_lesson("[OpenGitOps](https://opengitops.dev)").body_html

    assert 'href="https://opengitops.dev"' in html
    assert 'rel="noopener noreferrer"' in html


def test_reading_time_counts_words():
    assert render_lesson("word " * 200).reading_minutes == 1
    assert render_lesson("word " * 401).reading_minutes == 3
