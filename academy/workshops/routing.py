"""Websocket routes of the workshops, mounted by academy/asgi.py."""

from django.urls import path

from academy.workshops.consumers import BoardConsumer, RoomConsumer

websocket_urlpatterns = [
    # channels routes ASGI applications with django.urls.path; django-stubs types it for
    # views only.
    path("ws/workshops/<int:pk>/board/", BoardConsumer.as_asgi(), name="workshop-board"),  # type: ignore[arg-type]
    path("ws/workshops/<int:pk>/room/", RoomConsumer.as_asgi(), name="workshop-room"),  # type: ignore[arg-type]
]
