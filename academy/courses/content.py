"""Reading and validating course content from content/courses/.

Everything is read and checked before anything is written, so a broken file can be reported
with its path and line while the database stays as it was. The result is plain data
(``CourseSpec`` and friends) that ``services.content_sync`` applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from academy.certifications.content import LONGEST_CORRECT_MAX, POSITION_SLACK, position_limit
from academy.contentfiles import (
    LANGUAGES,
    SOURCE_LANGUAGE,
    Mapping,
    MarkdownDoc,
    Problem,
    Reader,
    Text,
    hash_files,
    read_item_header,
    read_markdown,
)
from academy.courses.rendering import lesson_diagrams

LEVELS = ("beginner", "intermediate", "advanced")
DIAGRAMS_FOLDER = "diagrams"  # lessons/diagrams/<name>.svg and <name>.yaml


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
    path: Path | None = None  # the quiz file and the question's line, for problems
    line: int = 0

    @property
    def correct_position(self) -> int:
        """The correct choice's place in the list, from 0 (as shown to the learner)."""
        return next(i for i, choice in enumerate(self.choices) if choice.is_correct)

    @property
    def correct_is_longest(self) -> bool:
        """Whether the correct choice is strictly the longest in English."""
        lengths = [len(choice.text.get("en")) for choice in self.choices]
        correct = self.correct_position
        return all(lengths[correct] > n for i, n in enumerate(lengths) if i != correct)


@dataclass
class LessonSpec:
    key: str
    versions: dict[str, MarkdownDoc]
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


def _read_quiz(reader: Reader, path: Path) -> list[QuestionSpec]:
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
        if key is not None and prompt is not None and explanation is not None and choices:
            questions.append(QuestionSpec(key, prompt, explanation, choices, path, raw.line))
    return questions


def _read_choices(reader: Reader, path: Path, question: Mapping, what: str) -> list[ChoiceSpec]:
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


def _read_course(reader: Reader, course_dir: Path) -> CourseSpec | None:
    header = read_item_header(reader, course_dir, "course.yaml", "course")
    if header is None:
        return None
    path, data = header.path, header.data
    level = data.get("level", "beginner")
    if level not in LEVELS:
        reader.problem(
            path, reader.line_of(data, "level"), f"course: 'level' must be one of {list(LEVELS)}"
        )

    modules = _read_modules(reader, path, data)
    lessons = {}
    lessons_dir = course_dir / "lessons"
    listed = [lesson_key for module in modules for lesson_key in module.lesson_keys]
    diagrams: dict = {}  # name -> DiagramSource or DiagramError, read once for all lessons
    for module in modules:
        for lesson_key in module.lesson_keys:
            lesson = _read_lesson(reader, lessons_dir, lesson_key, path, module.line, diagrams)
            if lesson is not None:
                lessons[lesson_key] = lesson
    _check_diagrams_used(reader, lessons_dir / DIAGRAMS_FOLDER, diagrams)
    if lessons_dir.is_dir():
        for stray in sorted(lessons_dir.iterdir()):
            if stray.name == DIAGRAMS_FOLDER and stray.is_dir():
                continue
            lesson_key = stray.name.split(".", 1)[0]
            if lesson_key not in listed:
                reader.problem(stray, None, f"lesson '{lesson_key}' is not listed in course.yaml")
    _check_unique_lesson_slugs(reader, path, lessons)
    _check_key_not_predictable(reader, path, lessons)
    if not header.complete:
        return None
    key, slug, title, summary = header.identity()
    return CourseSpec(
        key,
        course_dir,
        header.order,
        level,
        slug,
        title,
        summary,
        modules,
        lessons,
    )


def _read_modules(reader: Reader, path: Path, data: Mapping) -> list[ModuleSpec]:
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
    reader: Reader,
    lessons_dir: Path,
    lesson_key: str,
    course_path: Path,
    line: int,
    diagrams: dict,
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
        version = read_markdown(reader, md_path)
        if version is not None:
            paths.extend(_with_diagrams(reader, md_path, version, language, diagrams))
            versions[language] = version
    quiz_path = lessons_dir / f"{lesson_key}.quiz.yaml"
    paths.append(quiz_path)
    questions = _read_quiz(reader, quiz_path) if quiz_path.exists() else []
    if SOURCE_LANGUAGE not in versions:
        return None
    return LessonSpec(lesson_key, versions, questions, hash_files(sorted(set(paths))))


def _with_diagrams(
    reader: Reader, md_path: Path, version: MarkdownDoc, language: str, diagrams: dict
) -> list[Path]:
    """Gives the lesson's Markdown the figures of the diagrams it shows; returns their files
    (they count in the lesson's content hash) and reports each bad reference or diagram."""
    body, used, problems = lesson_diagrams(
        version.body_markdown,
        folder=md_path.parent / DIAGRAMS_FOLDER,
        language=language,
        languages=LANGUAGES,
        sources=diagrams,
    )
    if problems:
        text = md_path.read_text(encoding="utf-8")
        before_body = text.count("\n") - version.body_markdown.count("\n")
        for number, message in problems:
            reader.problem(md_path, before_body + number, message)
    version.body_markdown = body
    return sorted(used)


def _check_diagrams_used(reader: Reader, folder: Path, diagrams: dict) -> None:
    """Every file in lessons/diagrams is a diagram some lesson shows, or its texts."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        name, _, suffix = path.name.partition(".")
        if suffix not in ("svg", "yaml"):
            reader.problem(path, None, "a diagrams folder holds NAME.svg and NAME.yaml only")
        elif name not in diagrams:
            reader.problem(path, None, f"diagram '{name}' is not shown in any lesson")


def _where(question: QuestionSpec) -> str:
    name = question.path.name if question.path else "?"
    return f"{name}:{question.line} {question.key}"


def _check_key_not_predictable(reader: Reader, path: Path, lessons: dict[str, LessonSpec]) -> None:
    """Over all the course's knowledge checks, as for a certification's pool: the correct
    choice is not mostly the longest, and its position is spread over the choices. Each
    problem names the course file and the questions (quiz file and line) that tip it."""
    questions = [
        question
        for lesson in lessons.values()
        for question in lesson.questions
        if sum(choice.is_correct for choice in question.choices) == 1  # else reported already
    ]
    if not questions:
        return
    longest = [question for question in questions if question.correct_is_longest]
    percent = round(LONGEST_CORRECT_MAX * 100)
    if len(longest) * 100 > percent * len(questions):
        reader.problem(
            path,
            1,
            f"knowledge checks: in {len(longest)} of {len(questions)} questions the correct "
            f"choice is the longest in English; at most {percent} % may be: "
            f"{', '.join(_where(question) for question in longest)}",
        )
    by_size: dict[int, list[QuestionSpec]] = {}
    for question in questions:
        by_size.setdefault(len(question.choices), []).append(question)
    for size, group in sorted(by_size.items()):
        limit = position_limit(len(group), size)
        for position in range(size):
            at = [question for question in group if question.correct_position == position]
            if len(at) > limit:
                reader.problem(
                    path,
                    1,
                    f"knowledge checks: among the {len(group)} questions with {size} choices, "
                    f"choice {position + 1} is the correct one in {len(at)}; at most {limit} "
                    f"may be (1/{size} + {round(POSITION_SLACK * 100)} percentage points, "
                    f"rounded down, or an even spread if that is more): "
                    f"{', '.join(_where(question) for question in at)}",
                )


def _check_unique_lesson_slugs(reader: Reader, path: Path, lessons: dict[str, LessonSpec]) -> None:
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
            if version.slug == _reserved_lesson_slug(language):
                reader.problem(
                    path,
                    None,
                    f"lesson '{lesson.key}': the {language} slug '{version.slug}' is taken by the "
                    "course's completion page; choose another",
                )


def _reserved_lesson_slug(language: str) -> str:
    """The last part of the course completion page's path, which a lesson's would shadow."""
    from django.urls import reverse
    from django.utils import translation

    with translation.override(language):
        url = reverse("courses:course_complete", kwargs={"course_slug": "c"})
    return url.rstrip("/").rsplit("/", 1)[-1]


def courses_read(reader: Reader, root: Path, context: dict) -> list[CourseSpec]:
    """Reads and validates every course under ``root``/courses; leaves the lesson keys in
    ``context["lesson_keys"]`` for kinds that link to lessons (labs)."""
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
    context["lesson_keys"] = {f"{course.key}/{key}" for course in courses for key in course.lessons}
    return courses


def content_read(*, root: Path):
    """Every registered kind of content under ``root`` (see academy.contentsync)."""
    from academy.contentsync import content_read as read_all

    return read_all(root=root)
