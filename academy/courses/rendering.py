"""Lesson Markdown to safe HTML.

Rendering happens at sync time, once per content version. The output is sanitised with nh3
(an allow-list HTML cleaner), so content can carry no script, event handler or javascript: URL,
whatever its Markdown or raw HTML says.
"""

import functools
import math
import re
from dataclasses import dataclass

import markdown
import nh3
from markdown.extensions.toc import slugify_unicode

# Bump when the rendering changes, so that the next sync renders every lesson again.
RENDERER_VERSION = "1"
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


@dataclass(frozen=True)
class RenderedLesson:
    body_html: str
    toc_html: str
    reading_minutes: int


def render_lesson(source: str) -> RenderedLesson:
    md = markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "toc", "sane_lists", "attr_list"],
        extension_configs={
            "codehilite": {"css_class": "highlight", "guess_lang": False},
            "toc": {
                "toc_depth": "2-3",
                "slugify": slugify_unicode,
                "permalink": "#",
                "permalink_title": "",
            },
        },
        output_format="html",
    )
    body = md.convert(source)
    words = len(re.findall(r"\w+", source))
    toc = md.toc if getattr(md, "toc_tokens", None) else ""
    return RenderedLesson(
        body_html=sanitise(body),
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
