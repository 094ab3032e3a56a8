"""Reading and validating course content from content/courses/.

Everything is read and checked before anything is written, so a broken file can be reported
with its path and line while the database stays as it was. The result is plain data
(``CourseSpec`` and friends) that ``services.content_sync`` applies.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LANGUAGES = ("en", "es")
SOURCE_LANGUAGE = "en"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LEVELS = ("beginner", "intermediate", "advanced")


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


class Mapping(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict


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
class ChoiceSpec:
    key: str
    text: Text
    is_correct: bool


@dataclass
class QuestionSpec:
    key: str
    prompt: Text
    explanation: Text
    choices: list[ChoiceSpec]


@dataclass
class LessonVersion:
    """A lesson in one language, as read from its Markdown file."""

    slug: str
    title: str
    summary: str
    body_markdown: str


@dataclass
class LessonSpec:
    key: str
    versions: dict[str, LessonVersion]
    questions: list[QuestionSpec]
    source_hash: str


@dataclass
class ModuleSpec:
    key: str
    title: Text
    lesson_keys: list[str]
    line: int = 0  # of its 'lessons' list, for problems with a listed lesson


@dataclass
class CourseSpec:
    key: str
    path: Path
    order: int
    level: str
    slug: Text
    title: Text
    summary: Text
    modules: list[ModuleSpec]
    lessons: dict[str, LessonSpec]


@dataclass
class ContentSet:
    courses: list[CourseSpec] = field(default_factory=list)
    # Items that lack a translation: shown by the sync, never fatal.
    missing_translations: list[Problem] = field(default_factory=list)


class _Reader:
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


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Returns (front matter, body, line where the body starts) or None."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return None


def _read_lesson_version(reader: _Reader, path: Path, language: str) -> LessonVersion | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        reader.problem(path, None, "is not valid UTF-8")
        return None
    parts = _split_front_matter(text)
    if parts is None:
        reader.problem(path, 1, "must start with front matter between '---' lines")
        return None
    front_text, body, _body_line = parts
    # A leading newline keeps the YAML's line numbers equal to the file's.
    front = reader.load_yaml(path, text="\n" + front_text)
    if front is None and not reader.problems:
        reader.problem(path, 1, "front matter is empty")
    if front is None:
        return None
    front = reader.mapping(front, path, 2, "front matter")
    if front is None:
        return None
    slug = reader.field(front, "slug", path, "front matter")
    title = reader.field(front, "title", path, "front matter")
    if slug is not None:
        slug = reader.slug(slug, path, reader.line_of(front, "slug"), "front matter slug")
    if not body.strip():
        reader.problem(path, None, "the lesson has no text after its front matter")
    if slug is None or title is None or not body.strip():
        return None
    return LessonVersion(
        slug=slug,
        title=str(title).strip(),
        summary=str(front.get("summary") or "").strip(),
        body_markdown=body,
    )


def _read_quiz(reader: _Reader, path: Path) -> list[QuestionSpec]:
    data = reader.load_yaml(path)
    data = reader.mapping(data, path, 1, "knowledge check") if data is not None else None
    if data is None:
        return []
    raw_questions = reader.field(data, "questions", path, "knowledge check")
    if raw_questions is None:
        return []
    if not isinstance(raw_questions, list) or not raw_questions:
        reader.problem(path, reader.line_of(data, "questions"), "'questions' must be a list")
        return []
    questions = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_questions, start=1):
        what = f"question {number}"
        raw = reader.mapping(raw, path, data.line, what)
        if raw is None:
            continue
        key = reader.field(raw, "key", path, what)
        if key is not None:
            key = reader.slug(key, path, reader.line_of(raw, "key"), f"{what} key")
            if key in seen:
                reader.problem(path, reader.line_of(raw, "key"), f"{what}: key {key!r} repeats")
            seen.add(key)
        prompt = reader.text(raw, "prompt", path, what)
        explanation = reader.text(raw, "explanation", path, what)
        choices = _read_choices(reader, path, raw, what)
        if None not in (key, prompt, explanation) and choices:
            questions.append(QuestionSpec(key, prompt, explanation, choices))
    return questions


def _read_choices(reader: _Reader, path: Path, question: Mapping, what: str) -> list[ChoiceSpec]:
    raw_choices = reader.field(question, "choices", path, what)
    line = reader.line_of(question, "choices")
    if raw_choices is None:
        return []
    if not isinstance(raw_choices, list) or not 2 <= len(raw_choices) <= 5:
        reader.problem(path, line, f"{what}: 'choices' must be a list of 2 to 5 choices")
        return []
    choices = []
    for number, raw in enumerate(raw_choices, start=1):
        choice_what = f"{what}, choice {number}"
        raw = reader.mapping(raw, path, line, choice_what)
        if raw is None:
            continue
        key = reader.field(raw, "key", path, choice_what)
        text = reader.text(raw, "text", path, choice_what)
        correct = raw.get("correct", False)
        if not isinstance(correct, bool):
            reader.problem(
                path,
                reader.line_of(raw, "correct"),
                f"{choice_what}: 'correct' must be true or false",
            )
        if key is not None and text is not None:
            choices.append(ChoiceSpec(str(key), text, correct is True))
    if len({choice.key for choice in choices}) != len(choices):
        reader.problem(path, line, f"{what}: choice keys repeat")
    if choices and sum(choice.is_correct for choice in choices) != 1:
        reader.problem(path, line, f"{what}: exactly one choice must be 'correct: true'")
    return choices


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_course(reader: _Reader, course_dir: Path) -> CourseSpec | None:
    path = course_dir / "course.yaml"
    if not path.exists():
        reader.problem(course_dir, None, "course folder has no course.yaml")
        return None
    data = reader.load_yaml(path)
    if data is None:
        return None
    data = reader.mapping(data, path, 1, "course.yaml")
    if data is None:
        return None
    key = reader.slug(course_dir.name, course_dir, None, "course folder name")
    slug = reader.text(data, "slug", path, "course")
    if slug is not None:
        for value in slug.values.values():
            reader.slug(value, path, reader.line_of(data, "slug"), "course slug")
    title = reader.text(data, "title", path, "course")
    summary = reader.text(data, "summary", path, "course")
    order = data.get("order", 0)
    if not isinstance(order, int):
        reader.problem(path, reader.line_of(data, "order"), "course: 'order' must be a number")
        order = 0
    level = data.get("level", "beginner")
    if level not in LEVELS:
        reader.problem(
            path, reader.line_of(data, "level"), f"course: 'level' must be one of {list(LEVELS)}"
        )

    modules = _read_modules(reader, path, data)
    lessons = {}
    lessons_dir = course_dir / "lessons"
    listed = [lesson_key for module in modules for lesson_key in module.lesson_keys]
    for module in modules:
        for lesson_key in module.lesson_keys:
            lesson = _read_lesson(reader, lessons_dir, lesson_key, path, module.line)
            if lesson is not None:
                lessons[lesson_key] = lesson
    if lessons_dir.is_dir():
        for stray in sorted(lessons_dir.iterdir()):
            lesson_key = stray.name.split(".", 1)[0]
            if lesson_key not in listed:
                reader.problem(stray, None, f"lesson '{lesson_key}' is not listed in course.yaml")
    _check_unique_lesson_slugs(reader, path, lessons)
    if None in (key, slug, title, summary):
        return None
    return CourseSpec(key, course_dir, order, level, slug, title, summary, modules, lessons)


def _read_modules(reader: _Reader, path: Path, data: Mapping) -> list[ModuleSpec]:
    raw_modules = reader.field(data, "modules", path, "course")
    if raw_modules is None:
        return []
    if not isinstance(raw_modules, list):
        reader.problem(path, reader.line_of(data, "modules"), "course: 'modules' must be a list")
        return []
    modules = []
    seen_modules: set[str] = set()
    seen_lessons: set[str] = set()
    for number, raw in enumerate(raw_modules, start=1):
        what = f"module {number}"
        raw = reader.mapping(raw, path, reader.line_of(data, "modules"), what)
        if raw is None:
            continue
        key = reader.field(raw, "key", path, what)
        if key is not None:
            key = reader.slug(key, path, reader.line_of(raw, "key"), f"{what} key")
            if key in seen_modules:
                reader.problem(path, reader.line_of(raw, "key"), f"{what}: key {key!r} repeats")
            seen_modules.add(key)
        title = reader.text(raw, "title", path, what)
        lesson_keys = reader.field(raw, "lessons", path, what) or []
        if not isinstance(lesson_keys, list):
            reader.problem(
                path, reader.line_of(raw, "lessons"), f"{what}: 'lessons' must be a list"
            )
            lesson_keys = []
        for lesson_key in lesson_keys:
            if lesson_key in seen_lessons:
                reader.problem(
                    path, reader.line_of(raw, "lessons"), f"lesson {lesson_key!r} is listed twice"
                )
            seen_lessons.add(lesson_key)
        if key is not None and title is not None:
            modules.append(
                ModuleSpec(
                    key, title, [str(k) for k in lesson_keys], reader.line_of(raw, "lessons")
                )
            )
    return modules


def _read_lesson(
    reader: _Reader, lessons_dir: Path, lesson_key: str, course_path: Path, line: int
) -> LessonSpec | None:
    if reader.slug(lesson_key, course_path, line, "lesson key") is None:
        return None
    versions = {}
    paths = []
    for language in LANGUAGES:
        md_path = lessons_dir / f"{lesson_key}.{language}.md"
        paths.append(md_path)
        if not md_path.exists():
            if language == SOURCE_LANGUAGE:
                reader.problem(
                    course_path,
                    line,
                    f"lesson '{lesson_key}' is listed but {md_path.name} does not exist",
                )
            else:
                reader.missing.append(
                    Problem(md_path, None, f"lesson '{lesson_key}' has no {language}")
                )
            continue
        version = _read_lesson_version(reader, md_path, language)
        if version is not None:
            versions[language] = version
    quiz_path = lessons_dir / f"{lesson_key}.quiz.yaml"
    paths.append(quiz_path)
    questions = _read_quiz(reader, quiz_path) if quiz_path.exists() else []
    if SOURCE_LANGUAGE not in versions:
        return None
    return LessonSpec(lesson_key, versions, questions, _hash_files(paths))


def _check_unique_lesson_slugs(reader: _Reader, path: Path, lessons: dict[str, LessonSpec]) -> None:
    for language in LANGUAGES:
        seen: dict[str, str] = {}
        for lesson in lessons.values():
            version = lesson.versions.get(language)
            if version is None:
                continue
            if version.slug in seen:
                reader.problem(
                    path,
                    None,
                    f"lessons '{seen[version.slug]}' and '{lesson.key}' share the {language} slug "
                    f"'{version.slug}'",
                )
            seen[version.slug] = lesson.key


def content_read(*, root: Path) -> ContentSet:
    """Reads and validates every course under ``root``; raises ContentError on any problem."""
    reader = _Reader()
    courses = []
    courses_dir = root / "courses"
    if courses_dir.is_dir():
        for course_dir in sorted(p for p in courses_dir.iterdir() if p.is_dir()):
            course = _read_course(reader, course_dir)
            if course is not None:
                courses.append(course)
    for language in LANGUAGES:
        seen: dict[str, str] = {}
        for course in courses:
            slug = course.slug.get(language)
            if slug and slug in seen:
                reader.problem(
                    course.path / "course.yaml",
                    None,
                    f"courses '{seen[slug]}' and '{course.key}' share the {language} slug '{slug}'",
                )
            seen[slug] = course.key
    if reader.problems:
        raise ContentError(reader.problems)
    return ContentSet(courses=courses, missing_translations=reader.missing)
