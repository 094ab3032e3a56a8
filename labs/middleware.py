"""Lets a page connect to its lab host's terminal gateway: the origins the page's terminals
use (labs.templatetags.lab_hosts) are added to its Content-Security-Policy's connect-src.
Placed after django-csp's middleware, so that this runs first on the way out."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class TerminalOriginsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        origins = getattr(request, "lab_terminal_origins", None)
        if origins:
            update = dict(getattr(response, "_csp_update", None) or {})
            update["connect-src"] = [*update.get("connect-src", []), *sorted(origins)]
            response._csp_update = update  # type: ignore[attr-defined]
        return response
