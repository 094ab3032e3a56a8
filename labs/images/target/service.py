"""The system under test in chaos and GitOps labs: a small HTTP service and its dependency.

Standard library only. Start-up settings come from the environment; most can be changed at run
time with ``PUT /config`` (what a learner, or a GitOps reconciler, does):

ROLE                  "service" (default) or "dependency"
PORT                  port to listen on (8080)
DEPENDENCY_URL        what the service calls (http://dependency:8080/data); empty: the service
                      answers with a quote of its own (replicas behind a load balancer)
VERSION, MESSAGE      shown in every answer             config: version, message
DEPENDENCY_TIMEOUT    seconds to wait for the dependency config: dependency_timeout_ms
RETRIES               extra attempts after a failed call config: retries (0..5)
RETRY_BACKOFF_MS      wait before retry n: backoff * 2**(n-1)  config: retry_backoff_ms
FALLBACK_QUOTE        answer with it when the dependency fails  config: fallback_quote
DELAY_MS, ERROR_RATE  injected latency and errors       config: delay_ms, error_rate

Endpoints: GET /health; GET / and /api/quote (service) or /data (dependency); GET and PUT
/config (partial updates; 400 with the reason, nothing applied, when a value is wrong); GET and
PUT /faults (only delay_ms and error_rate); GET /requests, the requests this process answered
(see RequestLog). One log line per request on stdout.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = os.environ.get("ROLE", "service")
PORT = int(os.environ.get("PORT", "8080"))
DEPENDENCY_URL = os.environ.get("DEPENDENCY_URL", "http://dependency:8080/data")
HOSTNAME = socket.gethostname()
MAX_BODY = 8192

QUOTES = [
    "Everything fails, all the time.",
    "Hope is not a strategy.",
    "The best way to avoid failure is to fail constantly.",
    "Chaos engineering is the discipline of experimenting on a system.",
    "You build it, you run it.",
]


def _text(limit: int):
    def check(value):
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"must be a string of at most {limit} characters")
        return value

    return check


def _number(kind, low, high):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number from {low} to {high}")
        if kind is int and value != int(value):
            raise ValueError(f"must be a whole number from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return kind(value)

    return check


# name -> (validator, default from the environment)
SETTINGS = {
    "version": (_text(40), os.environ.get("VERSION", "v1")),
    "message": (_text(200), os.environ.get("MESSAGE", "")),
    "delay_ms": (_number(int, 0, 60_000), int(os.environ.get("DELAY_MS", "0"))),
    "error_rate": (_number(float, 0.0, 1.0), float(os.environ.get("ERROR_RATE", "0"))),
    "dependency_timeout_ms": (
        _number(int, 1, 60_000),
        round(float(os.environ.get("DEPENDENCY_TIMEOUT", "2.0")) * 1000),
    ),
    "retries": (_number(int, 0, 5), int(os.environ.get("RETRIES", "0"))),
    "retry_backoff_ms": (_number(int, 0, 10_000), int(os.environ.get("RETRY_BACKOFF_MS", "100"))),
    "fallback_quote": (_text(200), os.environ.get("FALLBACK_QUOTE", "")),
}


class Config:
    """The service's settings, changed as a whole or not at all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {name: default for name, (_check, default) in SETTINGS.items()}

    def as_dict(self, names=None) -> dict:
        with self._lock:
            return {k: v for k, v in self._values.items() if names is None or k in names}

    def update(self, values: object, names=None) -> dict:
        """Validates every value first; raises ValueError naming the first wrong one."""
        allowed = names or SETTINGS
        if not isinstance(values, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; known: {', '.join(allowed)}")
        checked = {}
        for name, value in values.items():
            try:
                checked[name] = SETTINGS[name][0](value)
            except ValueError as exc:
                raise ValueError(f"{name} {exc}") from None
        with self._lock:
            self._values.update(checked)
        return self.as_dict(names)


CONFIG = Config()
FAULT_SETTINGS = ("delay_ms", "error_rate")


class RequestLog:
    """What this process answered, for the platform's checks: a claim in a learner's journal
    ("my probe got a 200 at 10:02:03") is held against it. Read-only over HTTP (GET
    /requests); a learner adds to it only by really sending requests. Bounded: one ring per
    kind of path, so health checks every 100 ms cannot push out the requests of an experiment.
    It lives in memory and starts empty with the process (``since``)."""

    KINDS = ("/health", "/config", "/faults", "/api/quote", "/", "/data")
    PER_KIND = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since = now_iso()
        self._rings = {kind: deque(maxlen=self.PER_KIND) for kind in (*self.KINDS, "other")}
        self._seq = 0

    def add(self, *, at: str, method: str, path: str, status: int, ms: float, client: str) -> None:
        kind = path if path in self.KINDS else "other"
        with self._lock:
            self._seq += 1
            self._rings[kind].append(
                {
                    "seq": self._seq,
                    "time": at,  # when the request came in
                    "method": method,
                    "path": path[:200],
                    "status": status,
                    "ms": round(ms, 1),
                    "client": client,
                }
            )

    def read(self, path: str | None = None) -> dict:
        """The requests (of one path), oldest first, and since when the answer is complete:
        the process's start, or the oldest entry kept once a ring has begun to drop entries."""
        with self._lock:
            rings = (
                [self._rings[path if path in self.KINDS else "other"]]
                if path
                else list(self._rings.values())
            )
            since = max(
                [self.since] + [ring[0]["time"] for ring in rings if len(ring) == ring.maxlen]
            )
            entries = [
                entry for ring in rings for entry in ring if not path or entry["path"] == path
            ]
        return {"since": since, "requests": sorted(entries, key=lambda e: e["seq"])}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


REQUESTS = RequestLog()


def injected_failure(settings: dict) -> bool:
    """Sleeps for the injected delay; True when this request must fail."""
    if settings["delay_ms"]:
        time.sleep(settings["delay_ms"] / 1000)
    return random.random() < settings["error_rate"]


def call_dependency(settings: dict) -> tuple[int, dict]:
    """Calls the dependency with the configured timeout, retries and exponential backoff."""
    started = time.monotonic()
    timeout = settings["dependency_timeout_ms"] / 1000
    attempts, detail = 0, ""
    for attempt in range(settings["retries"] + 1):
        if attempt:
            time.sleep(settings["retry_backoff_ms"] * 2 ** (attempt - 1) / 1000)
        attempts += 1
        try:
            with urllib.request.urlopen(DEPENDENCY_URL, timeout=timeout) as response:
                body = json.load(response)
            return 200, {
                "quote": body.get("quote"),
                "source": DEPENDENCY_URL,
                "attempts": attempts,
                "ms": round((time.monotonic() - started) * 1000),
            }
        except (OSError, ValueError) as exc:
            detail = str(exc.reason if isinstance(exc, urllib.error.URLError) else exc)
    elapsed = round((time.monotonic() - started) * 1000)
    if settings["fallback_quote"]:
        return 200, {
            "quote": settings["fallback_quote"],
            "source": "fallback",
            "degraded": True,
            "attempts": attempts,
            "ms": elapsed,
        }
    return 503, {
        "error": "dependency unavailable",
        "detail": detail,
        "attempts": attempts,
        "ms": elapsed,
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "academy-target/2"
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        # The clock starts once the request line is in (a kept-alive connection waits idle
        # before it).
        self._started, self._started_at, self._status = time.monotonic(), now_iso(), 0
        return super().parse_request()

    def handle_one_request(self) -> None:
        self._status = 0
        super().handle_one_request()
        # Every answered request but reads of the log itself.
        path = urllib.parse.urlsplit(getattr(self, "path", "") or "").path
        if self._status and path != "/requests":
            REQUESTS.add(
                at=self._started_at,
                method=str(getattr(self, "command", "") or "")[:10],
                path=path,
                status=self._status,
                ms=(time.monotonic() - self._started) * 1000,
                client=self.client_address[0],
            )

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        settings = CONFIG.as_dict()
        if path == "/requests":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            self.reply(200, REQUESTS.read((query.get("path") or [None])[0]))
        elif path == "/health":
            self.reply(200, {"status": "ok", "role": ROLE, "host": HOSTNAME})
        elif path == "/config":
            self.reply(200, settings)
        elif path == "/faults":
            self.reply(200, CONFIG.as_dict(FAULT_SETTINGS))
        elif (ROLE == "dependency" and path == "/data") or (
            ROLE != "dependency" and path in ("/", "/api/quote")
        ):
            if injected_failure(settings):
                self.reply(500, {"error": "injected failure", "host": HOSTNAME})
                return
            if ROLE == "dependency" or not DEPENDENCY_URL:
                status, body = 200, {"quote": random.choice(QUOTES)}
            else:
                status, body = call_dependency(settings)
            body.update(host=HOSTNAME, version=settings["version"])
            if settings["message"]:
                body["message"] = settings["message"]
            self.reply(status, body)
        else:
            self.reply(404, {"error": "not found"})

    def do_PUT(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/config", "/faults"):
            self.reply(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError(f"the body is larger than {MAX_BODY} bytes")
            values = json.loads(self.rfile.read(length) or b"{}")
            names = FAULT_SETTINGS if path == "/faults" else None
            self.reply(200, CONFIG.update(values, names))
        except ValueError as exc:
            self.reply(400, {"error": str(exc)})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        sys.stdout.write(f"{stamp} {ROLE} {self.client_address[0]} {format % args}\n")
        sys.stdout.flush()


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    print(f"{ROLE} {CONFIG.as_dict()['version']} listening on :{PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
