"""Runs HAProxy and lets the lab change its configuration over HTTP (standard library only).

    GET  /config    the running configuration (text)
    PUT  /config    a new configuration: checked with `haproxy -c` first; 400 with HAProxy's
                    own words and nothing changed when it is wrong; else written and reloaded
                    without dropping connections (master-worker mode, SIGUSR2)
    GET  /servers   every backend server and its state, from HAProxy's runtime API (JSON)
    GET  /health

HAProxy runs in master-worker mode as this process's child; when it exits, so does this
process, and the container stops. Settings: LB_CONFIG_DIR (/tmp/lb), LB_ADMIN_PORT (9000).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG_DIR = Path(os.environ.get("LB_CONFIG_DIR", "/tmp/lb"))
CONFIG = CONFIG_DIR / "haproxy.cfg"
SOCKET = CONFIG_DIR / "admin.sock"
SEED = Path(__file__).with_name("haproxy.cfg")
ADMIN_PORT = int(os.environ.get("LB_ADMIN_PORT", "9000"))
MAX_CONFIG = 64 * 1024


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stdout.write(f"{stamp} lbctl {message}\n")
    sys.stdout.flush()


class HAProxy:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()  # one change at a time

    def start(self) -> None:
        CONFIG_DIR.mkdir(parents=True, exist_ok=True)
        if not CONFIG.exists():
            shutil.copyfile(SEED, CONFIG)
        self.process = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(CONFIG)])
        log(f"haproxy started (master pid {self.process.pid})")

    def check(self, path: Path) -> tuple[bool, str]:
        result = subprocess.run(
            ["haproxy", "-c", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.returncode == 0, (result.stdout + result.stderr).strip()

    def replace(self, text: str) -> tuple[bool, str]:
        with self.lock:
            candidate = CONFIG_DIR / "candidate.cfg"
            candidate.write_text(text)
            valid, output = self.check(candidate)
            if not valid:
                candidate.unlink()
                return False, output
            candidate.replace(CONFIG)
            self.process.send_signal(signal.SIGUSR2)  # the master re-reads CONFIG
            log("configuration replaced; reloading")
            return True, output

    def servers(self) -> list[dict]:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(2)
            conn.connect(str(SOCKET))
            conn.sendall(b"show stat\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        lines = data.decode().strip().splitlines()
        if not lines:
            return []
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
        return [
            {
                "backend": row["pxname"],
                "server": row["svname"],
                "status": row["status"],
                "check": row.get("check_status", ""),
                "sessions": int(row.get("stot") or 0),
            }
            for row in rows
            if row["svname"] not in ("FRONTEND", "BACKEND") and row.get("type") == "2"
        ]


HAPROXY = HAProxy()


class Admin(BaseHTTPRequestHandler):
    server_version = "academy-lbctl/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.reply(200, {"status": "ok"})
        elif path == "/config":
            self.reply(200, CONFIG.read_text(), content_type="text/plain; charset=utf-8")
        elif path == "/servers":
            try:
                self.reply(200, {"servers": HAPROXY.servers()})
            except OSError as exc:
                self.reply(503, {"error": f"HAProxy's runtime API does not answer: {exc}"})
        else:
            self.reply(404, {"error": "not found"})

    def do_PUT(self) -> None:
        if self.path.split("?", 1)[0] != "/config":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_CONFIG:
            error = f"send the configuration as the body (1 to {MAX_CONFIG} bytes)"
            self.reply(400, {"error": error})
            return
        text = self.rfile.read(length).decode("utf-8", "replace")
        valid, output = HAPROXY.replace(text)
        if valid:
            self.reply(200, {"reloaded": True, "haproxy": output})
        else:
            self.reply(400, {"error": "HAProxy refused the configuration", "haproxy": output})

    def reply(self, status: int, body, content_type: str = "application/json") -> None:
        data = (body if isinstance(body, str) else json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        log(f"{self.client_address[0]} {format % args}")


def main() -> None:
    HAPROXY.start()
    admin = ThreadingHTTPServer(("0.0.0.0", ADMIN_PORT), Admin)
    admin.daemon_threads = True
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: HAPROXY.process.send_signal(number))
    code = HAPROXY.process.wait()
    log(f"haproxy exited with {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
