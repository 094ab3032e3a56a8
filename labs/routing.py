"""Websocket routes of the lab engine, mounted by academy/asgi.py."""

from django.urls import path

from labs.terminal import TerminalConsumer

websocket_urlpatterns = [
    path(
        "ws/labs/sessions/<int:session_id>/terminal/",
        TerminalConsumer.as_asgi(),
        name="lab-terminal",
    ),
]
