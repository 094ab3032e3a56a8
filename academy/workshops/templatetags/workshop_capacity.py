"""``{% workshop_capacity workshop %}``: the instructor page's Start/End/export controls, the
room's capacity, warm pool and the lab host's load (academy/workshops/prewarm.py). A tag, so the
page's own view needs no change; it reads rows only, never Docker."""

from typing import Any

from django import template
from django.conf import settings
from django.template import Context

from academy.workshops import prewarm
from academy.workshops.models import Workshop

register = template.Library()


@register.inclusion_tag("workshops/_host_capacity.html", takes_context=True)
def workshop_capacity(context: Context, workshop: Workshop) -> dict[str, Any]:
    return {
        "workshop": workshop,
        "capacity": prewarm.workshop_capacity(workshop=workshop),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
        "prewarm_minutes": settings.WORKSHOP_PREWARM_MINUTES,
    }
