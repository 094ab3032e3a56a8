"""Stand-ins for the faults sidecar and Toxiproxy, for journals made with `docker run`.

Runs inside the toolbox image with no network (loopback only), beside the real target service
(labs/images/target/service.py) playing "api". Not a copy of the platform: the faults stand-in
acts on the api process itself (SIGKILL, SIGSTOP, SIGCONT, a new process), where the real
sidecar asks the platform to act on a container. The HTTP exchanges match the real ones.

    python3 fakes.py faults 7000      POST /v1/faults, GET /v1/targets, GET /health
    python3 fakes.py toxiproxy 8474   POST /proxies/NAME/toxics, DELETE .../toxics/TOXIC
"""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGETS = ("api", "dependency")


def start_api() -> None:
    env = {**os.environ, "ROLE": "service", "DEPENDENCY_URL": ""}
    with open("/tmp/api.log", "a") as log:
        process = subprocess.Popen(
            [sys.executable, "/tmp/h/service.py"], env=env, stdout=log, stderr=log
        )
    with open("/tmp/api.pid", "w") as pid:
        pid.write(str(process.pid))


def signal_api(number: int) -> None:
    with open("/tmp/api.pid") as pid:
        os.kill(int(pid.read()), number)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if ROLE == "faults" and self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif ROLE == "faults" and self.path == "/v1/targets":
            self.reply(200, {"targets": list(TARGETS)})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self.body()
        if ROLE == "faults" and self.path == "/v1/faults":
            action, target = body.get("action"), body.get("target")
            if target not in TARGETS:
                self.reply(403, {"error": f"{target!r} is not a container of this lab"})
                return
            if target == "api":
                if action == "kill":
                    signal_api(signal.SIGKILL)
                elif action == "pause":
                    signal_api(signal.SIGSTOP)
                elif action == "unpause":
                    signal_api(signal.SIGCONT)
                elif action == "restart":
                    with contextlib.suppress(ProcessLookupError):
                        signal_api(signal.SIGKILL)
                    start_api()
            request = {"id": secrets.token_hex(8), "action": action, "target": target}
            self.reply(200, {**request, "duration": body.get("duration", 30), "ok": True})
        elif ROLE == "toxiproxy" and self.path.startswith("/proxies/"):
            self.reply(200, body)
        else:
            self.reply(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        pass


if __name__ == "__main__":
    ROLE, port = sys.argv[1], int(sys.argv[2])
    if ROLE == "faults":
        start_api()
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
