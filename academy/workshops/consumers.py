"""Websockets of a workshop: the instructors' live board and each attendee's room feed.

``ws/workshops/<pk>/board/?lang=xx``  instructors of THAT workshop only (4003 otherwise); the server
                                 sends {"type": "board", ...} (academy.workshops.board's
                                 board_snapshot) at once, on every change told to the group and
                                 every BOARD_REFRESH_SECONDS when something changed.
``ws/workshops/<pk>/room/?lang=xx``  attendees of THAT workshop only; first {"type": "room",
                                 ...}, then {"type": "announce"}, {"type": "timer"}, {"type":
                                 "watched"} and {"type": "help"} as they happen, and {"type":
                                 "gameday", "gameday": {...} | null}: the user's OWN game day
                                 (board.room_game_day), on a notice and every
                                 BOARD_REFRESH_SECONDS when it changed (a worker's notice may
                                 not reach this process: the embedded in-memory channel layer).

The browser sends nothing that matters: actions are POSTs with CSRF, rate limits and audit.
Close codes: 4001 not signed in, 4003 not yours (or no such workshop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from academy.workshops import board
from academy.workshops.models import Attendee, Workshop

if TYPE_CHECKING:
    from academy.accounts.models import User

NOT_SIGNED_IN = 4001
FORBIDDEN = 4003
DEBOUNCE_SECONDS = 0.5


@database_sync_to_async
def _workshop_for_instructor(pk: int, user: User) -> Workshop | None:
    return Workshop.objects.taught_by(user).filter(pk=pk).first()


@database_sync_to_async
def _attendee(pk: int, user: User) -> Attendee | None:
    return (
        Attendee.objects.select_related("workshop")
        .filter(workshop_id=pk, user=user)
        .exclude(workshop__state=Workshop.State.ENDED)
        .first()
    )


@database_sync_to_async
def _snapshot(workshop: Workshop, language: str) -> dict[str, Any]:
    with translation.override(language):  # lab titles and states in the page's language
        return board.board_snapshot(workshop=workshop)


def _language(scope: Mapping[str, Any]) -> str:
    """The page's language from ``?lang=`` (one of the site's), else the default."""
    values = parse_qs(scope.get("query_string", b"").decode(errors="replace")).get("lang", [])
    codes = {code for code, _name in settings.LANGUAGES}
    return values[0] if values and values[0] in codes else settings.LANGUAGE_CODE


@database_sync_to_async
def _room(workshop: Workshop, user: User, language: str) -> dict[str, Any]:
    with translation.override(language):  # the game-day notice in the page's language
        return board.room_state(workshop=workshop, user=user)


@database_sync_to_async
def _game_day(workshop: Workshop, user: User, language: str) -> dict[str, Any] | None:
    with translation.override(language):
        return board.room_game_day(workshop=workshop, user=user)


class _Base(AsyncWebsocketConsumer):
    groups_joined: list[str]

    async def _refuse(self, code: int, reason: str) -> None:
        await self.close(code=code, reason=reason)

    async def _user(self) -> User | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(NOT_SIGNED_IN, "Sign in first.")
            return None
        # channels' AuthMiddleware: a lazy proxy of the signed-in AUTH_USER_MODEL row.
        return cast("User", user)

    async def _join(self, *groups: str) -> None:
        self.groups_joined = list(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "tasks", []):
            task.cancel()
        for group in getattr(self, "groups_joined", []):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # nothing from the browser is acted on here


class BoardConsumer(_Base):
    async def connect(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.last = ""
        self.language = _language(self.scope)
        self.pending = False
        await self.accept()
        user = await self._user()
        if user is None:
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        workshop = await _workshop_for_instructor(pk, user)
        if workshop is None:
            await self._refuse(FORBIDDEN, "Not a workshop you teach.")
            return
        self.workshop = workshop
        await self._join(board.board_group(pk))
        await self._push()
        self.tasks = [asyncio.create_task(self._refresh())]

    async def _push(self) -> None:
        snapshot = await _snapshot(self.workshop, self.language)
        rows = json.dumps({key: value for key, value in snapshot.items() if key != "now"})
        if rows != self.last:  # the clock alone is no change
            self.last = rows
            await self.send(text_data=json.dumps(snapshot))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(board.BOARD_REFRESH_SECONDS)
            await self._push()

    async def board_changed(self, event: dict[str, Any]) -> None:
        if self.pending:  # a burst of checks makes one snapshot
            return
        self.pending = True
        try:
            await asyncio.sleep(DEBOUNCE_SECONDS)
        finally:
            self.pending = False
        await self._push()


class RoomConsumer(_Base):
    async def connect(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.language = _language(self.scope)
        await self.accept()
        user = await self._user()
        if user is None:
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        attendee = await _attendee(pk, user)
        if attendee is None:
            await self._refuse(FORBIDDEN, "Not a workshop you attend.")
            return
        self.user, self.workshop = user, attendee.workshop
        await self._join(board.room_group(pk), board.attendee_group(user.pk))
        room = await _room(self.workshop, user, self.language)
        self.last_game_day = json.dumps(room["gameday"])
        await self.send(text_data=json.dumps(room))
        self.tasks = [asyncio.create_task(self._refresh())]

    async def _push_game_day(self) -> None:
        """This user's own game day, sent when it changed since the last one sent."""
        state = await _game_day(self.workshop, self.user, self.language)
        text = json.dumps(state)
        if text != self.last_game_day:
            self.last_game_day = text
            await self.send(text_data=json.dumps({"type": "gameday", "gameday": state}))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(board.BOARD_REFRESH_SECONDS)
            await self._push_game_day()

    async def room_gameday(self, event: dict[str, Any]) -> None:
        await self._push_game_day()

    async def room_announce(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=json.dumps({"type": "announce", "announcement": event["announcement"]})
        )

    async def room_timer(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "timer", "timer": event["timer"]}))

    async def room_watched(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "watched", "watched": event["watched"]}))

    async def room_help(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "help", "help": event["help"]}))
