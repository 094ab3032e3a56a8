"""Websocket routes of the lab engine, mounted by academy/asgi.py."""

from django.urls import path

from labs.terminal import TerminalConsumer

websocket_urlpatterns = [
    path(
        "ws/labs/sessions/<int:session_id>/terminal/",
        # channels routes ASGI applications with django.urls.path; django-stubs types it for
        # views only.
        TerminalConsumer.as_asgi(),  # type: ignore[arg-type]
        name="lab-terminal",
    ),
]
