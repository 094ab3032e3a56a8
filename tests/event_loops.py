"""Websocket scenarios on an event loop of their own."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from django.test import override_settings

T = TypeVar("T")

# The consumers' own logic is tested through asgiref's communicators, on a loop per scenario,
# with the in-memory layer: the Redis layer belongs to the loop that first receives on it, and
# a scenario's loop ends with consumers it never disconnected (one refused before it was told
# anything), whose pending Redis receive could hold the loop's close. The Redis layer itself is
# what the live-server browser tests use, and tests/test_channel_layer.py tests it.
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def run_on_new_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs ``coroutine`` with asyncio.run in a thread of its own (the browser tests'
    Playwright keeps an event loop in the main thread for the whole session)."""
    with (
        override_settings(CHANNEL_LAYERS=IN_MEMORY),
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        return pool.submit(asyncio.run, coroutine).result()
