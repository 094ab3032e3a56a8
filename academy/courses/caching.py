"""The content version, which keys the cached, user-independent parts of the learning pages.

Lesson, course, catalogue and lab pages cache what is the same for every reader (the outline,
the knowledge check's questions, the cards' text) in the ``template_fragments`` cache, keyed by
the content version and the language, plus whatever of the reader's own state a part shows (the
lessons they have done, their progress). A part is never invalidated: a change of content moves
the version on, and the next page asks for parts under new keys.

The version is ``Course.updated_at``: every change of content (a content sync that changed
anything, or a save in the admin) sets it, on every course, to the time of the change. Pages
about a course read it from the course row they load anyway; other pages ask for the latest
(one small query). Being read from the database, it is right in every web process, whichever
process changed the content, so the fragments' cache can stay in each process's own memory.
"""

from __future__ import annotations

from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from academy.courses.models import Course


def content_changed(*, at=None) -> None:
    """Moves the content version on: every cached page part built before is no longer used."""
    Course.objects.update(updated_at=at or timezone.now())


def content_version() -> str:
    """The current content version, for pages that load no course, as a key (not a date): one
    small query, written out in SQL since compiling it with the ORM costs more than running it."""
    quote = connection.ops.quote_name
    table, column = Course._meta.db_table, Course._meta.get_field("updated_at").column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({quote(str(column))}) FROM {quote(table)}")
        row = cursor.fetchone()
    latest = row[0] if row else None
    return str(latest).replace(" ", "T") if latest else ""


def content_version_of(courses) -> str:
    """The content version from course rows a page loaded anyway (all of them: the latest)."""
    latest = max((course.updated_at for course in courses if course.updated_at), default=None)
    return latest.isoformat() if latest else ""


def course_version(course: Course) -> str:
    return course.updated_at.isoformat() if course.updated_at else ""


def content_version_apply(report, specs, now) -> None:
    """The last step of a content sync, in its transaction: a sync that created, changed or
    retired anything (lessons, labs, certifications) moves the version on."""
    if report.changed:
        content_changed(at=now)


def content_version_read(reader, root, context) -> list:
    return []  # nothing to read: the version follows what the other kinds applied


# The rows the cached parts show: a save or delete of one (in the admin, or by a sync) moves the
# version on in the same transaction. Retirements by a sync are bulk updates, which send no
# signal: content_version_apply covers those.
CONTENT_MODELS = (
    "courses.Course",
    "courses.Module",
    "courses.Lesson",
    "courses.Question",
    "courses.Choice",
    "labs.Lab",
    "labs.LabStep",
    "certifications.Certification",
)


def content_saved(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # fixtures loading: no course table to write to yet, perhaps
    content_changed()


def connect_signals() -> None:
    from django.apps import apps
    from django.db.models.signals import post_delete, post_save

    for label in CONTENT_MODELS:
        model = apps.get_model(label)
        post_save.connect(content_saved, sender=model, dispatch_uid=f"content-version-{label}")
        post_delete.connect(content_saved, sender=model, dispatch_uid=f"content-version-{label}")


_MISSING = object()


def cached(key: str, compute):
    """``compute()``, kept in the fragments' cache under ``key``, which must carry the content
    version (and whatever else the value depends on)."""
    fragments = caches["template_fragments"]
    value = fragments.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        fragments.set(key, value)
    return value
