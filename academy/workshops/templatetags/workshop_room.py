"""``{% workshop_room_bar %}``: the room bar (announcements, timer, help, "being watched") on an
attendee's pages; renders nothing for anyone who attends no open workshop."""

from django import template

from academy.workshops import board

register = template.Library()


@register.inclusion_tag("workshops/_room_bar_inner.html", takes_context=True)
def workshop_room_bar(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    attendee = board.live_attendance(user=user)
    if attendee is None:
        return {"attendee": None}
    return {
        "attendee": attendee,
        "room": board.room_state(workshop=attendee.workshop, user=user),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
