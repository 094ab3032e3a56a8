"""{% terminal_origin session %}: where the page's terminal connects (its lab host's gateway).

A session on a host with a terminal gateway of its own (LabHost.terminal_url) is reached there;
the page's Content-Security-Policy then allows that origin (labs.middleware). Empty: the site's
own origin, as with one host.
"""

from django import template

from labs.models import LabSession
from labs.services.hosts import terminal_origin as _terminal_origin

register = template.Library()


@register.simple_tag(takes_context=True)
def terminal_origin(context: template.Context, session: LabSession) -> str:
    origin = _terminal_origin(session)
    request = context.get("request")
    if origin and request is not None:
        origins: set[str] = getattr(request, "lab_terminal_origins", set())
        origins.add(origin)
        request.lab_terminal_origins = origins
    return origin
