"""Websocket routes of the workshops, mounted by academy/asgi.py."""

from django.urls import path

from academy.workshops.consumers import BoardConsumer, RoomConsumer

websocket_urlpatterns = [
    path("ws/workshops/<int:pk>/board/", BoardConsumer.as_asgi(), name="workshop-board"),
    path("ws/workshops/<int:pk>/room/", RoomConsumer.as_asgi(), name="workshop-room"),
]
