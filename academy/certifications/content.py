"""Reading and validating certifications from content/certifications/<key>/ (see
content/README.md, "A certification").

Uses the same reader as courses and labs, so every problem is reported with its file and line
and the sync applies nothing. The result is plain data (``CertificationSpec``) that
``services.certifications_apply`` writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from academy.contentfiles import LANGUAGES, Mapping, Reader, Text, hash_files, read_item_header

KINDS = ("single", "multiple", "scenario")
ONE_CORRECT = ("single", "scenario")  # kinds with exactly one correct option
OPTIONS_MIN, OPTIONS_MAX = 3, 6
POOL_FACTOR = 3  # the pool holds at least 3 items per question drawn, overall and per domain
# The answer key must not be guessable from the options' form (single and scenario items):
LONGEST_CORRECT_MAX = 0.40  # the correct option is the strictly longest in at most 40 %
POSITION_SLACK = 0.15  # no position holds more than 1/n + 15 points of the keys

CERTIFICATION_FIELDS = {
    "order",
    "slug",
    "title",
    "summary",
    "questions",
    "minutes",
    "pass_mark",
    "cooldown_hours",
    "attempts",
    "validity_months",
    "prerequisites",
    "domains",
}
ITEM_FIELDS = {"key", "kind", "lesson", "scenario", "prompt", "options", "explanation"}
# Bounds of the blueprint numbers: (smallest, largest).
NUMBERS = {
    "questions": (1, 200),
    "minutes": (1, 600),
    "pass_mark": (1, 100),
    "cooldown_hours": (0, 24 * 365),
    "validity_months": (1, 120),
}
ATTEMPT_NUMBERS = {"count": (1, 100), "days": (1, 3650)}


@dataclass
class OptionSpec:
    key: str
    text: Text
    is_correct: bool


@dataclass
class ItemSpec:
    key: str
    domain: str
    kind: str
    lesson_ref: str
    scenario: Text | None
    prompt: Text
    explanation: Text
    options: list[OptionSpec]
    path: Path
    line: int

    @property
    def content_hash(self) -> str:
        data = {
            "kind": self.kind,
            "lesson": self.lesson_ref,
            "scenario": self.scenario.values if self.scenario else None,
            "prompt": self.prompt.values,
            "explanation": self.explanation.values,
            "options": [[o.key, o.is_correct, o.text.values] for o in self.options],
        }
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()


@dataclass
class DomainSpec:
    key: str
    weight: int
    title: Text
    line: int


@dataclass
class TaskSpec:
    """A practical task: the exam-only lab the labs' reader read from tasks/<task>/, and the
    domain its points count in."""

    lab_key: str
    domain: str


@dataclass
class CertificationSpec:
    key: str
    path: Path
    order: int
    slug: Text
    title: Text
    summary: Text
    questions: int
    minutes: int
    pass_mark: int
    cooldown_hours: int
    attempts_count: int
    attempts_days: int
    validity_months: int
    prerequisites: dict[str, Any]
    domains: list[DomainSpec]
    items: list[ItemSpec] = field(default_factory=list)
    content_hash: str = ""
    tasks: list[TaskSpec] = field(default_factory=list)


def domain_shares(questions: int, weights: list[int]) -> list[int]:
    """Each domain's number of questions in one attempt, by the largest remainder method.

    Each domain first gets the whole part of ``questions * weight / 100``; the questions left
    over go one each to the domains with the largest fractional parts, ties to the domain
    listed first. The shares add up to ``questions`` when the weights add up to 100.
    """
    quotas = [questions * weight for weight in weights]  # in hundredths of a question
    shares = [quota // 100 for quota in quotas]
    left = questions - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] % 100), i))
    for index in by_remainder[: max(left, 0)]:
        shares[index] += 1
    return shares


def position_limit(items: int, positions: int) -> int:
    """How many of ``items`` items with ``positions`` options may have their correct option at
    one position: 1/positions + 15 percentage points of them, rounded down, but never fewer
    than an even spread allows (the rounded-up ``items / positions``), so a small group is held
    to the most even spread there is rather than to an impossible one."""
    bound = items * (100 + round(POSITION_SLACK * 100) * positions) // (100 * positions)
    even = -(-items // positions)
    return max(bound, even)


def _unknown_fields(
    reader: Reader, data: Mapping, known: Collection[str], path: Path, what: str
) -> None:
    for name in sorted(set(data) - set(known), key=str):
        reader.problem(path, reader.line_of(data, name), f"{what}: unknown field {name!r}")


def _number(
    reader: Reader, data: Mapping, key: str, bounds: tuple[int, int], path: Path, what: str
) -> int | None:
    value = reader.field(data, key, path, what)
    if value is None:
        return None
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        reader.problem(
            path, reader.line_of(data, key), f"{what}: '{key}' must be a whole number {low}-{high}"
        )
        return None
    return value


def _read(numbers: dict[str, int | None], name: str) -> int:
    """A number read without a problem (a missing or wrong one made the reader note one)."""
    value = numbers.get(name)
    if value is None:
        raise ValueError(f"{name} was not read")
    return value


def _read_domains(reader: Reader, path: Path, data: Mapping) -> list[DomainSpec]:
    raw_domains = reader.field(data, "domains", path, "certification")
    if raw_domains is None:
        return []
    line = reader.line_of(data, "domains")
    if not isinstance(raw_domains, list):
        reader.problem(path, line, "certification: 'domains' must be a list")
        return []
    domains = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_domains, start=1):
        what = f"domain {number}"
        raw = reader.mapping(raw, path, line, what)
        if raw is None:
            continue
        _unknown_fields(reader, raw, {"key", "weight", "title"}, path, what)
        key = reader.field(raw, "key", path, what)
        if key is not None:
            key = reader.slug(key, path, reader.line_of(raw, "key"), f"{what} key")
            if key is not None and key in seen:
                reader.problem(path, reader.line_of(raw, "key"), f"{what}: key {key!r} repeats")
            seen.add(key)
        weight = _number(reader, raw, "weight", (1, 100), path, what)
        title = reader.text(raw, "title", path, what)
        if key is not None and weight is not None and title is not None:
            domains.append(DomainSpec(key, weight, title, raw.line))
    if domains and len(domains) == len(raw_domains):
        total = sum(domain.weight for domain in domains)
        if total != 100:
            reader.problem(
                path, line, f"certification: the domains' weights add up to {total}, not 100"
            )
    return domains


def _read_prerequisites(
    reader: Reader, path: Path, data: Mapping, course_keys: set[str]
) -> dict[str, Any]:
    raw = data.get("prerequisites")
    if raw is None:
        return {"courses": []}
    line = reader.line_of(data, "prerequisites")
    raw = reader.mapping(raw, path, line, "certification: 'prerequisites'")
    if raw is None:
        return {"courses": []}
    _unknown_fields(reader, raw, {"courses"}, path, "prerequisites")
    courses = raw.get("courses") or []
    courses_line = reader.line_of(raw, "courses")
    if not isinstance(courses, list) or not all(isinstance(c, str) for c in courses):
        reader.problem(path, courses_line, "prerequisites: 'courses' must be a list of course keys")
        return {"courses": []}
    for course in courses:
        if course not in course_keys:
            reader.problem(path, courses_line, f"prerequisites: no course has the key {course!r}")
    if len(set(courses)) != len(courses):
        reader.problem(path, courses_line, "prerequisites: a course is listed twice")
    return {"courses": list(courses)}


def _read_options(reader: Reader, path: Path, raw_item: Mapping, what: str) -> list[OptionSpec]:
    raw_options = reader.field(raw_item, "options", path, what)
    if raw_options is None:
        return []
    line = reader.line_of(raw_item, "options")
    if not isinstance(raw_options, list) or not OPTIONS_MIN <= len(raw_options) <= OPTIONS_MAX:
        reader.problem(
            path, line, f"{what}: 'options' must be a list of {OPTIONS_MIN} to {OPTIONS_MAX}"
        )
        return []
    options = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_options, start=1):
        option_what = f"{what}, option {number}"
        raw = reader.mapping(raw, path, line, option_what)
        if raw is None:
            continue
        _unknown_fields(reader, raw, {"key", "correct", "text"}, path, option_what)
        key = reader.field(raw, "key", path, option_what)
        if key is not None:
            key = reader.slug(str(key), path, reader.line_of(raw, "key"), f"{option_what} key")
            if key is not None and key in seen:
                reader.problem(
                    path, reader.line_of(raw, "key"), f"{option_what}: key {key!r} repeats"
                )
            seen.add(key)
        correct = raw.get("correct", False)
        if not isinstance(correct, bool):
            reader.problem(
                path,
                reader.line_of(raw, "correct"),
                f"{option_what}: 'correct' must be true or false",
            )
        text = reader.text(raw, "text", path, option_what)
        if key is not None and text is not None:
            options.append(OptionSpec(key, text, correct is True))
    return options if len(options) == len(raw_options) else []


def _check_correct_count(
    reader: Reader, path: Path, line: int, what: str, kind: object, options: list[OptionSpec]
) -> None:
    if not options or kind not in KINDS:
        return
    correct = sum(option.is_correct for option in options)
    if kind in ONE_CORRECT and correct != 1:
        reader.problem(path, line, f"{what}: a {kind} item needs exactly one correct option")
    if kind == "multiple" and not (2 <= correct < len(options)):
        reader.problem(
            path,
            line,
            f"{what}: a multiple item needs at least two correct options and one wrong one",
        )


def _read_items(
    reader: Reader, path: Path, domain: str, lesson_keys: set[str], seen: dict[str, Path]
) -> list[ItemSpec]:
    known = len(reader.problems)
    data = reader.load_yaml(path)
    if data is None:
        if len(reader.problems) == known:  # no YAML error was reported: it is just empty
            reader.problem(path, 1, "items: the file is empty")
        return []
    if not isinstance(data, list):
        reader.problem(path, 1, "items: the file must be a list of items")
        return []
    items = []
    for number, raw in enumerate(data, start=1):
        what = f"item {number}"
        raw = reader.mapping(raw, path, 1, what)
        if raw is None:
            continue
        _unknown_fields(reader, raw, ITEM_FIELDS, path, what)
        key = reader.field(raw, "key", path, what)
        if key is not None:
            key = reader.slug(key, path, reader.line_of(raw, "key"), f"{what} key")
        if key is not None:
            what = f"item {key!r}"
            if key in seen:
                reader.problem(
                    path,
                    reader.line_of(raw, "key"),
                    f"{what}: the key is already used in {seen[key].name}",
                )
            seen.setdefault(key, path)
        kind = reader.field(raw, "kind", path, what)
        if kind is not None and kind not in KINDS:
            reader.problem(
                path, reader.line_of(raw, "kind"), f"{what}: 'kind' must be one of {list(KINDS)}"
            )
            kind = None
        lesson = reader.field(raw, "lesson", path, what)
        if lesson is not None and (not isinstance(lesson, str) or lesson not in lesson_keys):
            reader.problem(
                path,
                reader.line_of(raw, "lesson"),
                f"{what}: no lesson {lesson!r} (course-key/lesson-key)",
            )
            lesson = None
        scenario = None
        if kind == "scenario":
            scenario = reader.text(raw, "scenario", path, what)
        elif kind is not None and "scenario" in raw:
            reader.problem(
                path, reader.line_of(raw, "scenario"), f"{what}: only a scenario item has one"
            )
        prompt = reader.text(raw, "prompt", path, what)
        explanation = reader.text(raw, "explanation", path, what)
        options = _read_options(reader, path, raw, what)
        _check_correct_count(reader, path, reader.line_of(raw, "options"), what, kind, options)
        if (
            key is not None
            and kind is not None
            and lesson is not None
            and prompt is not None
            and explanation is not None
            and options
            and (kind != "scenario" or scenario is not None)
        ):
            items.append(
                ItemSpec(
                    key,
                    domain,
                    kind,
                    lesson,
                    scenario,
                    prompt,
                    explanation,
                    options,
                    path,
                    raw.line,
                )
            )
    return items


def _check_pool(reader: Reader, spec: CertificationSpec, items_dir: Path) -> None:
    """Enough items to draw from: overall and per domain, ``POOL_FACTOR`` times the draw."""
    path = spec.path / "certification.yaml"
    if len(spec.items) < POOL_FACTOR * spec.questions:
        reader.problem(
            path,
            1,
            f"certification: the pool holds {len(spec.items)} items; drawing {spec.questions} "
            f"questions needs at least {POOL_FACTOR * spec.questions}",
        )
    shares = domain_shares(spec.questions, [domain.weight for domain in spec.domains])
    for domain, share in zip(spec.domains, shares, strict=True):
        count = sum(item.domain == domain.key for item in spec.items)
        if count < POOL_FACTOR * share:
            reader.problem(
                items_dir / f"{domain.key}.yaml",
                1,
                f"domain {domain.key!r}: {count} items; its share of {share} of the "
                f"{spec.questions} questions needs at least {POOL_FACTOR * share}",
            )


def _check_key_not_predictable(reader: Reader, spec: CertificationSpec) -> None:
    """Over the single and scenario items: the correct option is not mostly the longest, and
    its position is spread over the options."""
    path = spec.path / "certification.yaml"
    one_correct = [item for item in spec.items if item.kind in ONE_CORRECT]
    if not one_correct:
        return
    longest = []
    for item in one_correct:
        lengths = [len(option.text.get("en")) for option in item.options]
        correct = next(i for i, option in enumerate(item.options) if option.is_correct)
        if all(lengths[correct] > length for i, length in enumerate(lengths) if i != correct):
            longest.append(item.key)
    if len(longest) * 100 > round(LONGEST_CORRECT_MAX * 100) * len(one_correct):
        reader.problem(
            path,
            1,
            f"certification: in {len(longest)} of {len(one_correct)} single and scenario items "
            f"the correct option is the longest in English; at most "
            f"{round(LONGEST_CORRECT_MAX * 100)} % may be: {', '.join(longest[:10])}",
        )
    by_size: dict[int, list[ItemSpec]] = {}
    for item in one_correct:
        by_size.setdefault(len(item.options), []).append(item)
    for size, group in sorted(by_size.items()):
        limit = position_limit(len(group), size)
        counts = [0] * size
        for item in group:
            counts[next(i for i, option in enumerate(item.options) if option.is_correct)] += 1
        for position, count in enumerate(counts, start=1):
            if count > limit:
                reader.problem(
                    path,
                    1,
                    f"certification: among the {len(group)} single and scenario items with "
                    f"{size} options, option {position} is the correct one in {count}; at most "
                    f"{limit} may be (1/{size} + {round(POSITION_SLACK * 100)} percentage points, "
                    f"rounded down, or an even spread if that is more)",
                )


def _read_tasks(reader: Reader, domain_keys: list[str], tasks: list[Any]) -> list[TaskSpec]:
    """The practical tasks of one certification, as the labs' reader left them in the context
    (each with ``key``, ``path``, ``domain`` and ``domain_line``): each must name a domain."""
    found = []
    for task in tasks:
        if task.domain not in domain_keys:
            if task.domain:  # an empty one was reported by the labs' reader
                reader.problem(
                    task.path / "lab.yaml",
                    task.domain_line,
                    f"task: unknown domain {task.domain!r} (the certification's domains: "
                    f"{', '.join(domain_keys)})",
                )
            continue
        found.append(TaskSpec(lab_key=task.key, domain=task.domain))
    return found


def _read_certification(
    reader: Reader,
    folder: Path,
    lesson_keys: set[str],
    course_keys: set[str],
    tasks: list[Any] | None = None,
) -> CertificationSpec | None:
    missing_known = len(reader.missing)
    header = read_item_header(reader, folder, "certification.yaml", "certification")
    if header is None:
        return None
    path, data = header.path, header.data
    known = len(reader.problems)
    header_complete = header.complete
    _unknown_fields(reader, data, CERTIFICATION_FIELDS, path, "certification")
    numbers = {
        name: _number(reader, data, name, bounds, path, "certification")
        for name, bounds in NUMBERS.items()
    }
    attempts: dict[str, int | None] = {}
    raw_attempts = reader.field(data, "attempts", path, "certification")
    if raw_attempts is not None:
        raw_attempts = reader.mapping(
            raw_attempts, path, reader.line_of(data, "attempts"), "certification: 'attempts'"
        )
    if raw_attempts is not None:
        _unknown_fields(reader, raw_attempts, set(ATTEMPT_NUMBERS), path, "attempts")
        for name, bounds in ATTEMPT_NUMBERS.items():
            attempts[name] = _number(reader, raw_attempts, name, bounds, path, "attempts")
    prerequisites = _read_prerequisites(reader, path, data, course_keys)
    domains = _read_domains(reader, path, data)

    items: list[ItemSpec] = []
    items_dir = folder / "items"
    domain_keys = [domain.key for domain in domains]
    seen: dict[str, Path] = {}
    for domain in domains:
        items_path = items_dir / f"{domain.key}.yaml"
        if not items_path.exists():
            reader.problem(
                path, domain.line, f"domain {domain.key!r} has no items/{domain.key}.yaml"
            )
            continue
        items += _read_items(reader, items_path, domain.key, lesson_keys, seen)
    if items_dir.is_dir():
        for stray in sorted(items_dir.iterdir()):
            if stray.suffix != ".yaml" or stray.stem not in domain_keys:
                reader.problem(stray, None, f"{stray.name} names no domain of certification.yaml")
    # An exam is taken in either language: a missing translation is an error here, not the
    # English fallback with a notice that lessons get.
    for missing in reader.missing[missing_known:]:
        reader.problem(
            missing.path, missing.line, f"{missing.message} (a certification needs both languages)"
        )
    del reader.missing[missing_known:]
    task_specs = _read_tasks(reader, domain_keys, tasks or [])
    if not header_complete or len(reader.problems) > known:
        return None
    key, slug, title, summary = header.identity()
    spec = CertificationSpec(
        key=key,
        path=folder,
        order=header.order,
        slug=slug,
        title=title,
        summary=summary,
        questions=_read(numbers, "questions"),
        minutes=_read(numbers, "minutes"),
        pass_mark=_read(numbers, "pass_mark"),
        cooldown_hours=_read(numbers, "cooldown_hours"),
        attempts_count=_read(attempts, "count"),
        attempts_days=_read(attempts, "days"),
        validity_months=_read(numbers, "validity_months"),
        prerequisites=prerequisites,
        domains=domains,
        items=items,
        content_hash=hash_files([path, *(items_dir / f"{domain}.yaml" for domain in domain_keys)]),
        tasks=task_specs,
    )
    # Pool checks only make sense on a certification that is otherwise whole.
    _check_pool(reader, spec, items_dir)
    _check_key_not_predictable(reader, spec)
    return spec


def certifications_read(
    reader: Reader, root: Path, context: dict[str, Any]
) -> list[CertificationSpec]:
    """Reads and validates every certification under ``root``/certifications. Needs the
    courses read first (``context["lesson_keys"]``: course-key/lesson-key) and the labs
    (``context["certification_tasks"]``: the practical tasks in tasks/, read as labs)."""
    lesson_keys = context.get("lesson_keys", set())
    tasks = context.get("certification_tasks", {})
    # Course keys come from the lessons: a prerequisite course with no lesson cannot be done.
    course_keys = {ref.split("/", 1)[0] for ref in lesson_keys}
    certifications = []
    folder = root / "certifications"
    if folder.is_dir():
        for certification_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            spec = _read_certification(
                reader,
                certification_dir,
                lesson_keys,
                course_keys,
                tasks.get(certification_dir.name, []),
            )
            if spec is not None:
                certifications.append(spec)
    for language in LANGUAGES:
        seen: dict[str, str] = {}
        for spec in certifications:
            slug = spec.slug.get(language)
            if slug and slug in seen:
                reader.problem(
                    spec.path / "certification.yaml",
                    1,
                    f"certifications '{seen[slug]}' and '{spec.key}' share the {language} slug "
                    f"'{slug}'",
                )
            seen[slug] = spec.key
    return certifications
