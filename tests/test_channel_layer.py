"""The websocket channel layer as production configures it (Redis, under `make test`)."""

import asyncio
import concurrent.futures

import pytest
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="The channel layer is Redis only when REDIS_URL is set."
)


def test_a_consumer_that_hears_nothing_for_a_while_keeps_waiting_then_hears():
    """A consumer waits for its next message in the layer's blocking pop: a quiet spell longer
    than the client's read timeout (redis-py's default is 5 s) must not end it with an error."""

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()

        async def later():
            await asyncio.sleep(7)
            await layer.send(channel, {"type": "hello", "text": "after a quiet spell"})

        sender = asyncio.create_task(later())
        message = await asyncio.wait_for(layer.receive(channel), 20)
        await sender
        return message

    # A loop of its own (in a thread: the browser tests' Playwright keeps one in the main
    # thread), with a layer of its own: the layer belongs to the loop that receives on it.
    channel_layers.backends.clear()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            message = pool.submit(asyncio.run, scenario()).result()
    finally:
        channel_layers.backends.clear()
    assert message == {"type": "hello", "text": "after a quiet spell"}
