"""Content as code: a registry of content kinds, and the sync that reconciles the database to
the content folder in one transaction.

Each app registers its kind of content (courses, labs, certifications) from its AppConfig:

    register(ContentKind(name="labs", order=20, read=labs_read, apply=labs_apply))

``read(reader, root, context)`` reads and validates that kind's files and may leave facts for
later kinds in ``context`` (the courses leave their lesson keys, which labs link to);
``apply(report, specs, now)`` writes the rows. Everything is read before anything is written,
so a broken file is reported with its path and line and nothing is applied. No app's content
module imports another app's: the registry is the only meeting point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import models, transaction
from django.utils import timezone

from academy.contentfiles import LANGUAGES, ContentError, Problem, Reader


@dataclass(frozen=True)
class ContentKind:
    name: str  # also the folder under the content root, by convention
    order: int  # kinds are read and applied in this order
    read: Callable[[Reader, Path, dict], list]
    apply: Callable[[SyncReport, list, datetime], None]


_KINDS: dict[str, ContentKind] = {}


def register(kind: ContentKind) -> None:
    """Adds a kind of content to the sync (idempotent: an app may be set up twice)."""
    _KINDS[kind.name] = kind


def content_kinds() -> list[ContentKind]:
    return sorted(_KINDS.values(), key=lambda kind: (kind.order, kind.name))


@dataclass
class ContentSet:
    specs: dict[str, list] = field(default_factory=dict)  # kind name -> its specs
    # Items that lack a translation: shown by the sync, never fatal.
    missing_translations: list[Problem] = field(default_factory=list)

    def __getattr__(self, name: str) -> list:
        # content.courses, content.labs, ...: the specs of a registered kind.
        specs = self.__dict__.get("specs", {})
        if name in specs:
            return specs[name]
        raise AttributeError(name)


@dataclass
class SyncReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    retired: Counter = field(default_factory=Counter)
    content: ContentSet | None = None
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated or +self.retired)


def content_read(*, root: Path) -> ContentSet:
    """Reads and validates every registered kind under ``root``; raises ContentError with every
    problem found."""
    reader = Reader()
    context: dict = {}
    specs = {kind.name: kind.read(reader, root, context) for kind in content_kinds()}
    if reader.problems:
        raise ContentError(reader.problems)
    return ContentSet(specs=specs, missing_translations=reader.missing)


def content_sync(*, root: Path, apply: bool = True) -> SyncReport:
    """Reconciles the database to the content tree at ``root``.

    Reads and validates everything first (raising ``ContentError`` with every problem found),
    then applies all of it in one transaction, or nothing. With ``apply=False`` the changes
    are worked out and rolled back, so the report says what a sync would do.
    """
    content = content_read(root=root)
    report = SyncReport(content=content)
    now = timezone.now()
    with transaction.atomic():
        for kind in content_kinds():
            kind.apply(report, content.specs[kind.name], now)
        if not apply:
            transaction.set_rollback(True)
    report.applied = apply
    return report


# --- Helpers for appliers --------------------------------------------------------------------


def localized(name: str, text) -> dict[str, str]:
    return {f"{name}_{language}": text.get(language) for language in LANGUAGES}


def _retirable(model: type[models.Model]) -> bool:
    return any(f.name == "retired_at" for f in model._meta.fields)


def upsert(report: SyncReport, model: type[models.Model], lookup: dict, values: dict):
    """Creates or updates one row; counts only rows whose values really change."""
    values = {**values, "retired_at": None} if _retirable(model) else values
    instance = model._default_manager.filter(**lookup).first()
    label = model._meta.verbose_name_plural
    if instance is None:
        instance = model._default_manager.create(**lookup, **values)
        report.created[label] += 1
        return instance
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        instance.save(update_fields=changed)
        report.updated[label] += 1
    return instance


def retire(report: SyncReport, queryset: models.QuerySet, keep_keys: set[str], now) -> None:
    stale = queryset.filter(retired_at__isnull=True).exclude(key__in=keep_keys)
    count = stale.update(retired_at=now)
    if count:
        report.retired[queryset.model._meta.verbose_name_plural] += count
