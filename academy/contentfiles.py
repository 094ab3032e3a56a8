"""Reading content files: line-aware YAML, bilingual texts, Markdown with front matter.

Shared by every kind of content (courses, labs). A ``Reader`` collects every problem of a tree
with its file and line instead of stopping at the first, so an author sees them all at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "es")
SOURCE_LANGUAGE = "en"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    message: str

    def render(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root.parent)
        except ValueError:
            shown = self.path
        where = f"{shown}:{self.line}" if self.line else str(shown)
        return f"{where}: {self.message}"


class ContentError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s) in content")
        self.problems = problems


class Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Mapping:
    loader.flatten_mapping(node)
    mapping = Mapping()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Text:
    """One text in every language; a language with no text is absent."""

    values: dict[str, str]

    def get(self, language: str) -> str:
        return self.values.get(language, "")


@dataclass
class MarkdownDoc:
    """A Markdown file in one language, as read from disk."""

    slug: str
    title: str
    summary: str
    body_markdown: str


class Reader:
    """Collects every problem of a content tree instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.missing: list[Problem] = []

    def problem(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(path, line, message))

    def load_yaml(self, path: Path, *, text: str | None = None):
        try:
            source = path.read_text(encoding="utf-8") if text is None else text
            return yaml.load(source, Loader=_LineLoader)
        except UnicodeDecodeError:
            self.problem(path, None, "is not valid UTF-8")
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else None
            self.problem(path, line, f"invalid YAML: {error.problem or error.context}")
        except yaml.YAMLError as error:
            self.problem(path, None, f"invalid YAML: {error}")
        return None

    def mapping(self, value, path: Path, line: int | None, what: str) -> Mapping | None:
        if not isinstance(value, Mapping):
            self.problem(path, line, f"{what} must be a mapping")
            return None
        return value

    def field(self, mapping: Mapping, key: str, path: Path, what: str):
        if key not in mapping or mapping[key] in (None, ""):
            self.problem(path, mapping.line, f"{what}: '{key}' is missing")
            return None
        return mapping[key]

    def line_of(self, mapping: Mapping, key: str) -> int:
        return mapping.key_lines.get(key, mapping.line)

    def text(self, mapping: Mapping, key: str, path: Path, what: str) -> Text | None:
        value = self.field(mapping, key, path, what)
        if value is None:
            return None
        line = self.line_of(mapping, key)
        if not isinstance(value, Mapping):
            self.problem(path, line, f"{what}: '{key}' needs a text per language (en, es)")
            return None
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            self.problem(path, line, f"{what}: '{key}' has unknown language(s) {unknown}")
        values = {}
        for language in LANGUAGES:
            text = value.get(language)
            if text is None or (isinstance(text, str) and not text.strip()):
                if language == SOURCE_LANGUAGE:
                    self.problem(path, line, f"{what}: '{key}' has no English text")
                else:
                    self.missing.append(Problem(path, line, f"{what}: '{key}' has no {language}"))
                continue
            if not isinstance(text, str | int | float):
                self.problem(path, line, f"{what}: '{key}.{language}' must be text")
                continue
            values[language] = str(text).strip()
        return Text(values)

    def slug(self, value, path: Path, line: int | None, what: str) -> str | None:
        if not isinstance(value, str) or not SLUG_RE.match(value):
            self.problem(
                path, line, f"{what}: {value!r} is not a slug (lowercase letters, digits, hyphens)"
            )
            return None
        return value


@dataclass
class ItemHeader:
    """What every content item's YAML starts with: identity, URL slugs, title, summary, order."""

    path: Path
    data: Mapping
    key: str | None
    slug: Text | None
    title: Text | None
    summary: Text | None
    order: int

    @property
    def complete(self) -> bool:
        return None not in (self.key, self.slug, self.title, self.summary)

    def identity(self) -> tuple[str, Text, Text, Text]:
        """Key, slug, title and summary of a complete header."""
        if self.key is None or self.slug is None or self.title is None or self.summary is None:
            raise ValueError(f"{self.path}: incomplete header (check `complete` first)")
        return self.key, self.slug, self.title, self.summary


def read_item_header(reader: Reader, folder: Path, filename: str, what: str) -> ItemHeader | None:
    """Reads ``folder/filename``; the folder's name is the item's key."""
    path = folder / filename
    if not path.exists():
        reader.problem(folder, None, f"{what} folder has no {filename}")
        return None
    data = reader.load_yaml(path)
    data = reader.mapping(data, path, 1, filename) if data is not None else None
    if data is None:
        return None
    key = reader.slug(folder.name, folder, None, f"{what} folder name")
    slug = reader.text(data, "slug", path, what)
    if slug is not None:
        for value in slug.values.values():
            reader.slug(value, path, reader.line_of(data, "slug"), f"{what} slug")
    order = data.get("order", 0)
    if not isinstance(order, int):
        reader.problem(path, reader.line_of(data, "order"), f"{what}: 'order' must be a number")
        order = 0
    return ItemHeader(
        path=path,
        data=data,
        key=key,
        slug=slug,
        title=reader.text(data, "title", path, what),
        summary=reader.text(data, "summary", path, what),
        order=order,
    )


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Returns (front matter, body, line where the body starts) or None."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return None


def read_markdown(reader: Reader, path: Path, *, need_slug: bool = True) -> MarkdownDoc | None:
    """A Markdown file with YAML front matter (title, summary and, for pages with URLs, slug)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        reader.problem(path, None, "is not valid UTF-8")
        return None
    parts = split_front_matter(text)
    if parts is None:
        reader.problem(path, 1, "must start with front matter between '---' lines")
        return None
    front_text, body, _body_line = parts
    known = len(reader.problems)
    # A leading newline keeps the YAML's line numbers equal to the file's.
    front = reader.load_yaml(path, text="\n" + front_text)
    if front is None:
        if len(reader.problems) == known:  # no YAML error was reported: it is just empty
            reader.problem(path, 1, "front matter is empty")
        return None
    front = reader.mapping(front, path, 2, "front matter")
    if front is None:
        return None
    slug = reader.field(front, "slug", path, "front matter") if need_slug else ""
    title = reader.field(front, "title", path, "front matter")
    if slug:
        slug = reader.slug(slug, path, reader.line_of(front, "slug"), "front matter slug")
    if not body.strip():
        reader.problem(path, None, "has no text after its front matter")
    if slug is None or title is None or not body.strip():
        return None
    return MarkdownDoc(
        slug=slug,
        title=str(title).strip(),
        summary=str(front.get("summary") or "").strip(),
        body_markdown=body,
    )


def hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
