"""Fair use of the lab engine under load: rate limits, live-session and terminal limits, and
one check in flight per session.

- Rate limits count requests in fixed windows (LAB_RATE_LIMITS, e.g. "12/60": twelve a minute)
  per user, per session and per client address. A request over a limit is refused with the
  seconds until its window ends (HTTP 429 and Retry-After at the views). Refused requests count
  too, but a fixed window ends on time whatever a client does, so hammering does not lengthen
  the wait. At a window's edge a client may get up to twice a limit through; that is the price
  of one cache key and one atomic increment per rule.
- Live sessions are counted in the database, per user and per client address (a session
  records the address it was started from), so every process sees the same count.
- Open terminals are leases in the cache, per user and per client address, renewed while the
  terminal is open and forgotten when it closes or its web process dies.
- One check in flight per session: a marker in the cache, taken by the request that enqueues the
  check and given back by the worker when the check is done (or found done in the database, or
  expired). A second click meanwhile gets the same pending answer and runs nothing.

A room behind one address (a workshop on the venue's NAT) is not one client: the site names,
through LAB_ROOM_MEMBERS, the users who are in a room right now (attendees of a workshop that is
on). For them the per-address limits give way to the per-user ones (the room's size is bounded
by its capacity), and their sessions, requests and terminals do not count against the address,
so a flood from anyone else at that address is limited exactly as before.

Counts live in Django's cache. In production that is Redis (REDIS_URL), shared by every web
process and worker. The embedded default is the local-memory cache of each process; that holds
because `make run` serves the site from a single uvicorn process, where every limit is decided,
and because a check's marker is also found done from the database when the worker's cache is
not the web's. Running several web processes needs REDIS_URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.typing import WebSocketScope
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext, ngettext

from academy.net import client_ip
from labs.models import LabSession
from labs.services.access import LabSessionError

if TYPE_CHECKING:
    from academy.accounts.models import User

log = logging.getLogger(__name__)

# exam_*: the certification exams (academy/certifications/views.py) count the same way, and so
# does the public credential verifier (certificate_views.py).
ACTIONS = (
    "check",
    "refresh",
    "start",
    "reset",
    "extend",
    "exam_start",
    "exam_answer",
    "credential_verify",
    "language_prompt",
)
SCOPES = ("session", "user", "address")


class LabRateLimited(LabSessionError):
    """Too many requests; ``retry_after`` says in how many seconds to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"12/60"``: twelve per sixty seconds."""
        limit, _, seconds = str(text).partition("/")
        return cls(limit=int(limit), seconds=max(1, int(seconds or 1)))


# --- Who is asking --------------------------------------------------------------------------------


def client_address(request: HttpRequest) -> str:
    """The client's address of an HTTP request, trusting only configured proxies."""
    return client_ip(request)


def scope_client_address(scope: WebSocketScope) -> str:
    """The same for a websocket's ASGI scope (the terminal)."""
    client = scope.get("client") or ("", 0)
    meta = {"REMOTE_ADDR": client[0] or ""}
    for raw_name, value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        if name in ("x-forwarded-for", "x-real-ip"):
            meta["HTTP_" + name.upper().replace("-", "_")] = value.decode("latin-1")
    request = HttpRequest()
    request.META = meta
    return client_ip(request)


def address_key(address: str) -> str:
    """One client as the limits see it: an IPv4 address, or the /64 an IPv6 client holds."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def room_members() -> QuerySet[User] | None:
    """The users in a room right now, as a queryset of users (the callable named by
    LAB_ROOM_MEMBERS), or None when the site has no rooms or its hook fails."""
    path = getattr(settings, "LAB_ROOM_MEMBERS", "")
    if not path:
        return None
    try:
        members: QuerySet[User] = import_string(path)()
    except Exception:  # the limits still hold, per address, as without rooms
        log.exception("The room members hook %s failed", path)
        return None
    return members


def in_room(user_id: int | None) -> bool:
    """Whether the per-address limits give way to the per-user ones for this user."""
    if not user_id:
        return False
    try:
        members = room_members()
        return members is not None and members.filter(pk=user_id).exists()
    except Exception:  # no answer: the per-address limits hold, as without rooms
        log.warning("Could not tell whether user %s is in a room", user_id, exc_info=True)
        return False


def _key(*parts: object) -> str:
    identity = "\n".join(str(part) for part in parts[1:])
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"labs-limit:{parts[0]}:{digest}"


# --- Rate limits ----------------------------------------------------------------------------------


def _now() -> float:
    return time.time()


def _count(key: str, rate: Rate, now: float) -> int:
    """Counts one request in the current window of ``rate``; seconds to wait if over, else 0."""
    window = int(now // rate.seconds)
    key = f"{key}:{rate.seconds}:{window}"
    timeout = rate.seconds + 1
    if cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=timeout)
            count = 1
    if count <= rate.limit:
        return 0
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def _too_many(seconds: int) -> LabRateLimited:
    message = ngettext(
        "Too many requests. Try again in %(seconds)d second.",
        "Too many requests. Try again in %(seconds)d seconds.",
        seconds,
    ) % {"seconds": seconds}
    return LabRateLimited(message, retry_after=seconds)


def rate_limit(
    action: str,
    *,
    user: User | AnonymousUser | None = None,
    session: LabSession | None = None,
    address: str | None = None,
) -> None:
    """Counts one ``action`` (check, refresh, start, reset, extend) for this user, session and
    client address; raises LabRateLimited when any of the action's limits is used up."""
    if action not in ACTIONS:
        raise ValueError(f"unknown lab action: {action!r}")
    rules = settings.LAB_RATE_LIMITS.get(action, {})
    user_id = user.pk if user is not None and user.is_authenticated else None
    identities = {
        "session": session.pk if session is not None else None,
        "user": user_id,
        "address": address_key(address) if address and not in_room(user_id) else None,
    }
    now = _now()
    wait = 0
    for scope in SCOPES:
        identity = identities[scope]
        if identity is None or scope not in rules:
            continue
        wait = max(wait, _count(_key(f"{action}-{scope}", identity), Rate.parse(rules[scope]), now))
    if wait:
        raise _too_many(wait)


# --- Live sessions --------------------------------------------------------------------------------


def live_sessions_limit(*, user: User, address: str | None) -> None:
    """Refuses one more live session for a user, or for a client address, already at its
    limit (LAB_MAX_LIVE_SESSIONS_PER_USER, LAB_MAX_LIVE_SESSIONS_PER_ADDRESS)."""
    live = LabSession.objects.live()
    mine = live.filter(user=user)
    if mine.count() >= settings.LAB_MAX_LIVE_SESSIONS_PER_USER:
        raise LabRateLimited(
            gettext("You have too many labs running. Stop one before you start another."),
            retry_after=_seconds_until_one_ends(mine),
        )
    if address is None or in_room(user.pk):
        return
    theirs = live.filter(client_address=address)
    members = room_members()
    if members is not None:  # a room's sessions are its own, not the address's
        theirs = theirs.exclude(user__in=members)
    if theirs.count() >= settings.LAB_MAX_LIVE_SESSIONS_PER_ADDRESS:
        raise LabRateLimited(
            gettext(
                "Too many labs are running from your network. Try again when one of them ends."
            ),
            retry_after=_seconds_until_one_ends(theirs),
        )


def _seconds_until_one_ends(sessions: QuerySet[LabSession]) -> int:
    soonest = sessions.filter(expires_at__isnull=False).order_by("expires_at").first()
    if soonest is None:
        return 60
    assert soonest.expires_at is not None  # filtered above
    seconds = (soonest.expires_at - timezone.now()).total_seconds()
    return min(3600, max(1, math.ceil(seconds)))


# --- Open terminals -------------------------------------------------------------------------------


def _lease_ttl() -> float:
    """A lease outlives three polls of the terminal that renews it."""
    return max(30.0, 3 * float(settings.LAB_TERMINAL_POLL_SECONDS))


Leases = dict[str, float]  # holder -> when its lease ends (time.time())
_Result = TypeVar("_Result")


def _with_lock(key: str, change: Callable[[Leases, float], tuple[Leases, _Result]]) -> _Result:
    """Runs ``change(leases) -> (leases, result)`` on the leases at ``key``, one at a time."""
    lock = key + ":lock"
    locked = False
    for _ in range(50):  # a second at most; then go ahead: a place too many beats a hang
        locked = cache.add(lock, 1, timeout=5)
        if locked:
            break
        time.sleep(0.02)
    try:
        now = _now()
        leases = {h: t for h, t in (cache.get(key) or {}).items() if t > now}
        leases, result = change(leases, now)
        cache.set(key, leases, timeout=int(_lease_ttl()) + 5)
        return result
    finally:
        if locked:
            cache.delete(lock)


def _terminal_keys(user_id: int, address: str) -> list[tuple[str, int]]:
    keys = [(_key("terminals-user", user_id), settings.LAB_MAX_TERMINALS_PER_USER)]
    if not in_room(user_id):
        keys.append(
            (
                _key("terminals-address", address_key(address)),
                settings.LAB_MAX_TERMINALS_PER_ADDRESS,
            )
        )
    return keys


def terminal_lease_take(*, holder: str, user_id: int, address: str) -> bool:
    """Takes one of the user's and the address's open-terminal places; False when either is
    full (LAB_MAX_TERMINALS_PER_USER, LAB_MAX_TERMINALS_PER_ADDRESS)."""
    taken: list[str] = []
    for key, limit in _terminal_keys(user_id, address):

        def take(leases: Leases, now: float, limit: int = limit) -> tuple[Leases, bool]:
            if holder not in leases and len(leases) >= limit:
                return leases, False
            return {**leases, holder: now + _lease_ttl()}, True

        if not _with_lock(key, take):
            for done in taken:
                _lease_drop(done, holder)
            return False
        taken.append(key)
    return True


def terminal_lease_renew(*, holder: str, user_id: int, address: str) -> None:
    for key, _limit in _terminal_keys(user_id, address):
        _with_lock(key, lambda leases, now: ({**leases, holder: now + _lease_ttl()}, None))


def terminal_lease_give_back(*, holder: str, user_id: int, address: str) -> None:
    # Both keys, room or not: the user may have left the room since the lease was taken.
    _lease_drop(_key("terminals-user", user_id), holder)
    _lease_drop(_key("terminals-address", address_key(address)), holder)


def _lease_drop(key: str, holder: str) -> None:
    _with_lock(key, lambda leases, now: ({h: t for h, t in leases.items() if h != holder}, None))


# --- One check in flight per session --------------------------------------------------------------


def _check_key(session_id: int) -> str:
    return f"labs-check-in-flight:{session_id}"


def check_in_flight_take(*, session: LabSession, step_id: int) -> dict[str, Any] | None:
    """Marks a check of ``step_id`` in flight for the session; returns None when it was taken,
    or the marker of the check in flight (``{"step": id, "after": result id or None, ...}``).

    The worker gives the marker back when its check is over; a web process whose cache is not
    the worker's (the embedded defaults) sees it over when a result newer than the marker's
    "after" is stored. "after" is read once the marker is ours, so that a result stored just
    before (the previous check's) never makes this one look over; until then it is None, and
    the check counts as in flight. A flood that keeps the marker changing hands is refused,
    never let through."""
    from labs.models import CheckResult

    key = _check_key(session.pk)
    timeout = settings.LAB_CHECK_IN_FLIGHT_SECONDS
    results = CheckResult.objects.filter(session=session)
    for _ in range(3):
        token = secrets.token_hex(8)
        if cache.add(key, {"step": step_id, "after": None, "token": token}, timeout=timeout):
            after = results.order_by("-pk").values_list("pk", flat=True).first() or 0
            cache.set(key, {"step": step_id, "after": after, "token": token}, timeout=timeout)
            return None
        current: dict[str, Any] | None = cache.get(key)
        if current is None:
            continue  # given back between add() and get()
        stored_after = current.get("after")
        if stored_after is None or not results.filter(pk__gt=stored_after).exists():
            return current
        # The worker stored its result but its cache is not ours: that check is over (unless
        # another click took the marker meanwhile).
        if cache.get(key) == current:
            cache.delete(key)
    return cache.get(key) or {"step": step_id, "after": None}


def check_in_flight_done(*, session_id: int) -> None:
    """The worker's check is over (stored, or failed): the next click runs a new one."""
    cache.delete(_check_key(session_id))
