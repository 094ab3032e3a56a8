"""The faults sidecar: an HTTP API inside the lab for faults the platform runs.

Standard library only. The lab never gets Docker API access: this server checks a request,
prints it as one JSON line on stdout, and waits for the platform's answer, one JSON line on
stdin with the same id. The platform (labs/faults.py) checks the request again before it acts.

    POST /v1/faults   {"action": "kill|pause|unpause|restart|stress", "target": "api",
                       "duration": 30}
                      200 done, 400 bad request, 403 not a target, 409 refused or failed,
                      504 no answer from the platform in time
    GET  /v1/targets  {"targets": ["api", ...]}
    GET  /v1/records  {"since": ..., "records": [{"seq", "time", "answered", "client", "action",
                       "target", "duration", "resource", "ok", "error"}, ...]}: the faults the
                      platform answered, oldest first (the last MAX_RECORDS); client is the
                      address that asked (the toolbox, or the lab's own agents)
    GET  /health

Settings from the environment: FAULT_TARGETS (comma-separated container names), PORT (7000),
SELF_NAME ("faults"), ANSWER_TIMEOUT seconds (20).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACTIONS = ("kill", "pause", "unpause", "restart", "stress", "unstress")
RESOURCES = ("cpu", "memory")
PORT = int(os.environ.get("PORT", "7000"))
SELF_NAME = os.environ.get("SELF_NAME", "faults")
TARGETS = tuple(
    name
    for name in (part.strip() for part in os.environ.get("FAULT_TARGETS", "").split(","))
    if name and name != SELF_NAME
)
ANSWER_TIMEOUT = float(os.environ.get("ANSWER_TIMEOUT", "20"))
MAX_BODY = 4096
REPEAT_SECONDS = 2.0
MAX_WAITING = 16  # requests waiting for an answer at once; more are turned away
MAX_RECORDS = 500


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Records:
    """The faults the platform answered, with its answer: what a check holds a learner's
    journal against ("the journal says api-2 was killed at 10:02:03": was it?). Only the
    platform's answer on stdin makes an entry, and nothing over HTTP changes one; a ring of the
    last MAX_RECORDS, in memory, empty when the sidecar starts (``since``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: deque[dict] = deque(maxlen=MAX_RECORDS)
        self._seq = 0
        self.since = now_iso()

    def add(self, request: dict, asked_at: str, answer: dict, client: str) -> None:
        with self._lock:
            self._seq += 1
            self._records.append(
                {
                    "seq": self._seq,
                    "time": asked_at,  # when the request came in
                    "answered": now_iso(),  # when the platform's answer came back
                    "client": client,
                    **{key: request[key] for key in ("action", "target", "duration")},
                    "resource": request.get("resource"),
                    "ok": answer.get("ok") is True,
                    "error": None if answer.get("ok") is True else str(answer.get("error"))[:300],
                }
            )

    def read(self) -> dict:
        """The records, and since when they are complete: the sidecar's start, or the oldest
        record kept once the ring has begun to drop records."""
        with self._lock:
            full = len(self._records) == MAX_RECORDS
            since = self._records[0]["time"] if full else self.since
            return {"since": since, "records": list(self._records)}


RECORDS = Records()


class Answers:
    """Requests waiting for the platform's answer, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list] = {}  # id -> [event, answer]
        self._stdout = threading.Lock()

    def ask(self, request: dict) -> dict | None:
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                return {"ok": False, "error": "too many faults at once; try again"}
            slot = [threading.Event(), None]
            self._waiting[request["id"]] = slot
        try:
            # Printed again until answered: the platform's relay may attach (or attach again)
            # after the first print, and attaching shows no past output. It answers a repeated
            # id without acting twice.
            deadline = time.monotonic() + ANSWER_TIMEOUT
            while (remaining := deadline - time.monotonic()) > 0:
                with self._stdout:
                    sys.stdout.write(json.dumps(request) + "\n")
                    sys.stdout.flush()
                if slot[0].wait(min(REPEAT_SECONDS, remaining)):
                    break
            return slot[1]
        finally:
            with self._lock:
                self._waiting.pop(request["id"], None)

    def answer(self, line: str) -> None:
        try:
            answer = json.loads(line)
            request_id = str(answer["id"])
        except (ValueError, KeyError, TypeError):
            log(f"ignored a line on stdin that is not an answer: {line[:200]!r}")
            return
        with self._lock:
            slot = self._waiting.get(request_id)
        if slot is not None:
            slot[1] = answer
            slot[0].set()

    def read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.answer(line)
        log("stdin closed: no platform answers any more")


ANSWERS = Answers()


def log(message: str) -> None:
    # stderr: stdout carries requests for the platform and nothing else.
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stderr.write(f"{stamp} faultd {message}\n")
    sys.stderr.flush()


def validate(body: object) -> tuple[int, dict]:
    """(0, request) when the request is well formed, else (status, error body)."""
    if not isinstance(body, dict):
        return 400, {"error": "send a JSON object"}
    action, target = body.get("action"), body.get("target")
    duration = body.get("duration", 30)
    if action not in ACTIONS:
        return 400, {"error": f"unknown action {action!r}; use one of: {', '.join(ACTIONS)}"}
    if not isinstance(target, str) or not target:
        return 400, {"error": "say which container: 'target'"}
    if target == SELF_NAME:
        return 403, {"error": f"{SELF_NAME!r} runs the faults; it cannot be a target"}
    if target not in TARGETS:
        return 403, {
            "error": f"{target!r} is not a container of this lab; "
            f"targets: {', '.join(TARGETS) or 'none'}"
        }
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        return 400, {"error": "'duration' must be a number of seconds"}
    if not 1 <= duration <= 300:
        return 400, {"error": "'duration' must be from 1 to 300 seconds"}
    resource = body.get("resource", "cpu")
    if resource not in RESOURCES:
        return 400, {"error": f"'resource' must be one of: {', '.join(RESOURCES)}"}
    request = {"action": action, "target": target, "duration": duration}
    return 0, {**request, "resource": resource} if action == "stress" else request


class Handler(BaseHTTPRequestHandler):
    server_version = "academy-faultd/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/v1/targets":
            self.reply(200, {"targets": list(TARGETS)})
        elif path == "/v1/records":
            self.reply(200, RECORDS.read())
        elif path == "/health":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/faults":
            self.reply(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.reply(400, {"error": f"send a JSON body of at most {MAX_BODY} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self.reply(400, {"error": "the body is not JSON"})
            return
        status, request = validate(body)
        if status:
            self.reply(status, request)
            return
        request = {"id": secrets.token_hex(8), **request}
        asked_at = now_iso()
        answer = ANSWERS.ask(request)
        if answer is not None:  # no answer: the platform did nothing
            RECORDS.add(request, asked_at, answer, self.client_address[0])
        if answer is None:
            self.reply(504, {**request, "ok": False, "error": "the platform did not answer"})
        elif answer.get("ok") is True:
            self.reply(200, {**request, "ok": True})
        else:
            error = str(answer.get("error") or "refused")
            self.reply(409, {**request, "ok": False, "error": error})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        log(f"{self.client_address[0]} {format % args}")


def main() -> None:
    threading.Thread(target=ANSWERS.read_stdin, daemon=True).start()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    log(f"listening on :{PORT}; targets: {', '.join(TARGETS) or 'none'}")
    server.serve_forever()


if __name__ == "__main__":
    main()
