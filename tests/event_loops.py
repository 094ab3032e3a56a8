"""Websocket scenarios on an event loop of their own."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from channels.layers import channel_layers

T = TypeVar("T")


def run_on_new_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs ``coroutine`` with asyncio.run in a thread of its own (the browser tests'
    Playwright keeps an event loop in the main thread for the whole session), with fresh
    channel layers: the Redis layer belongs to the loop that first receives on it, and a
    consumer a finished loop never closed would leave it taken for every later loop."""
    channel_layers.backends.clear()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()
    finally:
        channel_layers.backends.clear()
