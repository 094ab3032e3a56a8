"""Throttling of failed sign-ins, per account and per client address.

Counts live in the cache (Redis in production), so every web process sees the same counts.
"""

from django.conf import settings
from django.core.cache import cache


def _keys(*, username: str, address: str) -> list[str]:
    return [f"login-fail:user:{username.strip().lower()}", f"login-fail:addr:{address}"]


def login_is_throttled(*, username: str, address: str) -> bool:
    counts = cache.get_many(_keys(username=username, address=address))
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values())


def login_failure_record(*, username: str, address: str) -> None:
    for key in _keys(username=username, address=address):
        # add() starts the window only on the first failure; incr() keeps its expiry.
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_failures_clear(*, username: str) -> None:
    cache.delete(f"login-fail:user:{username.strip().lower()}")
