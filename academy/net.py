"""The client's network address, for every per-address limit (sign-in, password reset, labs).

Behind a reverse proxy ``REMOTE_ADDR`` is the proxy, and the proxy passes the client on in
``X-Forwarded-For`` (or ``X-Real-IP``). Those headers are anyone's to write, so they are read
only when the request came from a proxy listed in ``TRUSTED_PROXIES``; then the client is the
right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy (everything to its
left was written by the client and proves nothing).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``, as a normalised IP address string."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return "unknown"
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not _trusted(remote, networks):
        return str(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    if not hops and request.META.get("HTTP_X_REAL_IP"):
        hops = [request.META["HTTP_X_REAL_IP"]]
    client = remote
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage: the last good hop is as far as the trusted chain goes
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
