"""The system under test in chaos labs: a small HTTP service and its dependency.

Standard library only. Settings come from the environment:

ROLE                 "service" (default) or "dependency"
PORT                 port to listen on (8080)
DEPENDENCY_URL       what the service calls (http://dependency:8080/data)
DEPENDENCY_TIMEOUT   seconds the service waits for its dependency (2.0)
FALLBACK_QUOTE       when set, the service answers with it instead of failing
DELAY_MS, ERROR_RATE faults injected at start; also set at run time with PUT /faults

Endpoints: GET /health; GET / and /api/quote (service) or /data (dependency);
GET and PUT /faults ({"delay_ms": 0, "error_rate": 0.0}). One log line per request on stdout.
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
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = os.environ.get("ROLE", "service")
PORT = int(os.environ.get("PORT", "8080"))
DEPENDENCY_URL = os.environ.get("DEPENDENCY_URL", "http://dependency:8080/data")
DEPENDENCY_TIMEOUT = float(os.environ.get("DEPENDENCY_TIMEOUT", "2.0"))
FALLBACK_QUOTE = os.environ.get("FALLBACK_QUOTE", "")
HOSTNAME = socket.gethostname()

QUOTES = [
    "Everything fails, all the time.",
    "Hope is not a strategy.",
    "The best way to avoid failure is to fail constantly.",
    "Chaos engineering is the discipline of experimenting on a system.",
    "You build it, you run it.",
]


class Faults:
    """Latency and errors injected into the main endpoint, changed at run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delay_ms = int(os.environ.get("DELAY_MS", "0"))
        self.error_rate = float(os.environ.get("ERROR_RATE", "0"))

    def as_dict(self) -> dict:
        with self._lock:
            return {"delay_ms": self.delay_ms, "error_rate": self.error_rate}

    def update(self, values: dict) -> dict:
        delay_ms = int(values.get("delay_ms", self.delay_ms))
        error_rate = float(values.get("error_rate", self.error_rate))
        if not 0 <= delay_ms <= 60_000 or not 0.0 <= error_rate <= 1.0:
            raise ValueError("delay_ms must be 0..60000 and error_rate 0..1")
        with self._lock:
            self.delay_ms, self.error_rate = delay_ms, error_rate
        return self.as_dict()

    def apply(self) -> bool:
        """Sleep for the injected delay; True when this request must fail."""
        settings = self.as_dict()
        if settings["delay_ms"]:
            time.sleep(settings["delay_ms"] / 1000)
        return random.random() < settings["error_rate"]


FAULTS = Faults()


def call_dependency() -> tuple[int, dict]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(DEPENDENCY_URL, timeout=DEPENDENCY_TIMEOUT) as response:
            body = json.load(response)
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return 200, {"quote": body.get("quote"), "source": DEPENDENCY_URL, "ms": elapsed_ms}
    except (OSError, ValueError) as exc:
        detail = str(exc.reason if isinstance(exc, urllib.error.URLError) else exc)
        if FALLBACK_QUOTE:
            return 200, {"quote": FALLBACK_QUOTE, "source": "fallback", "degraded": True}
        return 503, {"error": "dependency unavailable", "detail": detail}


class Handler(BaseHTTPRequestHandler):
    server_version = "academy-target/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.reply(200, {"status": "ok", "role": ROLE, "host": HOSTNAME})
        elif path == "/faults":
            self.reply(200, FAULTS.as_dict())
        elif ROLE == "dependency" and path == "/data":
            if FAULTS.apply():
                self.reply(500, {"error": "injected failure"})
            else:
                self.reply(200, {"quote": random.choice(QUOTES), "host": HOSTNAME})
        elif ROLE != "dependency" and path in ("/", "/api/quote"):
            if FAULTS.apply():
                self.reply(500, {"error": "injected failure"})
            else:
                self.reply(*call_dependency())
        else:
            self.reply(404, {"error": "not found"})

    def do_PUT(self) -> None:
        if self.path.split("?", 1)[0] != "/faults":
            self.reply(404, {"error": "not found"})
            return
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 4096)
            self.reply(200, FAULTS.update(json.loads(self.rfile.read(length) or b"{}")))
        except (ValueError, TypeError, AttributeError) as exc:
            self.reply(400, {"error": str(exc)})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
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
    print(f"{ROLE} listening on :{PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
