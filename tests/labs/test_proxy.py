"""The lab fault proxy (labs/images/proxy/toxiproxy.py): the Toxiproxy HTTP API and its toxics.

Most tests run the proxy as a local process on loopback, in front of a small local HTTP server,
and measure what reaches the client. The Docker tests run the image in a sandbox and drive it
with the real chaostoolkit-toxiproxy client (chaostoxi) of the toolbox image.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labs.runtime import ContainerSpec, Tmpfs
from tests.labs.conftest import lab_specs, run

PROXY_SCRIPT = Path(__file__).resolve().parents[2] / "labs" / "images" / "proxy" / "toxiproxy.py"
BIG = 100_000  # bytes of GET /big


# --- A local upstream and a local proxy ---------------------------------------------------------


class UpstreamHandler(BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, closed after the answer."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        body = b"x" * BIG if self.path == "/big" else f"hello from {self.server.label}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


def start_upstream(label: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), UpstreamHandler)
    server.daemon_threads = True
    server.label = label
    server.paths = []  # the request paths that reached it, in order
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = start_upstream("upstream")
    yield server
    server.shutdown()


class ToxiproxyProcess:
    def __init__(self, process: subprocess.Popen, api: str) -> None:
        self.process, self.api = process, api

    def exchange(
        self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None
    ):
        """(status, Content-Type, body bytes) of one API call."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.api + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get("Content-Type"), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type"), error.read()

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None):
        """(status, decoded JSON or None) of one API call."""
        status, _type, text = self.exchange(method, path, body, raw=raw, headers=headers)
        return status, (json.loads(text) if text.strip() else None)

    def port_of(self, name: str) -> int:
        status, proxy = self.call("GET", f"/proxies/{name}")
        assert status == 200, proxy
        return int(proxy["listen"].rsplit(":", 1)[1])


def start_toxiproxy(config: list | str | None = None) -> ToxiproxyProcess:
    """toxiproxy.py on 127.0.0.1, the API on a free port it reports in its log."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if config is not None:
        env["TOXIPROXY_CONFIG"] = config if isinstance(config, str) else json.dumps(config)
    process = subprocess.Popen(
        [sys.executable, str(PROXY_SCRIPT), "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if " API on 127.0.0.1:" in line:
            port = int(line.rsplit(":", 1)[1].split(",")[0])
            break
    else:
        raise AssertionError(f"toxiproxy.py did not start: {''.join(lines)}")
    # Keep reading its log, so that the pipe never fills up.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return ToxiproxyProcess(process, f"http://127.0.0.1:{port}")


@pytest.fixture
def toxiproxy(upstream) -> Iterator[ToxiproxyProcess]:
    proxy = start_toxiproxy(
        [{"name": "web", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream.server_port}"}]
    )
    yield proxy
    proxy.process.terminate()
    proxy.process.wait(timeout=10)


def timed_get(port: int, path: str = "/") -> tuple[float, bytes]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        body = response.read()
    return time.monotonic() - started, body


def raw_exchange(port: int, *, timeout: float = 5.0) -> tuple[bytes, float, str]:
    """Send a GET on a raw socket and read until the end: (bytes, seconds, how it ended)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /big HTTP/1.0\r\nHost: test\r\n\r\n")
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return received, time.monotonic() - started, "reset"
            except TimeoutError:
                return received, time.monotonic() - started, "still open"
            if not data:
                return received, time.monotonic() - started, "closed"
            received += data


def add_toxic(toxiproxy: ToxiproxyProcess, body: dict, proxy: str = "web") -> dict:
    status, toxic = toxiproxy.call("POST", f"/proxies/{proxy}/toxics", body)
    assert status == 200, toxic
    return toxic


# --- The API ------------------------------------------------------------------------------------


def test_version_and_the_proxies_it_starts_with(toxiproxy, upstream):
    assert toxiproxy.call("GET", "/version") == (200, {"version": "2.12.0+academy"})

    status, proxies = toxiproxy.call("GET", "/proxies")

    assert status == 200 and list(proxies) == ["web"]
    web = proxies["web"]
    assert web["upstream"] == f"127.0.0.1:{upstream.server_port}"
    assert web["enabled"] is True and web["toxics"] == []
    host, port = web["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # port 0 was replaced by the one it picked
    assert timed_get(int(port))[1] == b"hello from upstream"


def test_create_a_proxy_on_a_free_port_then_conflict(toxiproxy, upstream):
    body = {
        "name": "extra",
        "listen": "127.0.0.1:0",
        "upstream": f"127.0.0.1:{upstream.server_port}",
    }

    status, created = toxiproxy.call("POST", "/proxies", body)

    assert status == 201
    assert created["name"] == "extra" and created["enabled"] is True and created["toxics"] == []
    port = int(created["listen"].rsplit(":", 1)[1])
    assert port > 0 and port != toxiproxy.port_of("web")
    assert timed_get(port)[1] == b"hello from upstream"
    assert toxiproxy.call("POST", "/proxies", body) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    assert toxiproxy.call("DELETE", "/proxies/extra") == (204, None)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert toxiproxy.call("GET", "/proxies/extra")[0] == 404


def test_errors_are_json_with_their_status_as_toxiproxy_answers_them(toxiproxy):
    """Checked against Toxiproxy 2.x's api.go (ApiError, apiError, the Err* values),
    toxic_collection.go (AddToxicJson, UpdateToxicJson) and proxy_collection.go (PopulateJson)."""
    web_port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"name": "taken", "type": "latency"})
    cases = [
        (("GET", "/proxies/nope"), 404, "proxy not found"),
        (("GET", "/proxies/web/toxics/nope"), 404, "toxic not found"),
        (("DELETE", "/proxies/web/toxics/nope"), 404, "toxic not found"),
        (("POST", "/proxies/nope/toxics", {"type": "latency"}), 404, "proxy not found"),
        # The proxy or toxic is looked up before the body is read.
        (("POST", "/proxies/nope", ["not", "an object"]), 404, "proxy not found"),
        (("POST", "/proxies/web/toxics/nope", "not an object"), 404, "toxic not found"),
        (("POST", "/proxies/web/toxics", {"type": "nope"}), 400, "invalid toxic type"),
        (("POST", "/proxies/web/toxics", {"type": ["latency"]}), 400, "bad request body: json"),
        (
            ("POST", "/proxies/web/toxics", {"type": "latency", "stream": "sideways"}),
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (
            ("POST", "/proxies/web/toxics", {"type": "latency", "stream": ""}),
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (
            ("POST", "/proxies/web/toxics", {"type": "latency", "toxicity": "0.5"}),
            400,
            "bad request body: json: cannot unmarshal string into Go struct field "
            "ToxicWrapper.toxicity of type float32",
        ),
        # A taken name is refused before the attributes are read; an unknown type before that.
        (
            ("POST", "/proxies/web/toxics", {"name": "taken", "type": "latency", "attributes": 3}),
            409,
            "toxic already exists",
        ),
        (("POST", "/proxies/web/toxics", {"name": "taken", "type": "nope"}), 400, "invalid toxic"),
        (
            ("POST", "/proxies/web/toxics", {"type": "latency", "attributes": {"latency": 1.5}}),
            400,
            "bad request body: json: cannot unmarshal number 1.5 into Go struct field "
            "LatencyToxic.attributes.latency of type int64",
        ),
        (
            ("POST", "/proxies/web/toxics", {"type": "timeout", "attributes": {"timeout": "5"}}),
            400,
            "bad request body: json: cannot unmarshal string into Go struct field "
            "TimeoutToxic.attributes.timeout of type int64",
        ),
        (
            ("POST", "/proxies/web/toxics", {"type": "bandwidth", "attributes": {"rate": 2**63}}),
            400,
            "bad request body: json: cannot unmarshal number",
        ),
        (
            ("POST", "/proxies/web/toxics/taken", {"attributes": {"jitter": True}}),
            400,
            "bad request body: json: cannot unmarshal bool",
        ),
        (("POST", "/proxies", {"name": "x"}), 400, "missing required field: upstream"),
        (("POST", "/proxies", {"upstream": "a:1"}), 400, "missing required field: name"),
        (
            ("POST", "/proxies", {"name": "x", "upstream": "no-port"}),
            400,
            "bad request body: upstream must be a string of the form host:port",
        ),
        (
            (
                "POST",
                "/proxies",
                {"name": "x", "listen": f"127.0.0.1:{web_port}", "upstream": "a:1"},
            ),
            500,
            f"listen tcp 127.0.0.1:{web_port}: bind: address already in use",
        ),
    ]
    for (method, path, *body), status, message in cases:
        code, content_type, text = toxiproxy.exchange(method, path, body[0] if body else None)
        answer = json.loads(text)
        assert code == status == answer["status"], (method, path, body, answer)
        assert answer["error"].startswith(message), (method, path, answer)
        assert set(answer) == {"error", "status"}
        assert content_type == "text/plain; charset=utf-8"  # Go's http.Error

    assert toxiproxy.call("POST", "/proxies", raw=b"{not json")[0] == 400
    assert toxiproxy.call("POST", "/proxies", raw=b"")[1]["error"] == "bad request body: EOF"
    nan = b'{"type": "latency", "toxicity": NaN}'  # not JSON, though Python would read it
    assert toxiproxy.call("POST", "/proxies/web/toxics", raw=nan)[0] == 400
    # POST /populate writes its own errors, with the proxies it made: none.
    target = "127.0.0.1:1"
    assert toxiproxy.call("POST", "/populate", [{"upstream": target}]) == (
        400,
        {"error": "missing required field: name at proxy 1", "status": 400, "proxies": None},
    )
    twice = [{"name": "a", "upstream": target}, {"name": "a", "upstream": target}]
    assert toxiproxy.call("POST", "/populate", twice) == (
        500,  # Toxiproxy's error for this carries no status of its own
        {"error": 'duplicate proxy name "a"', "status": 500, "proxies": None},
    )
    # The router's answers are plain: its 404 page, an empty 405; and the browser guard's 403.
    assert toxiproxy.exchange("GET", "/nowhere")[::2] == (404, b"404 page not found\n")
    assert toxiproxy.exchange("PUT", "/proxies/web")[::2] == (405, b"")
    browser = toxiproxy.exchange("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert browser == (403, "text/plain; charset=utf-8", b"User agent not allowed\n")
    # Nothing of the above changed anything.
    assert [t["name"] for t in toxiproxy.call("GET", "/proxies/web/toxics")[1]] == ["taken"]
    assert toxiproxy.call("GET", "/proxies/web/toxics/taken")[1]["attributes"] == {
        "latency": 0,
        "jitter": 0,
    }
    assert list(toxiproxy.call("GET", "/proxies")[1]) == ["web"]


def test_toxicity_and_attributes_outside_the_usual_ranges_are_taken_as_toxiproxy_takes_them(
    toxiproxy,
):
    toxic = add_toxic(
        toxiproxy,
        {
            "name": "odd",
            "type": "latency",
            "toxicity": 2,
            "attributes": {"latency": -100, "jitter": -5, "unknown": "ignored"},
        },
    )

    assert toxic["toxicity"] == 2.0
    assert toxic["attributes"] == {"latency": -100, "jitter": -5}
    status, updated = toxiproxy.call(
        "PATCH",
        "/proxies/web/toxics/odd",
        {"toxicity": -0.5, "attributes": {"latency": None, "jitter": 0}},
    )
    assert status == 200
    assert (updated["toxicity"], updated["attributes"]) == (-0.5, {"latency": -100, "jitter": 0})
    defaults = add_toxic(toxiproxy, {"type": "slicer", "toxicity": None, "attributes": None})
    assert defaults["toxicity"] == 1.0 and defaults["attributes"]["average_size"] == 0


def held(port: int) -> bool:
    """Whether a request through the proxy gets neither data nor a close for a second."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            sock.recv(1024)
        except TimeoutError:
            return True
        return False


def test_toxicity_above_one_always_applies_and_below_zero_never(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"name": "never", "type": "timeout", "toxicity": -1})
    for _ in range(5):
        assert timed_get(port)[1] == b"hello from upstream"

    add_toxic(toxiproxy, {"name": "always", "type": "timeout", "toxicity": 2.5})

    assert all(held(port) for _ in range(3))


def test_negative_and_zero_attributes_act_as_in_toxiproxy(toxiproxy):
    port = toxiproxy.port_of("web")

    def only(toxic: dict) -> None:
        assert toxiproxy.call("POST", "/reset")[0] == 204
        add_toxic(toxiproxy, {"name": "t", **toxic})

    # A latency below zero waits for nothing (a wait of 100 s would outlast the client).
    only({"type": "latency", "attributes": {"latency": -100_000, "jitter": -100_000}})
    assert timed_get(port)[1] == b"hello from upstream"
    # A timeout of 0 or less holds the connection until the toxic goes.
    only({"type": "timeout", "attributes": {"timeout": -1}})
    assert held(port)
    # A rate of 0 or less lets nothing through (Toxiproxy's loop never ends at 0).
    for rate in (0, -10):
        only({"type": "bandwidth", "attributes": {"rate": rate}})
        assert held(port)
    # limit_data of 0 or less closes at the first data, with nothing sent.
    for limit in (0, -1):
        only({"type": "limit_data", "attributes": {"bytes": limit}})
        assert raw_exchange(port)[::2] == (b"", "closed")
    # A negative close delay does not hold the close back, and nothing breaks.
    only({"type": "slow_close", "attributes": {"delay": -600}})
    received, _seconds, ending = raw_exchange(port)
    assert ending == "closed" and received.endswith(b"x" * 100)
    # Where Toxiproxy's slicer would panic, this one still delivers everything.
    for attributes in (
        {"average_size": 100, "size_variation": -50},
        {"average_size": -5, "size_variation": 0},
        {"average_size": 100, "size_variation": 0, "delay": -10},
    ):
        only({"type": "slicer", "attributes": attributes})
        assert timed_get(port, "/big")[1] == b"x" * BIG
    # reset_peer with a negative timeout resets at once, after the first data.
    only({"type": "reset_peer", "attributes": {"timeout": -200}})
    assert raw_exchange(port)[::2] == (b"", "reset")
    assert toxiproxy.call("POST", "/reset")[0] == 204
    assert timed_get(port)[1] == b"hello from upstream"


def test_toxics_are_created_with_toxiproxys_defaults_listed_updated_and_deleted(toxiproxy):
    toxic = add_toxic(toxiproxy, {"type": "latency", "attributes": {"latency": 10, "extra": 1}})

    assert toxic == {
        "attributes": {"latency": 10, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert toxiproxy.call("POST", "/proxies/web/toxics", {"type": "latency"}) == (
        409,
        {"error": "toxic already exists", "status": 409},
    )
    add_toxic(toxiproxy, {"name": "cut", "type": "limit_data", "stream": "UPSTREAM"})

    status, updated = toxiproxy.call(
        "POST",
        "/proxies/web/toxics/latency_downstream",
        {"attributes": {"jitter": 5}, "toxicity": 0.5},
    )

    assert status == 200
    assert updated["attributes"] == {"latency": 10, "jitter": 5}  # merged, not replaced
    assert updated["toxicity"] == 0.5
    status, listed = toxiproxy.call("GET", "/proxies/web/toxics")
    assert status == 200
    assert [(t["name"], t["stream"]) for t in listed] == [
        ("cut", "upstream"),
        ("latency_downstream", "downstream"),
    ]
    assert toxiproxy.call("GET", "/proxies/web")[1]["toxics"] == listed
    assert toxiproxy.call("GET", "/proxies/web/toxics/cut")[1]["attributes"] == {"bytes": 0}
    assert toxiproxy.call("DELETE", "/proxies/web/toxics/cut") == (204, None)
    assert [t["name"] for t in toxiproxy.call("GET", "/proxies/web/toxics")[1]] == [
        "latency_downstream"
    ]


# --- Toxics, measured ---------------------------------------------------------------------------


def test_latency_toxic_delays_every_answer_until_it_is_removed(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"name": "slow", "type": "latency", "attributes": {"latency": 500}})

    slow, body = timed_get(port)

    assert slow >= 0.5 and body == b"hello from upstream"
    toxiproxy.call("DELETE", "/proxies/web/toxics/slow")
    assert timed_get(port)[0] < 0.5


def test_latency_on_the_upstream_stream_delays_the_request(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "latency", "stream": "upstream", "attributes": {"latency": 400}})

    assert timed_get(port)[0] >= 0.4


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP echo server: one connection can carry many round trips."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def serve() -> None:
        while True:
            try:
                conn, _address = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def round_trip(sock: socket.socket, message: bytes) -> float:
    started = time.monotonic()
    sock.sendall(message)
    received = b""
    while len(received) < len(message):
        received += sock.recv(1024)
    assert received == message
    return time.monotonic() - started


def test_toxicity_is_drawn_once_per_connection(toxiproxy, echo_port):
    body = {"name": "echo", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"}
    assert toxiproxy.call("POST", "/proxies", body)[0] == 201
    port = toxiproxy.port_of("echo")
    add_toxic(
        toxiproxy, {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 150}}, "echo"
    )

    kinds = []
    for _ in range(24):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            kinds.append(tuple(round_trip(sock, b"ping") >= 0.15 for _ in range(2)))

    # Every round trip of a connection is slow, or none is; and both kinds of connection
    # occur (all 24 alike has a chance of 2 * 0.5**24, about 1 in 8 million).
    assert set(kinds) == {(True, True), (False, False)}, kinds


def test_toxicity_zero_never_applies(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "timeout", "toxicity": 0, "attributes": {"timeout": 0}})

    for _ in range(5):
        assert timed_get(port)[1] == b"hello from upstream"


def test_timeout_toxic_stops_the_data_then_closes_the_connection(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"name": "stop", "type": "timeout", "attributes": {"timeout": 500}})

    received, seconds, ending = raw_exchange(port)

    assert (received, ending) == (b"", "closed")
    assert seconds >= 0.5  # the upstream had answered and closed long before


def test_timeout_zero_holds_the_connection_until_the_toxic_is_removed(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"name": "stop", "type": "timeout", "attributes": {"timeout": 0}})
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1024)  # neither data nor a close for a whole second

        assert toxiproxy.call("DELETE", "/proxies/web/toxics/stop") == (204, None)

        # The answer was dropped while the toxic was there; the upstream's close now gets out.
        assert sock.recv(1024) == b""


def test_bandwidth_toxic_limits_the_rate(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "bandwidth", "attributes": {"rate": 100}})  # KB/s

    seconds, body = timed_get(port, "/big")

    assert len(body) == BIG
    assert seconds >= 0.8  # 100 KB at 100 KB/s: ten 100 ms slices, the first one at once


def test_limit_data_closes_after_that_many_bytes(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "limit_data", "attributes": {"bytes": 1000}})

    received, _seconds, ending = raw_exchange(port)

    assert len(received) == 1000 and ending == "closed"
    assert received.startswith(b"HTTP/1.0 200 OK")


def test_reset_peer_resets_the_connection(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "reset_peer", "attributes": {"timeout": 200}})

    received, seconds, ending = raw_exchange(port)

    assert (received, ending) == (b"", "reset")
    assert seconds >= 0.2


def test_slow_close_delays_only_the_close(toxiproxy):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "slow_close", "attributes": {"delay": 600}})

    received, seconds, ending = raw_exchange(port)

    assert ending == "closed" and received.endswith(b"x" * 100) and len(received) > BIG
    assert seconds >= 0.6


def test_slicer_delivers_everything_in_pieces(toxiproxy):
    port = toxiproxy.port_of("web")
    attributes = {"average_size": 2000, "size_variation": 500, "delay": 1000}  # 1 ms apart
    add_toxic(toxiproxy, {"type": "slicer", "attributes": attributes})

    seconds, body = timed_get(port, "/big")

    assert body == b"x" * BIG
    assert seconds >= 0.04  # at least 40 slices of at most 2500 bytes, 1 ms apart


# --- Proxies: disable, reset, update, populate --------------------------------------------------


def test_a_disabled_proxy_refuses_and_reset_brings_everything_back(toxiproxy, upstream):
    port = toxiproxy.port_of("web")
    add_toxic(toxiproxy, {"type": "latency", "attributes": {"latency": 2000}})
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.sendall(b"GET /held HTTP/1.0\r\n\r\n")
    # Disabled only once the proxy has relayed the request (its answer is held back): a
    # connection still in the listener's backlog, or with its request unread, is closed with
    # a reset (ECONNRESET here) by the kernel, as Toxiproxy's would be: that raced before.
    deadline = time.monotonic() + 10
    while "/held" not in upstream.paths:
        assert time.monotonic() < deadline, "the request never reached the upstream"
        time.sleep(0.01)

    status, proxy = toxiproxy.call("POST", "/proxies/web", {"enabled": False})

    assert status == 200 and proxy["enabled"] is False
    assert held.recv(1024) == b""  # open connections are closed too, without their answer
    held.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)

    assert toxiproxy.call("POST", "/reset") == (204, None)

    proxy = toxiproxy.call("GET", "/proxies/web")[1]
    assert proxy["enabled"] is True and proxy["toxics"] == []
    assert proxy["listen"] == f"127.0.0.1:{port}"
    seconds, body = timed_get(port)
    assert body == b"hello from upstream" and seconds < 2


def test_update_moves_a_proxy_to_another_upstream(toxiproxy):
    other = start_upstream("other")
    try:
        port = toxiproxy.port_of("web")
        status, proxy = toxiproxy.call(
            "POST", "/proxies/web", {"upstream": f"127.0.0.1:{other.server_port}"}
        )
        assert status == 200 and proxy["enabled"] is True
        assert timed_get(toxiproxy.port_of("web"))[1] == b"hello from other"
        assert toxiproxy.port_of("web") == port  # same listen address, listening again
    finally:
        other.shutdown()


def test_populate_keeps_what_is_unchanged_and_adds_the_rest(toxiproxy, upstream):
    web = toxiproxy.call("GET", "/proxies/web")[1]
    add_toxic(toxiproxy, {"name": "kept", "type": "latency"})
    target = f"127.0.0.1:{upstream.server_port}"

    status, answer = toxiproxy.call(
        "POST",
        "/populate",
        [
            {"name": "web", "listen": web["listen"], "upstream": target},
            {"name": "second", "listen": "127.0.0.1:0", "upstream": target, "enabled": False},
        ],
    )

    assert status == 201
    by_name = {proxy["name"]: proxy for proxy in answer["proxies"]}
    assert [t["name"] for t in by_name["web"]["toxics"]] == ["kept"]  # same addresses: kept
    assert by_name["second"]["enabled"] is False
    duplicate = [{"name": "a", "upstream": target}, {"name": "a", "upstream": target}]
    assert toxiproxy.call("POST", "/populate", duplicate)[0] == 500  # as Toxiproxy: see above
    assert set(toxiproxy.call("GET", "/proxies")[1]) == {"web", "second"}


def test_a_broken_initial_config_stops_the_process():
    process = subprocess.run(
        [sys.executable, str(PROXY_SCRIPT), "--port", "0"],
        env={**os.environ, "TOXIPROXY_CONFIG": '[{"name": "x"}]'},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert process.returncode == 1
    assert "missing required field: upstream at proxy 1" in process.stdout


# --- In the lab image, driven by chaostoxi ------------------------------------------------------


def proxy_sandbox_specs(images: dict[str, str]) -> list[ContainerSpec]:
    toolbox, _target, dependency = lab_specs(images)
    config = [{"name": "dependency", "listen": "0.0.0.0:8666", "upstream": "dependency:8080"}]
    proxy = ContainerSpec(
        name="proxy",
        image=images["proxy"],
        env={"TOXIPROXY_CONFIG": json.dumps(config)},
        memory=64,
        pids=64,
        tmpfs={"/tmp": Tmpfs(size=8)},
    )
    return [toolbox, proxy, dependency]


def wait_for_the_proxy(sandbox) -> None:
    result = run(
        sandbox,
        "for i in $(seq 100); do curl -fsS http://proxy:8474/version && exit 0; sleep 0.1; done;"
        " exit 1",
    )
    assert result.exit_code == 0, result.output


# Runs in the toolbox with Chaos Toolkit's Python, as an experiment's python provider would.
CHAOSTOXI_SCRIPT = r"""
import json, time, urllib.request
from chaostoxi.proxy import actions as proxies, probes
from chaostoxi.toxic import actions as toxics

configuration = {"toxiproxy_host": "proxy"}
found = {}

def quote_seconds(port):
    started = time.monotonic()
    urllib.request.urlopen(f"http://proxy:{port}/data", timeout=10).read()
    return time.monotonic() - started

found["exists"] = probes.proxy_exist("dependency", configuration)
found["upstream"] = probes.get_proxy_attribute("dependency", "upstream", configuration)
found["created"] = proxies.create_proxy("extra", "dependency", 8080, configuration=configuration)
found["extra_port"] = configuration["extra_PORT"]
found["fast"] = quote_seconds(configuration["extra_PORT"])
found["latency_toxic"] = toxics.create_latency_toxic(
    "extra", "slow", 400, configuration=configuration
)
found["slow"] = quote_seconds(configuration["extra_PORT"])
found["partial_toxic"] = toxics.create_toxic(
    "dependency", "some", "latency", toxicity=0.5, attributes={"latency": 1},
    configuration=configuration,
)
found["deleted"] = toxics.delete_toxic("extra", "slow", configuration=configuration)
found["fast_again"] = quote_seconds(configuration["extra_PORT"])
found["disabled"] = proxies.disable_proxy("extra", configuration=configuration)
try:
    quote_seconds(configuration["extra_PORT"])
    found["refused"] = False
except OSError:
    found["refused"] = True
found["enabled"] = proxies.enable_proxy("extra", configuration=configuration)
found["served_again"] = quote_seconds(configuration["extra_PORT"]) < 5
found["reset"] = proxies.reset(configuration=configuration)
found["toxics_after_reset"] = json.load(
    urllib.request.urlopen("http://proxy:8474/proxies/dependency/toxics")
)
proxies.delete_proxy("extra", configuration=configuration)
found["extra_exists"] = probes.proxy_exist("extra", configuration)
print("RESULT " + json.dumps(found))
"""


@pytest.mark.docker
def test_chaostoxi_drives_the_proxy_image(make_sandbox, lab_images):
    sandbox = make_sandbox(proxy_sandbox_specs(lab_images))
    wait_for_the_proxy(sandbox)

    result = run(
        sandbox, f"/opt/chaostoolkit/bin/python - <<'PY'\n{CHAOSTOXI_SCRIPT}\nPY", timeout=60
    )

    assert result.exit_code == 0, result.output
    # The output mixes chaostoxi's log lines (stderr) with ours, in no fixed order.
    (line,) = [line for line in result.output.splitlines() if line.startswith("RESULT ")]
    found = json.loads(line.removeprefix("RESULT "))
    assert found["exists"] is True and found["upstream"] == "dependency:8080"
    assert found["created"] is True and int(found["extra_port"]) > 0
    assert found["latency_toxic"] is True and found["partial_toxic"] is True
    assert found["slow"] >= 0.4 and found["fast"] < 0.4 and found["fast_again"] < 0.4
    assert found["deleted"] is True
    assert found["disabled"] is True and found["refused"] is True
    assert found["enabled"] is True and found["served_again"] is True
    assert found["reset"] is True and found["toxics_after_reset"] == []
    assert found["extra_exists"] is False


@pytest.mark.docker
def test_an_experiment_adds_and_rolls_back_a_toxic_through_chaostoxi(make_sandbox, lab_images):
    sandbox = make_sandbox(proxy_sandbox_specs(lab_images))
    wait_for_the_proxy(sandbox)
    experiment = {
        "title": "The dependency answers through the proxy, slowly",
        "description": "A latency toxic, then its rollback.",
        "configuration": {"toxiproxy_host": "proxy"},
        "steady-state-hypothesis": {
            "title": "The dependency answers through the proxy",
            "probes": [
                {
                    "type": "probe",
                    "name": "data-through-the-proxy",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": "http://proxy:8666/data", "timeout": 5},
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "add-latency",
                "provider": {
                    "type": "python",
                    "module": "chaostoxi.toxic.actions",
                    "func": "create_toxic",
                    "arguments": {
                        "for_proxy": "dependency",
                        "toxic_name": "slow",
                        "toxic_type": "latency",
                        "toxicity": 1.0,
                        "attributes": {"latency": 300},
                    },
                },
            },
            {
                "type": "probe",
                "name": "time-a-call",
                "provider": {
                    "type": "process",
                    "path": "curl",
                    "arguments": "-s -o /dev/null -w %{time_total} http://proxy:8666/data",
                },
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "remove-latency",
                "provider": {
                    "type": "python",
                    "module": "chaostoxi.toxic.actions",
                    "func": "delete_toxic",
                    "arguments": {"for_proxy": "dependency", "toxic_name": "slow"},
                },
            }
        ],
    }
    script = (
        f"cd ~ && cat > experiment.json <<'JSON'\n{json.dumps(experiment)}\nJSON\n"
        "chaos run --rollback-strategy=always experiment.json >/dev/null 2>&1; echo exit=$?;"
        " curl -s http://proxy:8474/proxies/dependency/toxics; echo; cat journal.json"
    )

    result = run(sandbox, script, timeout=90)

    lines = result.output.splitlines()
    assert lines[0] == "exit=0", result.output
    assert lines[1] == "[]"  # the rollback removed the toxic
    journal = json.loads("\n".join(lines[2:]))
    assert journal["status"] == "completed" and journal["deviated"] is False
    added, timed = journal["run"]
    assert added["status"] == "succeeded" and added["output"] is True
    assert float(timed["output"]["stdout"]) >= 0.3  # the toxic was on the wire
    (removed,) = journal["rollbacks"]
    assert removed["status"] == "succeeded" and removed["output"] is True


@pytest.mark.docker
def test_the_image_runs_unprivileged_on_a_read_only_filesystem(make_sandbox, lab_images):
    sandbox = make_sandbox(proxy_sandbox_specs(lab_images))
    wait_for_the_proxy(sandbox)

    result = run(
        sandbox,
        "for p in /proc/[0-9]*; do"
        "  [ \"$(tr '\\0' ' ' < $p/cmdline)\" = 'python3 /opt/toxiproxy/toxiproxy.py ' ]"
        "  && grep -E '^(Uid|CapEff):' $p/status;"
        " done; touch /opt/toxiproxy/x 2>&1; true",
        container="proxy",
        user="toxiproxy",
    )

    assert "Uid:\t10004\t10004" in result.output
    assert "CapEff:\t0000000000000000" in result.output
    assert "Read-only file system" in result.output
