"""Lesson Markdown to safe HTML.

Rendering happens at sync time, once per content version. The output is sanitised with nh3
(an allow-list HTML cleaner), so content can carry no script, event handler or javascript: URL,
whatever its Markdown or raw HTML says.
"""

import functools
import math
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import markdown
import nh3
from markdown.extensions.toc import slugify_unicode
from pygments.formatters import HtmlFormatter

# Bump when the rendering changes, so that the next sync renders every lesson again.
RENDERER_VERSION = "3"
WORDS_PER_MINUTE = 200

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"align", "style"},
    "th": {"align", "style"},
    "ol": {"start"},
}
_TEXT_ALIGN = re.compile(r"^text-align:\s*(left|right|center);?$")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Tables from Markdown align columns with style="text-align: ..."; nothing else may style.
    if attribute == "style":
        return value if _TEXT_ALIGN.match(value.strip()) else None
    return value


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class _CodeFormatter(HtmlFormatter):
    """Pygments' HTML with the block's language kept on <code> (class="language-bash"), so
    that the lab page knows which blocks are shell commands it may offer to run."""

    def __init__(self, lang_str: str = "", **options) -> None:
        super().__init__(**options)
        self.lang_str = lang_str

    def _wrap_code(self, source):
        language = f' class="{self.lang_str}"' if self.lang_str else ""
        yield 0, f"<code{language}>"
        yield from source
        yield 0, "</code>"


@dataclass(frozen=True)
class RenderedLesson:
    body_html: str
    toc_html: str
    reading_minutes: int


def render_lesson(source: str, *, diagrams: dict[str, str] | None = None) -> RenderedLesson:
    """``diagrams``: diagram name -> its figure, for the diagram references in ``source``
    (by default the ones a ``LessonMarkdown`` carries from the content read). A reference to
    a diagram not given stays a plain image."""
    if diagrams is None:
        diagrams = getattr(source, "diagrams", {})
    # The figures go in after nh3 (which knows no SVG) through tokens no author can guess.
    nonce = secrets.token_hex(8)
    figures: list[str] = []

    def take(line: str) -> str:
        match = DIAGRAM_REFERENCE.match(line)
        figure = diagrams.get(match["name"].removesuffix(".svg")) if match else None
        if figure is None:
            return line
        figures.append(figure)
        return f"\nDIAGRAM{nonce}N{len(figures) - 1}\n\n"

    md = markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "toc", "sane_lists", "attr_list"],
        extension_configs={
            "codehilite": {
                "css_class": "highlight",
                "guess_lang": False,
                "pygments_formatter": _CodeFormatter,
            },
            "toc": {
                "toc_depth": "2-3",
                "slugify": slugify_unicode,
                "permalink": "#",
                "permalink_title": "",
            },
        },
        output_format="html",
    )
    body = sanitise(md.convert(_map_prose_lines(str(source), take)))
    for number, figure in enumerate(figures):
        body = body.replace(f"<p>DIAGRAM{nonce}N{number}</p>", figure)
    words = len(re.findall(r"\w+", source))
    toc = getattr(md, "toc", "") if getattr(md, "toc_tokens", None) else ""  # the toc extension's
    return RenderedLesson(
        body_html=body,
        toc_html=sanitise(toc),
        reading_minutes=max(1, math.ceil(words / WORDS_PER_MINUTE)),
    )


# Knowledge-check prompts, choices and explanations: one run of inline Markdown (code spans,
# emphasis, links), shown inside a legend, a label or a paragraph. Raw HTML in the source is
# shown as text, not read as markup, and the result is cleaned again to inline tags only.
_INLINE_TAGS = {"a", "br", "code", "del", "em", "kbd", "strong", "sub", "sup"}
_PARAGRAPH_BREAK = re.compile(r"</p>\s*<p>")


@functools.lru_cache(maxsize=2048)
def render_inline(source: str) -> str:
    md = markdown.Markdown(output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    html = _PARAGRAPH_BREAK.sub("<br>", md.convert(source))
    return nh3.clean(
        html,
        tags=_INLINE_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()


# --- Diagrams ------------------------------------------------------------------------------------
#
# A lesson shows a diagram with a Markdown image on a line of its own:
#
#     ![What the diagram shows, for screen readers](diagrams/reconciliation-loop.svg "Caption")
#
# The diagram is an SVG written by hand in lessons/diagrams/<name>.svg whose words are
# placeholders, `{{ key }}`, and <name>.yaml holds each key's text in every language. The
# content read checks both files against an allow-list (no script, no event handlers, no links,
# no styles: shapes, text and classes only) and gives the lesson's Markdown its diagrams in its
# language, already serialised from the allow-list; render_lesson puts each one inline in a
# <figure>. Colours come from classes styled in static/css/lesson-diagrams.css, so the site's
# custom properties (and the dark theme) apply.

DIAGRAM_REFERENCE = re.compile(
    r'^!\[(?P<alt>[^\]\n]*)\]\(diagrams/(?P<name>[^)\s"]*)(?:\s+"(?P<caption>[^"\n]*)")?\)\s*$',
    re.M,
)
DIAGRAM_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.svg$")
DIAGRAM_MAX_BYTES = 64 * 1024
_SVG_NS = "{http://www.w3.org/2000/svg}"
_PLACEHOLDER = re.compile(r"^\{\{\s*([a-z0-9]+(?:-[a-z0-9]+)*)\s*\}\}$")
_LETTER = re.compile(r"[^\W\d_]")
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?"
_NUMBERS = re.compile(rf"^\s*{_NUMBER}(?:[\s,]+{_NUMBER})*\s*$")
_PATH_DATA = re.compile(r"^[MmLlHhVvCcSsQqTtAaZz0-9eE.,+\-\s]+$")
_TRANSFORM = re.compile(
    rf"^(?:\s*(?:translate|rotate|scale)\(\s*{_NUMBER}(?:[\s,]+{_NUMBER})*\s*\))+\s*$"
)
_CLASS = re.compile(r"^[a-z][a-z0-9-]*(?:\s+[a-z][a-z0-9-]*)*$")
_LOCAL_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_MARKER_URL = re.compile(r"^url\(#([a-z][a-z0-9-]*)\)$")

# Element -> the attributes it may carry, each with a check of its value.
_GEOMETRY = {"x", "y", "width", "height", "rx", "ry", "transform"}
_SHAPE = {
    "class",
    "id",
    "transform",
    "fill",
    "stroke",
    "stroke-dasharray",
    "marker-start",
    "marker-mid",
    "marker-end",
    "pathLength",
}
_SVG_ELEMENTS: dict[str, set[str]] = {
    "svg": {"viewBox", "class"},
    "defs": set(),
    "marker": {
        "id",
        "viewBox",
        "markerWidth",
        "markerHeight",
        "refX",
        "refY",
        "orient",
        "markerUnits",
        "class",
    },
    "g": {"class", "id", "transform"},
    "rect": _SHAPE | _GEOMETRY,
    "circle": _SHAPE | {"cx", "cy", "r"},
    "ellipse": _SHAPE | {"cx", "cy", "rx", "ry"},
    "line": _SHAPE | {"x1", "y1", "x2", "y2"},
    "polyline": _SHAPE | {"points"},
    "polygon": _SHAPE | {"points"},
    "path": _SHAPE | {"d"},
    "text": {"class", "id", "x", "y", "dx", "dy", "text-anchor", "dominant-baseline", "transform"},
    "tspan": {"class", "x", "y", "dx", "dy", "text-anchor", "dominant-baseline"},
}
_KEYWORDS = {
    "text-anchor": {"start", "middle", "end"},
    "dominant-baseline": {"auto", "middle", "central", "hanging", "alphabetic"},
    "orient": {"auto", "auto-start-reverse"},
    "markerUnits": {"strokeWidth", "userSpaceOnUse"},
    # Colours come from classes (and so from the theme); only these two values are not colours.
    "fill": {"none", "currentColor"},
    "stroke": {"none", "currentColor"},
}
LINE_HEIGHT_EM = 1.2


class DiagramError(ValueError):
    """A diagram that breaks the rules; the message says what and where, for authors."""


@dataclass(frozen=True)
class DiagramSource:
    """One diagram as read from disk: the checked SVG tree and its texts per language."""

    name: str
    root: ET.Element
    keys: frozenset[str]
    texts: dict[str, dict[str, str]]  # language -> key -> text

    def render(self, language: str, *, label: str) -> str:
        """The SVG in ``language`` as one image named ``label``, serialised from the
        allow-list (so safe to put inline)."""
        return _serialise(self.root, self.name, self.texts[language], label)


def _check_value(tag: str, attribute: str, value: str) -> None:
    def refuse(why: str) -> None:
        raise DiagramError(f"<{tag}> {attribute}={value!r}: {why}")

    if attribute in _KEYWORDS:
        if value not in _KEYWORDS[attribute]:
            refuse(f"must be one of {sorted(_KEYWORDS[attribute])} (colours come from classes)")
    elif attribute == "class":
        if not _CLASS.match(value):
            refuse("class names are lowercase words")
    elif attribute == "id":
        if not _LOCAL_ID.match(value):
            refuse("an id is a lowercase word")
    elif attribute == "d":
        if not _PATH_DATA.match(value):
            refuse("not path data")
    elif attribute == "transform":
        if not _TRANSFORM.match(value):
            refuse("only translate(), rotate() and scale()")
    elif attribute.startswith("marker-"):
        if not _MARKER_URL.match(value):
            refuse("must be url(#an-id-in-this-diagram)")
    elif not _NUMBERS.match(value):
        refuse("must be a number or a list of numbers")


def _check_element(element, ids: set[str], references: set[str]) -> None:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(_SVG_NS):
        raise DiagramError(f"element {tag!r} is not SVG")
    local = tag[len(_SVG_NS) :]
    if local not in _SVG_ELEMENTS:
        raise DiagramError(
            f"<{local}> is not allowed in a diagram (allowed: {', '.join(sorted(_SVG_ELEMENTS))})"
        )
    for attribute, value in element.attrib.items():
        if attribute.lower().startswith("on"):
            raise DiagramError(
                f"<{local}> has an event handler ({attribute}); diagrams run no code"
            )
        if "href" in attribute:
            raise DiagramError(f"<{local}> has a link ({attribute}); diagrams link to nothing")
        if attribute == "style":
            raise DiagramError(f"<{local}> has a style attribute; style with classes instead")
        if attribute not in _SVG_ELEMENTS[local]:
            raise DiagramError(f"<{local}> may not have the attribute {attribute!r}")
        _check_value(local, attribute, value)
        if attribute == "id":
            if value in ids:
                raise DiagramError(f"id {value!r} is used twice")
            ids.add(value)
        match = _MARKER_URL.match(value)
        if match:
            references.add(match.group(1))
    if local in ("text", "tspan"):
        return  # their content is checked by _text_keys
    for text in (element.text, *(child.tail for child in element)):
        if text and text.strip():
            raise DiagramError(f"<{local}> holds text {text.strip()!r}; words go in <text>")
    for child in element:
        _check_element(child, ids, references)


def _text_keys(element, keys: set[str]) -> None:
    """Words in <text> are placeholders; literal text may hold numbers and signs, no letters."""
    local = element.tag[len(_SVG_NS) :]
    if local in ("text", "tspan"):
        pieces = [element.text, *(child.tail for child in element)]
        for piece in pieces:
            if not piece or not piece.strip():
                continue
            match = _PLACEHOLDER.match(piece.strip())
            if match:
                if len(element) or [p for p in pieces if p and p.strip()] != [piece]:
                    raise DiagramError(
                        f"placeholder {piece.strip()} must be the only content of its <{local}>"
                    )
                keys.add(match.group(1))
            elif "{{" in piece or "}}" in piece:
                raise DiagramError(f"{piece.strip()!r} is not a placeholder like {{{{ key }}}}")
            elif _LETTER.search(piece):
                raise DiagramError(
                    f"<{local}> holds the words {piece.strip()!r}: put words in the diagram's "
                    f"YAML and write {{{{ key }}}} here, so that every language has them"
                )
    for child in element:
        _text_keys(child, keys)


def diagram_parse(svg: bytes) -> tuple[ET.Element, frozenset[str]]:
    """Checks an SVG diagram against the allow-list; returns its tree and placeholder keys.
    Raises DiagramError saying what is wrong."""
    if len(svg) > DIAGRAM_MAX_BYTES:
        raise DiagramError(f"is {len(svg)} bytes; a diagram may have {DIAGRAM_MAX_BYTES}")
    lowered = svg.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise DiagramError("has a DOCTYPE or entities; write plain SVG")
    if b"<?xml-stylesheet" in lowered:
        raise DiagramError("links a stylesheet; style with classes instead")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as error:
        raise DiagramError(f"is not well-formed XML: {error}") from None
    if root.tag != f"{_SVG_NS}svg":
        raise DiagramError('must be one <svg xmlns="http://www.w3.org/2000/svg"> element')
    if "viewBox" not in root.attrib:
        raise DiagramError("<svg> needs a viewBox (its size comes from the page)")
    ids: set[str] = set()
    references: set[str] = set()
    _check_element(root, ids, references)
    missing = sorted(references - ids)
    if missing:
        raise DiagramError(f"refers to #{', #'.join(missing)}, which it does not define")
    keys: set[str] = set()
    _text_keys(root, keys)
    return root, frozenset(keys)


def diagram_read(svg_path, *, languages) -> DiagramSource:
    """Reads ``<name>.svg`` and its texts ``<name>.yaml`` (each key: one text per language).
    Raises DiagramError naming the file and what is wrong."""
    import yaml

    name = svg_path.name.removesuffix(".svg")
    texts_path = svg_path.with_suffix(".yaml")
    try:
        root, keys = diagram_parse(svg_path.read_bytes())
    except DiagramError as error:
        raise DiagramError(f"{svg_path.name} {error}") from None
    if not texts_path.exists():
        raise DiagramError(f"{svg_path.name} has no texts: {texts_path.name} does not exist")
    try:
        data = yaml.safe_load(texts_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DiagramError(f"{texts_path.name} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise DiagramError(f"{texts_path.name} must map each key to its texts (en:, es:)")
    problems = []
    unknown = sorted(set(data) - keys)
    if unknown:
        problems.append(f"keys not used in {svg_path.name}: {', '.join(map(str, unknown))}")
    texts: dict[str, dict[str, str]] = {language: {} for language in languages}
    for key in sorted(keys):
        value = data.get(key)
        if not isinstance(value, dict):
            problems.append(f"{key!r} is missing (it needs a text per language)")
            continue
        extra = sorted(set(value) - set(languages))
        if extra:
            problems.append(f"{key!r} has unknown language(s) {extra}")
        for language in languages:
            text = value.get(language)
            if not isinstance(text, str | int | float) or not str(text).strip():
                problems.append(f"{key!r} has no {language} text")
                continue
            texts[language][key] = str(text).strip()
    if problems:
        raise DiagramError(f"{texts_path.name}: {'; '.join(problems)}")
    return DiagramSource(name, root, keys, texts)


def _serialise(root, name: str, texts: dict[str, str], label: str) -> str:
    """Writes the checked tree back out, from the allow-list only: every attribute value and
    text escaped, ids made unique on the page by the diagram's name."""
    from html import escape

    def local_id(value: str) -> str:
        return f"diagram-{name}-{value}"

    def attributes(element) -> str:
        out = []
        for attribute, value in element.attrib.items():
            if attribute == "id":
                value = local_id(value)
            elif attribute.startswith("marker-") and (marker := _MARKER_URL.match(value)):
                value = f"url(#{local_id(marker.group(1))})"
            out.append(f' {attribute}="{escape(value)}"')
        return "".join(out)

    def text_of(piece: str | None, element) -> str:
        if not piece or not piece.strip():
            return ""
        match = _PLACEHOLDER.match(piece.strip())
        if not match:
            return escape(piece.strip())
        lines = texts[match.group(1)].splitlines() or [""]
        if len(lines) == 1:
            return escape(lines[0])
        # Several lines are centred on the element's y: the first moves up by half the block.
        x = escape(element.attrib.get("x", "0"))
        first = -(len(lines) - 1) * LINE_HEIGHT_EM / 2
        return "".join(
            f'<tspan x="{x}" dy="{first if i == 0 else LINE_HEIGHT_EM:g}em">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )

    def write(element) -> str:
        local = element.tag[len(_SVG_NS) :]
        inner = text_of(element.text, element) if local in ("text", "tspan") else ""
        for child in element:
            inner += write(child)
            if local in ("text", "tspan"):
                inner += text_of(child.tail, element)
        if local == "svg":
            return (
                f'<svg xmlns="http://www.w3.org/2000/svg"{attributes(element)} role="img"'
                f' aria-label="{escape(label)}">{inner}</svg>'
            )
        return f"<{local}{attributes(element)}>{inner}</{local}>"

    return write(root)


def diagram_figure(*, name: str, svg: str, caption: str) -> str:
    """The figure a lesson shows: the SVG (an image named by the alt text) and its caption."""
    from html import escape

    return (
        f'<figure class="lesson-diagram" id="diagram-{escape(name)}">{svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


_FENCE = re.compile(r"^\s*(```|~~~)")


def _prose_lines(source: str) -> Iterable[tuple[int, str]]:
    """(number from 1, line without its newline) for each line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(source.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and match and match.group(1) == fence:
            fence = None
        elif fence is None:
            yield number, line


def _map_prose_lines(source: str, change: Callable[[str], str]) -> str:
    """``source`` with ``change`` applied to each line outside fenced code blocks."""
    lines = source.splitlines()
    for number, line in _prose_lines(source):
        lines[number - 1] = change(line)
    return "\n".join(lines) + "\n"


class LessonMarkdown(str):
    """A lesson's Markdown with the figures of the diagrams it references, in its language,
    checked and rendered at content read; render_lesson puts them in."""

    diagrams: dict[str, str]

    def __new__(cls, text: str, diagrams: dict[str, str]):
        value = super().__new__(cls, text)
        value.diagrams = diagrams
        return value


def lesson_diagrams(
    markdown_text: str, *, folder, language: str, languages: Iterable[str], sources: dict
) -> tuple[LessonMarkdown, set, list[tuple[int, str]]]:
    """Finds the diagram references of a lesson in one language and prepares their figures.

    ``folder`` holds the diagrams (``lessons/diagrams``); ``sources`` caches the diagrams read
    so far (name -> DiagramSource or DiagramError). Returns the Markdown with its figures, the
    diagram files it uses (for the content hash) and problems as (line in the Markdown, text).
    """
    figures: dict[str, str] = {}
    used: set = set()
    problems: list[tuple[int, str]] = []

    def check(number: int, line: str) -> None:
        match = DIAGRAM_REFERENCE.match(line)
        if match is None:
            if "](diagrams/" in line:
                problems.append(
                    (
                        number,
                        "a diagram goes on a line of its own: ![alt text](diagrams/NAME.svg "
                        '"Caption")',
                    )
                )
            return
        file_name = match["name"]
        if not DIAGRAM_NAME.match(file_name):
            problems.append(
                (
                    number,
                    f"diagrams/{file_name}: a diagram is diagrams/NAME.svg "
                    "(lowercase letters, digits, hyphens)",
                )
            )
            return
        name = file_name.removesuffix(".svg")
        if not match["alt"].strip():
            problems.append((number, f"diagram {file_name} has no alt text: say what it shows"))
        if not (match["caption"] or "").strip():
            problems.append(
                (
                    number,
                    f'diagram {file_name} has no caption: ![alt](diagrams/{file_name} "Caption")',
                )
            )
        if name in figures:
            problems.append((number, f"diagram {file_name} is shown twice"))
        svg_path = folder / file_name
        if not svg_path.is_file():
            problems.append((number, f"diagram {file_name} does not exist in {folder.name}/"))
            return
        used.update({svg_path, svg_path.with_suffix(".yaml")})
        if name not in sources:
            try:
                sources[name] = diagram_read(svg_path, languages=tuple(languages))
            except DiagramError as error:
                sources[name] = error
        source = sources[name]
        if isinstance(source, DiagramError):
            problems.append((number, f"diagrams/{source}"))
            return
        svg = source.render(language, label=match["alt"].strip())
        figures[name] = diagram_figure(name=name, svg=svg, caption=(match["caption"] or "").strip())

    for number, line in _prose_lines(markdown_text):
        check(number, line)
    return LessonMarkdown(markdown_text, figures), used, problems
