"""Writes of the certifications side: for now, the content sync of certifications."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from academy.certifications.content import CertificationSpec
from academy.certifications.models import (
    Certification,
    CertificationTask,
    Domain,
    Item,
    Option,
)
from academy.contentfiles import LANGUAGES
from academy.contentsync import SyncReport, localized, retire, upsert

if TYPE_CHECKING:
    from labs.models import Lab


def _apply_certification(report: SyncReport, spec: CertificationSpec, now: datetime) -> None:
    certification = upsert(
        report,
        Certification,
        {"key": spec.key},
        {
            "order": spec.order,
            "questions": spec.questions,
            "minutes": spec.minutes,
            "pass_mark": spec.pass_mark,
            "cooldown_hours": spec.cooldown_hours,
            "attempts_count": spec.attempts_count,
            "attempts_days": spec.attempts_days,
            "validity_months": spec.validity_months,
            "prerequisites": spec.prerequisites,
            "content_hash": spec.content_hash,
            **localized("slug", spec.slug),
            **localized("title", spec.title),
            **localized("summary", spec.summary),
        },
    )
    domains = {}
    for order, domain_spec in enumerate(spec.domains):
        domains[domain_spec.key] = upsert(
            report,
            Domain,
            {"certification": certification, "key": domain_spec.key},
            {"order": order, "weight": domain_spec.weight, **localized("title", domain_spec.title)},
        )
    for order, item_spec in enumerate(spec.items):
        scenario = (
            localized("scenario", item_spec.scenario)
            if item_spec.scenario is not None
            else {f"scenario_{language}": "" for language in LANGUAGES}
        )
        item = upsert(
            report,
            Item,
            {"certification": certification, "key": item_spec.key},
            {
                "domain": domains[item_spec.domain],
                "order": order,
                "kind": item_spec.kind,
                "lesson_ref": item_spec.lesson_ref,
                "content_hash": item_spec.content_hash,
                **scenario,
                **localized("prompt", item_spec.prompt),
                **localized("explanation", item_spec.explanation),
            },
        )
        for option_order, option_spec in enumerate(item_spec.options):
            upsert(
                report,
                Option,
                {"item": item, "key": option_spec.key},
                {
                    "order": option_order,
                    "is_correct": option_spec.is_correct,
                    **localized("text", option_spec.text),
                },
            )
        removed = item.options.exclude(key__in=[o.key for o in item_spec.options])
        count, _ = removed.delete()
        if count:
            report.retired[Option._meta.verbose_name_plural] += count
    retire(report, certification.items.all(), {i.key for i in spec.items}, now)
    _apply_tasks(report, certification, spec, domains, now)
    retire(report, certification.domains.all(), {d.key for d in spec.domains}, now)


def _apply_tasks(
    report: SyncReport,
    certification: Certification,
    spec: CertificationSpec,
    domains: dict[str, Any],
    now: datetime,
) -> None:
    """The practical tasks: their labs were written by the labs' sync (it runs first, exam-only
    labs keyed ``<certification>--<task>``); a task no longer in tasks/ is retired."""
    # No import of labs at run time: the model through the relation.
    lab_model = cast("type[Lab]", CertificationTask._meta.get_field("lab").related_model)
    labs = {
        lab.key: lab
        for lab in lab_model._default_manager.filter(key__in=[t.lab_key for t in spec.tasks])
    }
    for order, task_spec in enumerate(spec.tasks):
        upsert(
            report,
            CertificationTask,
            {"certification": certification, "lab": labs[task_spec.lab_key]},
            {"domain": domains[task_spec.domain], "order": order},
        )
    stale = certification.tasks.filter(retired_at__isnull=True).exclude(
        lab__key__in=[t.lab_key for t in spec.tasks]
    )
    count = stale.update(retired_at=now)
    if count:
        report.retired[CertificationTask._meta.verbose_name_plural] += count


def certifications_apply(
    report: SyncReport, certifications: list[CertificationSpec], now: datetime
) -> None:
    """Writes certifications, domains, items, options and practical tasks; inside
    content_sync's transaction (registered in CertificationsConfig.ready)."""
    for spec in certifications:
        _apply_certification(report, spec, now)
    retire(report, Certification.objects.all(), {c.key for c in certifications}, now)
