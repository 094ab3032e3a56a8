"""``{% workshop_room_bar %}``: the room bar (announcements, timer, help, "being watched") on
an attendee's pages; nothing for anyone who attends no open workshop. With ``compact`` in the
context (the lab session page: ``{% include "workshops/_room_bar.html" with compact=True %}``)
it is drawn as one line."""

from typing import Any

from django import template
from django.template import Context

from academy.accounts.typing import signed_in
from academy.workshops import board

register = template.Library()


@register.inclusion_tag("workshops/_room_bar_inner.html", takes_context=True)
def workshop_room_bar(context: Context) -> dict[str, Any]:
    request = context.get("request")
    user = signed_in(getattr(request, "user", None))
    attendee = board.live_attendance(user=user)
    if attendee is None or user is None:
        return {"attendee": None}
    return {
        "compact": bool(context.get("compact")),
        "attendee": attendee,
        "room": board.room_state(workshop=attendee.workshop, user=user),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
