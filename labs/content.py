"""Reading and validating labs from content/labs/<key>/ (see content/README.md).

Uses the same reader as courses, so a broken lab is reported with its file and line, and the
sync applies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from academy.contentfiles import (
    LANGUAGES,
    SOURCE_LANGUAGE,
    Mapping,
    Problem,
    Reader,
    Text,
    hash_files,
    read_item_header,
    read_markdown,
)
from academy.courses.rendering import RENDERER_VERSION

if TYPE_CHECKING:
    from academy.contentsync import SyncReport

IMAGES_DIR = Path(__file__).resolve().parent / "images"
# The platform's own sidecar (labs.faults): added by the platform, never named by a lab.
FAULTS_CONTAINER = "faults"
PLATFORM_IMAGES = {"faults"}
DIFFICULTIES = ("beginner", "intermediate", "advanced")
TASK_ORDER_BASE = 10_000
CONTAINER_DEFAULTS = {"memory_mb": 256, "cpus": 0.5, "pids": 256}
LIMITS = {"memory_mb": (32, 2048), "cpus": (0.1, 2.0), "pids": (16, 4096)}
# Capabilities a lab may ask for; anything else (SYS_ADMIN, SYS_PTRACE, ...) is refused.
ALLOWED_CAPABILITIES = {
    "NET_ADMIN",
    "NET_RAW",
    "KILL",
    "CHOWN",
    "SETUID",
    "SETGID",
    "NET_BIND_SERVICE",
    "DAC_OVERRIDE",
    "FOWNER",
}


def lab_image_names() -> set[str]:
    return {
        p.name
        for p in IMAGES_DIR.iterdir()
        if (p / "Dockerfile").exists() and p.name not in PLATFORM_IMAGES
    }


@dataclass
class StepSpec:
    key: str
    titles: dict[str, str]
    bodies: dict[str, str]  # Markdown per language
    check: str
    solve: str
    check_container: str
    messages: dict[str, dict[str, str]]


@dataclass
class LabSpec:
    key: str
    path: Path
    order: int
    difficulty: str
    duration_minutes: int
    slug: Text
    title: Text
    summary: Text
    lesson_refs: list[str]
    shell: str
    containers: list[dict[str, Any]]
    setup: str
    steps: list[StepSpec] = field(default_factory=list)
    source_hash: str = ""
    warm_pool: int | None = None
    faults: bool = False
    # A certification's practical task (content/certifications/<cert>/tasks/<task>/): never
    # listed, started only from an exam attempt. The certifications reader checks its domain.
    exam_only: bool = False
    domain: str = ""
    domain_line: int | None = None


def _read_containers(reader: Reader, path: Path, data: Mapping) -> list[dict[str, Any]]:
    raw = reader.field(data, "containers", path, "lab")
    if raw is None:
        return []
    line = reader.line_of(data, "containers")
    if not isinstance(raw, list) or not raw:
        reader.problem(path, line, "lab: 'containers' must be a non-empty list")
        return []
    images = lab_image_names()
    containers, names = [], set()
    for number, item in enumerate(raw, start=1):
        what = f"container {number}"
        item = reader.mapping(item, path, line, what)
        if item is None:
            continue
        name = reader.field(item, "name", path, what)
        image = reader.field(item, "image", path, what)
        if name is not None:
            name = reader.slug(name, path, reader.line_of(item, "name"), f"{what} name")
            if name in names:
                reader.problem(path, reader.line_of(item, "name"), f"{what}: name repeats")
            names.add(name)
        if image is not None and image not in images:
            reader.problem(
                path,
                reader.line_of(item, "image"),
                f"{what}: unknown image {image!r} (known: {', '.join(sorted(images))})",
            )
        spec = {"name": name, "image": image, **CONTAINER_DEFAULTS}
        for key, (low, high) in LIMITS.items():
            if key in item:
                value = item[key]
                if not isinstance(value, int | float) or not low <= value <= high:
                    reader.problem(
                        path,
                        reader.line_of(item, key),
                        f"{what}: '{key}' must be between {low} and {high}",
                    )
                else:
                    spec[key] = value
        env = item.get("env") or {}
        if not isinstance(env, dict):
            reader.problem(path, reader.line_of(item, "env"), f"{what}: 'env' must be a mapping")
            env = {}
        spec["env"] = {str(k): str(v) for k, v in env.items()}
        caps = item.get("capabilities") or []
        bad = sorted(set(caps) - ALLOWED_CAPABILITIES) if isinstance(caps, list) else ["?"]
        if bad:
            reader.problem(
                path,
                reader.line_of(item, "capabilities"),
                f"{what}: capabilities not allowed in labs: {bad}",
            )
        spec["capabilities"] = list(caps) if not bad else []
        containers.append(spec)
    return containers


def _read_script(reader: Reader, path: Path, where: Path, line: int | None) -> str:
    if not path.exists():
        reader.problem(where, line, f"{path.name} does not exist")
        return ""
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        reader.problem(path, None, "is empty")
    return text


def _read_steps(
    reader: Reader, lab_dir: Path, path: Path, data: Mapping, names: set[str]
) -> list[StepSpec]:
    raw = reader.field(data, "steps", path, "lab")
    if raw is None:
        return []
    line = reader.line_of(data, "steps")
    if not isinstance(raw, list) or not raw:
        reader.problem(path, line, "lab: 'steps' must be a non-empty list")
        return []
    steps, keys = [], set()
    for number, item in enumerate(raw, start=1):
        what = f"step {number}"
        item = reader.mapping(item, path, line, what)
        if item is None:
            continue
        key = reader.field(item, "key", path, what)
        if key is None or reader.slug(key, path, reader.line_of(item, "key"), what) is None:
            continue
        if key in keys:
            reader.problem(path, reader.line_of(item, "key"), f"{what}: key {key!r} repeats")
        keys.add(key)
        step_line = reader.line_of(item, "key")
        titles, bodies = {}, {}
        for language in LANGUAGES:
            md = lab_dir / "steps" / f"{key}.{language}.md"
            if not md.exists():
                if language == SOURCE_LANGUAGE:
                    reader.problem(path, step_line, f"{what}: steps/{md.name} does not exist")
                else:
                    reader.missing.append(Problem(md, None, f"step '{key}' has no {language}"))
                continue
            version = read_markdown(reader, md, need_slug=False)
            if version is not None:
                titles[language], bodies[language] = version.title, version.body_markdown
        check = _read_script(reader, lab_dir / "steps" / f"{key}.check.sh", path, step_line)
        solve = _read_script(reader, lab_dir / "steps" / f"{key}.solve.sh", path, step_line)
        container = item.get("check_container") or ""
        if container and container not in names:
            reader.problem(
                path,
                reader.line_of(item, "check_container"),
                f"{what}: no container named {container!r}",
            )
        messages = {}
        raw_messages = item.get("messages") or Mapping()
        if not isinstance(raw_messages, Mapping):
            reader.problem(
                path, reader.line_of(item, "messages"), f"{what}: 'messages' must map keys to texts"
            )
            raw_messages = Mapping()
        for message_key in raw_messages:
            text = reader.text(raw_messages, message_key, path, f"{what} message")
            if text is not None:
                messages[str(message_key)] = text.values
        steps.append(StepSpec(key, titles, bodies, check, solve, container, messages))
    return steps


def _read_lab(
    reader: Reader, lab_dir: Path, lesson_keys: set[str], *, task_of: str | None = None
) -> LabSpec | None:
    """A lab; with ``task_of`` (a certification folder's name), that certification's practical
    task, keyed ``<certification>--<task>`` so that it cannot take a lab's key."""
    header = read_item_header(reader, lab_dir, "lab.yaml", "lab")
    if header is None:
        return None
    path, data = header.path, header.data
    domain, domain_line = "", reader.line_of(data, "domain")
    if task_of is None:
        if "domain" in data:
            reader.problem(path, domain_line, "lab: only a certification's task has a 'domain'")
    else:
        domain_value = data.get("domain")
        if isinstance(domain_value, str) and domain_value.strip():
            domain = domain_value
        else:
            reader.problem(
                path, domain_line or 1, "task: 'domain' must name a domain of the certification"
            )
            domain = ""
        # An exam task is reached from its attempt only: no warm pool waits for it. Its
        # `lessons` say what it assesses; no lesson page links to it (labs.selectors).
        if data.get("warm_pool"):
            reader.problem(
                path, reader.line_of(data, "warm_pool"), "task: a practical task has no warm pool"
            )
    difficulty = data.get("difficulty", "beginner")
    if difficulty not in DIFFICULTIES:
        reader.problem(
            path,
            reader.line_of(data, "difficulty"),
            f"lab: 'difficulty' must be one of {list(DIFFICULTIES)}",
        )
    duration = data.get("duration_minutes", 30)
    if not isinstance(duration, int) or not 5 <= duration <= 240:
        reader.problem(
            path,
            reader.line_of(data, "duration_minutes"),
            "lab: 'duration_minutes' must be a whole number from 5 to 240",
        )
        duration = 30
    refs = data.get("lessons") or []
    for ref in refs:
        if ref not in lesson_keys:
            reader.problem(
                path,
                reader.line_of(data, "lessons"),
                f"lab: unknown lesson {ref!r} (write it as course-key/lesson-key)",
            )
    containers = _read_containers(reader, path, data)
    names = {c["name"] for c in containers}
    shell = data.get("shell") or (containers[0]["name"] if containers else "")
    if containers and shell not in names:
        reader.problem(path, reader.line_of(data, "shell"), f"lab: no container named {shell!r}")
    setup = ""
    if data.get("setup"):
        setup = _read_script(
            reader, lab_dir / str(data["setup"]), path, reader.line_of(data, "setup")
        )
    steps = _read_steps(reader, lab_dir, path, data, names)
    warm_pool = data.get("warm_pool")
    if warm_pool is not None and (not isinstance(warm_pool, int) or not 0 <= warm_pool <= 50):
        reader.problem(
            path,
            reader.line_of(data, "warm_pool"),
            "lab: 'warm_pool' must be a whole number from 0 to 50",
        )
    faults = data.get("faults", False)
    if not isinstance(faults, bool):
        reader.problem(path, reader.line_of(data, "faults"), "lab: 'faults' must be true or false")
        faults = False
    if faults and FAULTS_CONTAINER in names:
        reader.problem(
            path,
            reader.line_of(data, "containers"),
            f"lab: with 'faults: true' the platform adds a container named {FAULTS_CONTAINER!r};"
            " name yours otherwise",
        )
    if not header.complete:
        return None
    files = sorted(p for p in lab_dir.rglob("*") if p.is_file())
    key, slug, title, summary = header.identity()
    return LabSpec(
        key if task_of is None else f"{task_of}--{key}",
        lab_dir,
        # Practical tasks sort after every lab, wherever labs are listed by their order.
        header.order if task_of is None else TASK_ORDER_BASE + header.order,
        difficulty,
        duration,
        slug,
        title,
        summary,
        list(refs),
        shell,
        containers,
        setup,
        steps,
        # The renderer's version too: a new renderer renders every step again at the next sync.
        f"{RENDERER_VERSION}:{hash_files(files)}",
        0 if task_of is not None else warm_pool,
        faults,
        exam_only=task_of is not None,
        domain=domain,
        domain_line=domain_line,
    )


def labs_read(reader: Reader, root: Path, context: dict[str, Any]) -> list[LabSpec]:
    """The labs of content/labs/, then the certifications' practical tasks
    (content/certifications/<cert>/tasks/<task>/, the same format plus ``domain``), which it
    leaves in ``context["certification_tasks"]`` ({cert: [LabSpec]}) for the certifications'
    reader to check their domains."""
    lesson_keys = context.get("lesson_keys", set())
    labs: list[LabSpec] = []
    labs_dir = root / "labs"
    if labs_dir.is_dir():
        for lab_dir in sorted(p for p in labs_dir.iterdir() if p.is_dir()):
            if (lab := _read_lab(reader, lab_dir, lesson_keys)) is not None:
                labs.append(lab)
    tasks: dict[str, list[LabSpec]] = {}
    for tasks_dir in sorted((root / "certifications").glob("*/tasks")):
        if not tasks_dir.is_dir():
            continue
        certification = tasks_dir.parent.name
        found = []
        for task_dir in sorted(p for p in tasks_dir.iterdir() if p.is_dir()):
            task = _read_lab(reader, task_dir, lesson_keys, task_of=certification)
            if task is not None:
                found.append(task)
        found.sort(key=lambda task: (task.order, task.key))  # the order candidates meet them
        tasks[certification] = found
        labs += found
    context["certification_tasks"] = tasks
    seen: dict[str, Path] = {}
    for lab in labs:
        if lab.key in seen:
            reader.problem(
                lab.path / "lab.yaml", 1, f"lab: key {lab.key!r} is also {seen[lab.key]}"
            )
        seen[lab.key] = lab.path
    return labs


def _step_values(spec: StepSpec, number: int) -> dict[str, Any]:
    from academy.courses.rendering import render_lesson

    values = {
        "number": number,
        "check_script": spec.check,
        "solve_script": spec.solve,
        "check_container": spec.check_container,
        "messages": spec.messages,
    }
    for language in LANGUAGES:
        values[f"title_{language}"] = spec.titles.get(language, "")
        body = spec.bodies.get(language)
        values[f"body_html_{language}"] = render_lesson(body).body_html if body else ""
    return values


def labs_apply(report: SyncReport, labs: list[LabSpec], now: datetime) -> None:
    """Writes labs and their steps; called inside content_sync's transaction."""
    from academy.contentsync import localized, retire, upsert
    from labs.models import Lab, LabStep

    for spec in labs:
        existing = Lab.objects.filter(key=spec.key).first()
        unchanged = existing is not None and existing.content_hash == spec.source_hash
        lab = upsert(
            report,
            Lab,
            {"key": spec.key},
            {
                "order": spec.order,
                "difficulty": spec.difficulty,
                "duration_minutes": spec.duration_minutes,
                "topology": spec.containers,
                "shell_container": spec.shell,
                "setup_script": spec.setup,
                "lesson_refs": spec.lesson_refs,
                "warm_pool_size": spec.warm_pool,
                "faults_enabled": spec.faults,
                "exam_only": spec.exam_only,
                "content_hash": spec.source_hash,
                **localized("slug", spec.slug),
                **localized("title", spec.title),
                **localized("summary", spec.summary),
            },
        )
        if unchanged:
            continue  # same files: the steps are as they were, no need to render them again
        for number, step_spec in enumerate(spec.steps, start=1):
            upsert(
                report,
                LabStep,
                {"lab": lab, "key": step_spec.key},
                _step_values(step_spec, number),
            )
        stale = lab.steps.exclude(key__in=[s.key for s in spec.steps])
        count, _ = stale.delete()
        if count:
            report.retired["lab steps"] += count
    retire(report, Lab.objects.all(), {spec.key for spec in labs}, now)
