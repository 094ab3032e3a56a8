"""toxiproxy.py: a TCP fault proxy that speaks the Toxiproxy HTTP API (v2), standard library only.

Written for the labs, so that Chaos Toolkit's chaostoolkit-toxiproxy extension (``chaostoxi``),
toxiproxy-cli and the other Toxiproxy clients drive it unchanged. Each proxy listens on its own
address and relays every TCP connection to its upstream; toxics change what flows through.

    TOXIPROXY_HOST, TOXIPROXY_PORT   where the API listens (--host 127.0.0.1, --port 8474)
    TOXIPROXY_CONFIG                 proxies to create at start, as the JSON of POST /populate:
                                     [{"name": "dependency", "listen": "0.0.0.0:8666",
                                       "upstream": "dependency:8080"}]
    TOXIPROXY_CONFIG_FILE, --config  the same JSON, read from a file

API (JSON in and out), answering as Toxiproxy 2.x does (its api.go, toxic_collection.go and
proxy_collection.go): errors are {"error": "...", "status": code}, sent as text/plain like Go's
http.Error; an unknown path is the router's plain "404 page not found", a known path with another
method an empty 405; POST /populate answers its errors with "proxies": null.

    GET  /version                          {"version": "..."}
    GET  /proxies                          {name: proxy, ...}
    POST /proxies                          create (201); 409 when the name exists
    POST /populate                         create or replace a list of proxies (201)
    GET, POST (or PATCH), DELETE /proxies/{proxy}        show, update (listen, upstream, enabled)
    GET, POST /proxies/{proxy}/toxics                    list, add (200); 409 for a taken name
    GET, POST (or PATCH), DELETE /proxies/{proxy}/toxics/{toxic}
    POST /reset                            enable every proxy and remove every toxic (204)
    GET  /events                           what the API changed, for the lab's checks (ours)

A proxy is {"name", "listen", "upstream", "enabled", "toxics"}; "listen" with port 0 picks a free
port, and the answer holds the port. A disabled proxy closes its listener and its connections,
so clients are refused. A toxic is {"name", "type", "stream", "toxicity", "attributes"}: stream is
"downstream" (upstream to client, the default) or "upstream" (client to upstream); toxicity is
the chance that it applies to a connection, drawn once per connection, as Toxiproxy does: any
number is taken, and 0 or less never applies, 1 or more always does. Attributes are whole numbers
(1.5, "5" or true are a 400, null leaves one as it was); negative ones are taken as Toxiproxy
takes them. Types and attributes (times in ms unless said):

    latency      latency, jitter   each chunk waits latency +- jitter (<= 0: no wait, no jitter)
    timeout      timeout           data stops (dropped); the connection closes after timeout
                                   (0 or less: not until the toxic is removed)
    bandwidth    rate              at most rate KB/s (0 or less: nothing gets through)
    slow_close   delay             the close is delayed by delay (<= 0: not delayed)
    reset_peer   timeout           after the first data, wait timeout, then reset (TCP RST)
    limit_data   bytes             close once this many bytes went through (<= 0: at the first)
    slicer       average_size, size_variation (bytes), delay (microseconds)

Differences: under a timeout toxic the peer's close is held back with the data (Toxiproxy
passes it on at once), so that a client really waits for the timeout. Where Toxiproxy's Go code
panics and the whole server stops (bandwidth with a negative rate; slicer with a size_variation
of 0 or less on data longer than average_size), this proxy does not: a negative rate holds the
data as 0 does, the slicer cuts at average_size, and passes data whole when average_size is 0
or less. Like Toxiproxy, requests from browsers (a Mozilla user agent)
are refused with a plain 403, so that a web page cannot drive the proxy, and a listen address
already in use is a 500.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "2.12.0+academy"
CHUNK = 32 * 1024
INBOX_CHUNKS = 64  # a link reads ahead at most this many chunks (back pressure)
POLL = 0.5  # seconds a blocked socket call waits before looking at the connection again
CONNECT_TIMEOUT = 10.0
MAX_BODY = 1024 * 1024
STREAMS = ("upstream", "downstream")
# Attribute defaults per toxic type; every attribute is a whole number >= 0.
TOXIC_TYPES = {
    "latency": {"latency": 0, "jitter": 0},
    "timeout": {"timeout": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "reset_peer": {"timeout": 0},
    "limit_data": {"bytes": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
}


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stdout.write(f"{stamp} toxiproxy {message}\n")
    sys.stdout.flush()


class ApiError(Exception):
    """An answer {"error": message, "status": status}, as Toxiproxy's apiError writes it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class PlainError(Exception):
    """An answer of Toxiproxy's router or middleware: plain text, not its JSON errors."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def bad_body(reason: str) -> ApiError:
    return ApiError(f"bad request body: {reason}", 400)


def split_address(value: object, *, what: str, listen: bool) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') -> (host, port); raises a 400 naming the field."""
    if not isinstance(value, str) or ":" not in value:
        raise bad_body(f"{what} must be a string of the form host:port")
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port.isdigit() or not (0 if listen else 1) <= int(port) <= 65535:
        raise bad_body(f"{what} has no valid port: {value!r}")
    if not host and not listen:
        raise bad_body(f"{what} has no host: {value!r}")
    return host, int(port)


# --- Toxics ------------------------------------------------------------------------------------

_uids = itertools.count(1)


class Toxic:
    """One toxic of a proxy. Links keep their own state per toxic, keyed by uid."""

    def __init__(self, *, name: str, type: str, stream: str, toxicity: float, attributes: dict):
        self.uid = next(_uids)
        self.revision = 0  # bumped by updates: links draw the toxicity again
        self.name, self.type, self.stream = name, type, stream
        self.toxicity, self.attributes = toxicity, attributes

    def as_json(self) -> dict:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


# Toxiproxy decodes a toxic into Go structs; these are the names its errors give.
GO_STRUCTS = {
    "latency": "LatencyToxic",
    "timeout": "TimeoutToxic",
    "bandwidth": "BandwidthToxic",
    "slow_close": "SlowCloseToxic",
    "reset_peer": "ResetToxic",
    "limit_data": "LimitDataToxic",
    "slicer": "SlicerToxic",
}
INT64 = (-(2**63), 2**63 - 1)
FLOAT32_MAX = 3.4028234663852886e38


def _json_type(value: object) -> str:
    """How Go's encoding/json names a JSON value in "cannot unmarshal X into ..."."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def cannot_unmarshal(value: object, field: str, go_type: str) -> ApiError:
    return bad_body(
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {field} of type {go_type}"
    )


def _whole_number(kind: str, name: str, value: object) -> int:
    """An attribute as Toxiproxy's int64 fields take it: any whole number, negative and zero
    included (what they do is the toxic's business), never 1.5, 1e3, "5" or true."""
    valid = isinstance(value, int) and not isinstance(value, bool)
    if not valid or not INT64[0] <= value <= INT64[1]:
        raise cannot_unmarshal(value, f"{GO_STRUCTS[kind]}.attributes.{name}", "int64")
    return value


def _toxicity(value: object) -> float:
    """Toxiproxy's float32 toxicity: any number is taken. Below 0 (or 0) the toxic never
    applies, above 1 it always does, as Toxiproxy compares it with a draw from [0, 1)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not -FLOAT32_MAX <= value <= FLOAT32_MAX:
        raise cannot_unmarshal(value, "ToxicWrapper.toxicity", "float32")
    return float(value)


def _attributes(kind: str, given: object, base: dict) -> dict:
    if given is None:
        return dict(base)  # JSON null leaves a Go struct as it was
    if not isinstance(given, dict):
        raise cannot_unmarshal(given, "ToxicWrapper.attributes", f"toxics.{GO_STRUCTS[kind]}")
    # Unknown attributes are ignored and null leaves a value as it was, as Go's decoding does.
    return {
        name: _whole_number(kind, name, given[name]) if given.get(name) is not None else value
        for name, value in base.items()
    }


def toxic_from_json(body: object, taken: set[str] | frozenset[str] = frozenset()) -> Toxic:
    """A new toxic, checked in Toxiproxy's order (AddToxicJson): the fields' JSON types, the
    stream, the type, the name against ``taken`` (409), then the attributes."""
    if not isinstance(body, dict):
        raise bad_body(
            f"json: cannot unmarshal {_json_type(body)} into Go value of type toxics.ToxicWrapper"
        )
    for field in ("name", "type", "stream"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise cannot_unmarshal(body[field], f"ToxicWrapper.{field}", "string")
    toxicity = 1.0 if body.get("toxicity") is None else _toxicity(body["toxicity"])
    kind, stream = body.get("type") or "", body.get("stream")
    stream = "downstream" if stream is None else stream
    if stream.lower() not in STREAMS:
        raise ApiError("stream was invalid, can be either upstream or downstream", 400)
    stream = stream.lower()
    if kind not in TOXIC_TYPES:
        raise ApiError("invalid toxic type", 400)
    name = body.get("name") or f"{kind}_{stream}"
    if name in taken:
        raise ApiError("toxic already exists", 409)
    return Toxic(
        name=name,
        type=kind,
        stream=stream,
        toxicity=toxicity,
        attributes=_attributes(kind, body.get("attributes"), TOXIC_TYPES[kind]),
    )


# --- Connections -------------------------------------------------------------------------------


class Chunk:
    """Data read from one side, stamped on arrival; no data means the peer closed (EOF)."""

    __slots__ = ("arrived", "data", "delays", "eof")

    def __init__(self, data: bytes) -> None:
        self.arrived = time.monotonic()
        self.data, self.eof = data, not data
        self.delays: dict[int, float] = {}  # latency drawn for this chunk, per toxic uid


class LinkState:
    """What one link remembers about one toxic: whether it applies, and its counters."""

    __slots__ = ("active", "armed", "revision", "sent", "since")

    def __init__(self, toxic: Toxic, now: float) -> None:
        self.since, self.sent, self.armed = now, 0, None
        self.draw(toxic)

    def draw(self, toxic: Toxic) -> None:
        self.revision = toxic.revision
        self.active = random.random() < toxic.toxicity


class Link:
    """One direction of a connection: a reader thread fills the inbox, the pump applies the
    toxics of its stream and writes. Chunks carry their arrival time, so latency does not add up
    across chunks that were already waiting."""

    def __init__(self, connection: Connection, stream: str, src, dst) -> None:
        self.connection, self.stream, self.src, self.dst = connection, stream, src, dst
        self.cond = threading.Condition()
        self.inbox: deque[Chunk] = deque()
        self.states: dict[int, LinkState] = {}
        self.bandwidth_due = 0.0
        self.slice_due = 0.0

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def read(self) -> None:
        closed = self.connection.closed
        while not closed.is_set():
            try:
                data = self.src.recv(CHUNK)
            except TimeoutError:
                continue
            except OSError:
                self.connection.finish()
                return
            with self.cond:
                while len(self.inbox) >= INBOX_CHUNKS and not closed.is_set():
                    self.cond.wait(POLL)
                self.inbox.append(Chunk(data))
                self.cond.notify_all()
            if not data:
                return

    def pump(self) -> None:
        closed = self.connection.closed
        while not closed.is_set():
            with self.cond:
                step, value = self._next_step(time.monotonic())
                self.cond.notify_all()  # there may be room in the inbox for the reader
                if step == "wait":
                    self.cond.wait(min(value, POLL))
                    continue
            if step in ("send", "send-and-close"):
                if not self._send(value):
                    self.connection.finish()
                    return
                if step == "send-and-close":  # limit_data: the limit is reached
                    self.connection.finish()
                    return
            elif step == "eof":
                with contextlib.suppress(OSError):
                    self.dst.shutdown(socket.SHUT_WR)
                self.connection.link_done()
                return
            elif step in ("close", "reset"):
                self.connection.finish(reset=step == "reset")
                return

    def _send(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self.connection.closed.is_set():
                return False
            try:
                view = view[self.dst.send(view) :]
            except TimeoutError:
                continue
            except OSError:
                return False
        return True

    def _toxics(self, now: float) -> list[tuple[Toxic, LinkState]]:
        """The toxics of this stream that apply to this connection, in the order they came."""
        chain = self.connection.proxy.chain(self.stream)
        states, active = {}, []
        for toxic in chain:
            state = self.states.get(toxic.uid) or LinkState(toxic, now)
            if state.revision != toxic.revision:
                state.draw(toxic)
            states[toxic.uid] = state
            if state.active:
                active.append((toxic, state))
        self.states = states
        return active

    def _next_step(self, now: float) -> tuple[str, object]:
        """What the pump does next, taken from the inbox with the condition held:
        ("send" | "send-and-close", bytes), ("eof" | "close" | "reset", None), ("wait", s)."""
        toxics = self._toxics(now)
        wait = POLL
        for toxic, state in toxics:  # the toxics that act on their own, without data
            if toxic.type == "timeout" and toxic.attributes["timeout"] > 0:
                due = state.since + toxic.attributes["timeout"] / 1000
            elif toxic.type == "reset_peer" and state.armed is not None:
                due = state.armed + toxic.attributes["timeout"] / 1000
            else:
                continue
            if now >= due:
                return ("reset" if toxic.type == "reset_peer" else "close"), None
            wait = min(wait, due - now)
        if not self.inbox:
            return "wait", wait
        chunk = self.inbox[0]
        first = {toxic.type: (toxic, state) for toxic, state in reversed(toxics)}
        if "timeout" in first:
            # Data stops here and is dropped, as in Toxiproxy. The peer's close is held back
            # too (Toxiproxy passes it on at once): the client waits for the timeout.
            if chunk.eof:
                return "wait", wait
            self.inbox.popleft()
            return "wait", 0
        if "reset_peer" in first:
            self.inbox.popleft()  # dropped; the first data starts the clock
            state = first["reset_peer"][1]
            state.armed = now if state.armed is None else state.armed
            return "wait", 0
        if chunk.eof:
            # The close follows the data (it is behind it in the inbox); slow_close delays it.
            slow = [t.attributes["delay"] for t, _s in toxics if t.type == "slow_close"]
            delay = sum(max(0, ms) for ms in slow)
            if now < chunk.arrived + delay / 1000:
                return "wait", min(wait, chunk.arrived + delay / 1000 - now)
            self.inbox.popleft()
            return "eof", None
        delay = 0.0
        for toxic, _state in toxics:
            if toxic.type == "latency":
                if toxic.uid not in chunk.delays:
                    jitter = max(0, toxic.attributes["jitter"])  # Toxiproxy ignores <= 0
                    drawn = toxic.attributes["latency"] + random.uniform(-jitter, jitter)
                    chunk.delays[toxic.uid] = max(0.0, drawn) / 1000
                delay += chunk.delays[toxic.uid]
        if now < chunk.arrived + delay:
            return "wait", min(wait, chunk.arrived + delay - now)
        piece = chunk.data
        rates = [t.attributes["rate"] for t, _s in toxics if t.type == "bandwidth"]
        if any(r <= 0 for r in rates):
            # Toxiproxy's bandwidth loop lets nothing through at rate 0 (below 0 it crashes):
            # the data waits here until the toxic is removed.
            return "wait", wait
        rate = min(rates, default=0)  # KB/s, as Toxiproxy: 1 KB = 1000 B
        if rate:
            if now < self.bandwidth_due:
                return "wait", min(wait, self.bandwidth_due - now)
            piece = piece[: rate * 100]  # at most 100 ms worth at a time
            self.bandwidth_due = max(self.bandwidth_due, now) + len(piece) / (rate * 1000)
        if "slicer" in first and first["slicer"][0].attributes["average_size"] > 0:
            slicer = first["slicer"][0].attributes
            if now < self.slice_due:
                return "wait", min(wait, self.slice_due - now)
            variation = max(0, slicer["size_variation"])
            size = slicer["average_size"] + random.randint(-variation, variation)
            piece = piece[: max(1, size)]
            self.slice_due = now + slicer["delay"] / 1_000_000
        limits = [(t.attributes["bytes"], state) for t, state in toxics if t.type == "limit_data"]
        remaining = min((limit - state.sent for limit, state in limits), default=None)
        if remaining is not None:
            piece = piece[: max(0, remaining)]
            if not piece:
                return "close", None
        chunk.data = chunk.data[len(piece) :]
        if not chunk.data:
            self.inbox.popleft()
        for _limit, state in limits:
            state.sent += len(piece)
        if remaining is not None and len(piece) >= remaining:
            return "send-and-close", piece
        return "send", piece


class Connection:
    """A client and its upstream, relayed by two links (four threads, the opener included)."""

    def __init__(self, proxy: Proxy, client: socket.socket) -> None:
        self.proxy, self.client = proxy, client
        self.upstream: socket.socket | None = None
        self.links: list[Link] = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._threads = 0
        self._links_done = 0

    def start(self) -> None:
        self._spawn(self._open)

    def _spawn(self, target) -> bool:
        with self._lock:
            self._threads += 1
        try:
            threading.Thread(target=self._run, args=(target,), daemon=True).start()
            return True
        except RuntimeError:  # out of threads (the container's pids limit): give up this one
            with self._lock:
                self._threads -= 1
            self.finish()
            self._maybe_close()
            return False

    def _run(self, target) -> None:
        try:
            target()
        finally:
            with self._lock:
                self._threads -= 1
            self._maybe_close()

    def _open(self) -> None:
        host, port = split_address(self.proxy.upstream, what="upstream", listen=False)
        try:
            self.upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except OSError as error:
            log(f"proxy {self.proxy.name}: cannot reach upstream {self.proxy.upstream}: {error}")
            self.finish()
            return
        for sock in (self.client, self.upstream):
            sock.settimeout(POLL)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = Link(self, "upstream", self.client, self.upstream)
        down = Link(self, "downstream", self.upstream, self.client)
        self.links = [up, down]
        if self.closed.is_set():
            return
        for target in (up.read, up.pump, down.read):
            if not self._spawn(target):
                return
        down.pump()

    def link_done(self) -> None:
        """A direction has ended cleanly (half close); both ended: the connection is over."""
        with self._lock:
            self._links_done += 1
            both = self._links_done == 2
        if both:
            self.finish()

    def finish(self, *, reset: bool = False) -> None:
        """Ends the connection; the last thread out closes the sockets (see _maybe_close).

        A reset sets SO_LINGER to 0, so that closing sends RST instead of FIN."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            try:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # Wakes the threads blocked on this socket; SHUT_RD sends nothing to the peer.
                sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
            except OSError:
                pass
        for link in self.links:
            link.wake()

    def _maybe_close(self) -> None:
        # Closing a socket that another thread still uses could hit a reused descriptor.
        with self._lock:
            last = self._threads == 0
        if not last:
            return
        self.finish()
        for sock in (self.client, self.upstream):
            if sock is not None:
                sock.close()
        self.proxy.forget(self)


# --- Proxies -----------------------------------------------------------------------------------


class Proxy:
    def __init__(self, *, name: str, listen: str, upstream: str) -> None:
        self.name, self.listen, self.upstream = name, listen, upstream
        self.enabled = False
        self.toxics: list[Toxic] = []
        self._chains: dict[str, tuple[Toxic, ...]] = {stream: () for stream in STREAMS}
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.as_json() for toxic in self.ordered_toxics()],
        }

    def ordered_toxics(self) -> list[Toxic]:
        return [*self._chains["upstream"], *self._chains["downstream"]]

    def chain(self, stream: str) -> tuple[Toxic, ...]:
        return self._chains[stream]

    # Toxics: the collection's lock is held by the caller; links read the chains without locks.

    def find_toxic(self, name: str) -> Toxic:
        for toxic in self.toxics:
            if toxic.name == name:
                return toxic
        raise ApiError("toxic not found", 404)

    def add_toxic(self, toxic: Toxic) -> None:
        if any(existing.name == toxic.name for existing in self.toxics):
            raise ApiError("toxic already exists", 409)
        self.toxics.append(toxic)
        self.toxics_changed()

    def remove_toxic(self, name: str) -> None:
        self.toxics.remove(self.find_toxic(name))
        self.toxics_changed()

    def clear_toxics(self) -> None:
        self.toxics.clear()
        self.toxics_changed()

    def toxics_changed(self) -> None:
        """New chains for the links to read, and every link told to look at them again."""
        self._chains = {
            stream: tuple(t for t in self.toxics if t.stream == stream) for stream in STREAMS
        }
        with self._lock:
            links = [link for conn in self._connections for link in conn.links]
        for link in links:
            link.wake()

    # Listening.

    def start(self) -> None:
        if self.enabled:
            return
        host, port = split_address(self.listen, what="listen", listen=True)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(128)
        except OSError as error:
            listener.close()
            reason = error.strerror or str(error)
            raise ApiError(f"listen tcp {self.listen}: bind: {reason.lower()}", 500) from None
        bound_port = listener.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.listen = f"{shown}:{bound_port}"
        self._listener, self.enabled = listener, True
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()
        log(f"proxy {self.name}: listening on {self.listen}, upstream {self.upstream}")

    def stop(self) -> None:
        """Closes the listener (new clients are refused) and every open connection."""
        if not self.enabled:
            return
        self.enabled = False
        listener, self._listener = self._listener, None
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.finish()
        log(f"proxy {self.name}: stopped")

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            if self._listener is not listener:
                client.close()
                return
            connection = Connection(self, client)
            with self._lock:
                self._connections.add(connection)
            connection.start()

    def forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)


class Collection:
    """Every proxy, by name. One lock serialises the API's changes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError("proxy not found", 404)
        return proxy

    @staticmethod
    def _fields(body: object, *, where: str = "") -> tuple[str, str, str, bool]:
        if not isinstance(body, dict):
            raise bad_body(f"a proxy must be a JSON object{where}")
        name, listen = body.get("name"), body.get("listen") or "0.0.0.0:0"
        upstream, enabled = body.get("upstream"), body.get("enabled", True)
        if enabled is None:
            enabled = True
        if not name or not isinstance(name, str):
            raise ApiError(f"missing required field: name{where}", 400)
        if not upstream or not isinstance(upstream, str):
            raise ApiError(f"missing required field: upstream{where}", 400)
        if not isinstance(enabled, bool):
            raise bad_body("enabled must be true or false")
        split_address(listen, what="listen", listen=True)
        split_address(upstream, what="upstream", listen=False)
        return name, listen, upstream, enabled

    def create(self, body: object) -> Proxy:
        name, listen, upstream, enabled = self._fields(body)
        with self.lock:
            if name in self.proxies:
                raise ApiError("proxy already exists", 409)
            proxy = Proxy(name=name, listen=listen, upstream=upstream)
            if enabled:
                proxy.start()
            self.proxies[name] = proxy
            return proxy

    def populate(self, body: object) -> list[Proxy]:
        """Creates or replaces the proxies; one that exists with the same addresses is kept,
        toxics included. Everything is validated before anything changes."""
        if not isinstance(body, list):
            raise bad_body("expected a JSON array of proxies")
        wanted = []
        for number, item in enumerate(body, start=1):
            fields = self._fields(item, where=f" at proxy {number}")
            if fields[0] in (w[0] for w in wanted):
                # Toxiproxy's error here carries no status, so its API answers 500.
                raise ApiError(f"duplicate proxy name {json.dumps(fields[0])}", 500)
            wanted.append(fields)
        done = []
        with self.lock:
            for name, listen, upstream, enabled in wanted:
                existing = self.proxies.get(name)
                if existing and (existing.listen, existing.upstream) == (listen, upstream):
                    done.append(existing)
                    continue
                if existing:
                    existing.stop()
                    del self.proxies[name]
                proxy = Proxy(name=name, listen=listen, upstream=upstream)
                if enabled:
                    proxy.start()
                self.proxies[name] = proxy
                done.append(proxy)
        return done

    def update(self, name: str, body: object) -> Proxy:
        with self.lock:
            proxy = self.get(name)  # 404 first, then the body
            if not isinstance(body, dict):
                raise bad_body("a proxy must be a JSON object")
            listen = body.get("listen", proxy.listen)
            upstream = body.get("upstream", proxy.upstream)
            enabled = body.get("enabled", proxy.enabled)
            split_address(listen, what="listen", listen=True)
            split_address(upstream, what="upstream", listen=False)
            if not isinstance(enabled, bool):
                raise bad_body("enabled must be true or false")
            if (listen, upstream) != (proxy.listen, proxy.upstream):
                proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if enabled:
                proxy.start()
            else:
                proxy.stop()
            return proxy

    def delete(self, name: str) -> None:
        with self.lock:
            self.get(name).stop()
            del self.proxies[name]

    def reset(self) -> None:
        with self.lock:
            for proxy in self.proxies.values():
                proxy.clear_toxics()
                proxy.start()

    def add_toxic(self, name: str, body: object) -> Toxic:
        with self.lock:
            proxy = self.get(name)
            toxic = toxic_from_json(body, {existing.name for existing in proxy.toxics})
            proxy.add_toxic(toxic)
            log(f"proxy {name}: toxic {toxic.name} added: {json.dumps(toxic.as_json())}")
            return toxic

    def update_toxic(self, name: str, toxic_name: str, body: object) -> Toxic:
        with self.lock:
            toxic = self.get(name).find_toxic(toxic_name)  # 404 first, then the body
            if not isinstance(body, dict):
                raise bad_body(f"json: cannot unmarshal {_json_type(body)} into Go value")
            toxicity = body.get("toxicity")
            toxicity = toxic.toxicity if toxicity is None else _toxicity(toxicity)
            attributes = _attributes(toxic.type, body.get("attributes"), toxic.attributes)
            toxic.toxicity, toxic.attributes = toxicity, attributes
            toxic.revision += 1
            self.get(name).toxics_changed()
            return toxic

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        with self.lock:
            self.get(name).remove_toxic(toxic_name)
            log(f"proxy {name}: toxic {toxic_name} removed")


class Events:
    """What the API changed and when, oldest first: the last MAX entries, in memory. The lab's
    checks hold a learner's journal against it ("a latency toxic was added at 10:02:03": was
    it?). Only a change the API carried out makes an entry; nothing changes one."""

    MAX = 500

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: deque[dict] = deque(maxlen=self.MAX)
        self._seq = itertools.count(1)
        self.since = self.now()

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds")

    def note(self, method: str, parts: list[str], status: int, answer: object) -> None:
        if method == "GET" or (status >= 300 and status != 204):
            return
        event = {"time": self.now(), "method": method, "path": "/" + "/".join(parts)[:300]}
        if parts[:1] == ["proxies"] and len(parts) >= 2:
            event["proxy"] = parts[1][:100]
        if len(parts) == 4 and parts[2] == "toxics":
            event["toxic"] = parts[3][:100]
        if isinstance(answer, dict) and len(json.dumps(answer)) <= 4096:
            event["answer"] = answer  # the toxic or proxy as it is now
        with self._lock:
            self._events.append({"seq": next(self._seq), **event})

    def read(self) -> dict:
        """The events, and since when they are complete (the oldest kept once some dropped)."""
        with self._lock:
            full = len(self._events) == self.MAX
            since = self._events[0]["time"] if full else self.since
            return {"since": since, "events": list(self._events)}


EVENTS = Events()


# --- HTTP API ----------------------------------------------------------------------------------


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON, and Go's decoder refuses them."""
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


class Handler(BaseHTTPRequestHandler):
    server_version = f"toxiproxy-academy/{VERSION}"
    protocol_version = "HTTP/1.1"
    collection: Collection  # set on the class by serve()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        try:
            if self.headers.get("User-Agent", "").startswith("Mozilla/"):
                raise PlainError(403, "User agent not allowed\n")
            raw = urllib.parse.urlsplit(self.path).path
            parts = [urllib.parse.unquote(p) for p in raw.strip("/").split("/")] if raw else []
            if (method, parts) == ("GET", ["events"]):
                status, body = 200, EVENTS.read()
            else:
                status, body = self._route(method, parts)
                EVENTS.note(method, parts, status, body)
        except PlainError as error:
            self._reply_text(error.status, error.text)
            return
        except ApiError as error:
            # Go's http.Error, which Toxiproxy's apiError calls, sends its JSON as text/plain.
            body = {"error": error.message, "status": error.status}
            self._reply_text(error.status, json.dumps(body, separators=(",", ":")) + "\n")
            return
        except Exception as error:  # a bug must not kill the API: answer 500 and log it
            log(f"error: {method} {self.path}: {error!r}")
            status, body = 500, {"error": str(error), "status": 500}
        self._reply(status, body)

    def _route(self, method: str, parts: list[str]) -> tuple[int, object]:
        c = self.collection
        match (method, parts):
            case ("GET", ["version"]):
                return 200, {"version": VERSION}
            case ("POST", ["reset"]):
                c.reset()
                return 204, None
            case ("GET", ["proxies"]):
                with c.lock:
                    return 200, {name: p.as_json() for name, p in c.proxies.items()}
            case ("POST", ["proxies"]):
                return 201, c.create(self._body()).as_json()
            case ("POST", ["populate"]):
                try:
                    return 201, {"proxies": [p.as_json() for p in c.populate(self._body())]}
                except ApiError as error:  # Toxiproxy's Populate writes its own errors
                    return error.status, {
                        "error": error.message,
                        "status": error.status,
                        "proxies": None,
                    }
            case ("GET", ["proxies", name]):
                with c.lock:
                    return 200, c.get(name).as_json()
            case ("POST" | "PATCH", ["proxies", name]):
                return 200, c.update(name, self._body()).as_json()
            case ("DELETE", ["proxies", name]):
                c.delete(name)
                return 204, None
            case ("GET", ["proxies", name, "toxics"]):
                with c.lock:
                    return 200, [t.as_json() for t in c.get(name).ordered_toxics()]
            case ("POST", ["proxies", name, "toxics"]):
                return 200, c.add_toxic(name, self._body()).as_json()
            case ("GET", ["proxies", name, "toxics", toxic]):
                with c.lock:
                    return 200, c.get(name).find_toxic(toxic).as_json()
            case ("POST" | "PATCH", ["proxies", name, "toxics", toxic]):
                return 200, c.update_toxic(name, toxic, self._body()).as_json()
            case ("DELETE", ["proxies", name, "toxics", toxic]):
                c.remove_toxic(name, toxic)
                return 204, None
        routed = parts in (["version"], ["reset"], ["proxies"], ["populate"]) or (
            parts[:1] == ["proxies"]
            and (len(parts) == 2 or (len(parts) in (3, 4) and parts[2] == "toxics"))
        )
        # gorilla/mux, Toxiproxy's router: an empty 405, or its plain 404 page.
        if routed:
            raise PlainError(405, "")
        raise PlainError(404, "404 page not found\n")

    def _body(self) -> object:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    self.close_connection = True
                    raise bad_body("too large")
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                raise bad_body("too large")
            data = self.rfile.read(length)
        if not data.strip():
            raise bad_body("EOF")
        try:
            return json.loads(data, parse_constant=_no_constant)
        except ValueError as error:
            raise bad_body(str(error)) from None

    def _reply_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reply(self, status: int, body: object) -> None:
        self.send_response(status)
        if status == 204:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(body).encode() + b"\n"
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        log(f"api {self.client_address[0]} {format % args}")


def serve(host: str, port: int, collection: Collection) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"collection": collection})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def initial_config(path: str | None) -> object:
    text = os.environ.get("TOXIPROXY_CONFIG", "").strip()
    path = path or os.environ.get("TOXIPROXY_CONFIG_FILE") or None
    if path:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(text) if text else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("TOXIPROXY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TOXIPROXY_PORT", "8474")))
    parser.add_argument("--config", help="JSON file of proxies (as POST /populate)")
    args = parser.parse_args(argv)
    threading.stack_size(512 * 1024)  # four threads per connection: keep them small
    collection = Collection()
    try:
        proxies = collection.populate(initial_config(args.config))
    except (OSError, ValueError) as error:
        log(f"cannot read the initial proxies: {error}")
        return 1
    except ApiError as error:
        log(f"cannot create the initial proxies: {error.message}")
        return 1
    try:
        server = serve(args.host, args.port, collection)
    except OSError as error:
        log(f"cannot listen on {args.host}:{args.port}: {error}")
        return 1
    log(f"API on {args.host}:{server.server_address[1]}, {len(proxies)} proxies")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
