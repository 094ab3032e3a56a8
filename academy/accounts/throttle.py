"""Growing delays for sign-ins and password-reset requests.

A victim must never be lockable by someone else. So failed sign-ins count per (account, client
address) pair, and per client address across all accounts (password spraying): an attacker's
failures slow down the attacker's own address, and the account's owner, from their own address,
signs in as usual. Past a number of free failures each further attempt waits twice as long as
the one before, up to a ceiling; nothing is locked for good, and a correct password once the
wait is over signs the owner in and clears the pair's count.

Guesses at one account from many addresses (a botnet) also count per account, but that count
slows down only browsers the account has never signed in from: a successful sign-in leaves a
signed device cookie naming the account, and a browser that shows it skips the per-account wait
(OWASP's "device cookies"), so the owner's own browser is never slowed down by others.

Password-reset requests count per target e-mail address (whether or not an account has it, so
the answer reveals nothing) and per client address. A victim whose address an attacker floods
with requests already holds working links in their inbox.

Counts live in the cache (Redis in production), so every web process sees the same counts.
While a delay applies, only one attempt per key is let through at a time, so a burst of
parallel requests cannot slip through together the moment a delay ends.

Why not django-axes: it has one failure limit for every combination of lockout parameters (a
room of workshop attendees behind one address would be locked after a few typos), fixed
cool-offs instead of growing delays, and nothing for password resets.
"""

import hashlib
import ipaddress
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache

# How long a request may hold its turn while the password is checked or the e-mail sent.
CLAIM_SECONDS = 30
DEVICE_COOKIE = "academy_device"
DEVICE_COOKIE_SALT = "academy.accounts.throttle.device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600
DEVICE_ACCOUNTS = 5  # accounts one browser remembers


@dataclass(frozen=True)
class Rule:
    scope: str
    free_setting: str  # settings name: failures allowed before the first delay
    base_setting: str  # settings name: the first delay, in seconds

    @property
    def free(self) -> int:
        return getattr(settings, self.free_setting)

    def delay(self, count: int) -> float:
        """Seconds to wait after the ``count``-th failure."""
        if count < self.free:
            return 0.0
        base = getattr(settings, self.base_setting)
        exponent = min(count - self.free, 32)
        return min(base * 2**exponent, settings.THROTTLE_MAX_DELAY_SECONDS)


LOGIN_PAIR = Rule("login-pair", "LOGIN_FREE_FAILURES", "LOGIN_BASE_DELAY_SECONDS")
LOGIN_ADDRESS = Rule("login-addr", "LOGIN_ADDRESS_FREE_FAILURES", "LOGIN_BASE_DELAY_SECONDS")
LOGIN_ACCOUNT = Rule("login-account", "LOGIN_ACCOUNT_FREE_FAILURES", "LOGIN_BASE_DELAY_SECONDS")
RESET_EMAIL = Rule(
    "reset-email", "PASSWORD_RESET_FREE_REQUESTS", "PASSWORD_RESET_BASE_DELAY_SECONDS"
)
RESET_ADDRESS = Rule(
    "reset-addr", "PASSWORD_RESET_ADDRESS_FREE_REQUESTS", "PASSWORD_RESET_BASE_DELAY_SECONDS"
)

Keys = list[tuple[Rule, str]]


def _now() -> float:
    return time.time()


def _address_key(address: str) -> str:
    # One IPv6 client usually holds a whole /64: count it as one address.
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _cache_key(rule: Rule, identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"throttle:{rule.scope}:{digest}"


def _account(username: str) -> str:
    return username.strip().casefold()[:300]


def login_keys(*, username: str, address: str) -> Keys:
    """What a failed sign-in counts against: the (account, address) pair, the address, and
    the account (whose wait only browsers that are not the account's known devices see)."""
    account = _account(username)
    address = _address_key(address)
    return [
        (LOGIN_PAIR, f"{account}\n{address}"),
        (LOGIN_ADDRESS, address),
        (LOGIN_ACCOUNT, account),
    ]


def _device_id(username: str) -> str:
    return hashlib.sha256(_account(username).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _device_accounts(cookie: str | None) -> list[str]:
    if not cookie:
        return []
    try:
        accounts = signing.loads(cookie, salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
    except (signing.BadSignature, ValueError):
        return []
    if not isinstance(accounts, list):
        return []
    return [account for account in accounts if isinstance(account, str)][:DEVICE_ACCOUNTS]


def device_is_known(*, cookie: str | None, username: str) -> bool:
    """Has this browser signed in to this account before (its signed device cookie says so)?"""
    return _device_id(username) in _device_accounts(cookie)


def device_cookie_value(*, cookie: str | None, username: str) -> str:
    """The device cookie after a successful sign-in to ``username``: that account first."""
    account = _device_id(username)
    accounts = [account, *(a for a in _device_accounts(cookie) if a != account)]
    return signing.dumps(accounts[:DEVICE_ACCOUNTS], salt=DEVICE_COOKIE_SALT)


def password_reset_keys(*, email: str, address: str) -> Keys:
    return [(RESET_EMAIL, email.strip().casefold()[:400]), (RESET_ADDRESS, _address_key(address))]


def throttle_claim(keys: Keys) -> int:
    """Seconds to wait before another attempt; 0 means go ahead (the turn is taken).

    Call :func:`throttle_failure` or :func:`throttle_clear` afterwards to give the turn back.
    """
    now = _now()
    wait = 0
    for rule, identity in keys:
        until = cache.get(_cache_key(rule, identity) + ":until")
        if until and until > now:
            wait = max(wait, math.ceil(until - now))
    if wait:
        return wait
    claimed: list[str] = []
    for rule, identity in keys:
        key = _cache_key(rule, identity)
        if cache.get(key, 0) < rule.free:
            continue
        if not cache.add(key + ":claim", 1, timeout=CLAIM_SECONDS):
            cache.delete_many([k + ":claim" for k in claimed])
            return 1  # another request holds the turn: its outcome decides the next wait
        claimed.append(key)
    return 0


def throttle_failure(keys: Keys) -> None:
    """Count a failure (or a request, for password resets) under every key."""
    now = _now()
    memory = settings.THROTTLE_MEMORY_SECONDS
    for rule, identity in keys:
        key = _cache_key(rule, identity)
        if cache.add(key, 1, timeout=memory):
            count = 1
        else:
            try:
                count = cache.incr(key)
                cache.touch(key, memory)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=memory)
                count = 1
        delay = rule.delay(count)
        if delay:
            cache.set(key + ":until", now + delay, timeout=math.ceil(delay) + 1)
        cache.delete(key + ":claim")


def throttle_clear(keys: Iterable[tuple[Rule, str]]) -> None:
    """Forget the counts of these keys (a correct password clears its own pair only)."""
    for rule, identity in keys:
        key = _cache_key(rule, identity)
        cache.delete_many([key, key + ":until", key + ":claim"])


def throttle_release(keys: Keys) -> None:
    """Give the turn back without counting anything."""
    cache.delete_many([_cache_key(rule, identity) + ":claim" for rule, identity in keys])
