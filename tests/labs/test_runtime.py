"""The lab runtime against the real Docker engine: lifecycle, isolation, limits, faults, images.

Needs an engine (scripts/ensure-docker.sh) and builds the lab images once per session.
Tests that inspect the host's side of a lab network also need root and a local engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

import labs.runtime.engine
from labs.images.build import build_lab_images
from labs.runtime import (
    ContainerSpec,
    RuntimeFailure,
    RuntimeUnavailable,
    Sandbox,
    container_action,
    engine_ping,
    sandbox_create,
    sandbox_destroy,
    sandbox_exec,
    sandbox_list,
    sandbox_put_files,
)
from tests.labs.conftest import lab_specs, run, unique_labels

pytestmark = pytest.mark.docker


def state_of(sandbox: Sandbox, name: str) -> str:
    [container] = [
        resource
        for resource in sandbox_list(labels={"academy.sandbox": sandbox.sandbox_id})
        if resource.kind == "container" and resource.id == sandbox.containers[name]
    ]
    return container.state


def ip_of(sandbox: Sandbox, name: str) -> str:
    result = run(sandbox, "hostname -i", container=name, user="root")
    assert result.exit_code == 0, result.output
    return result.output.split()[0]


# --- Lifecycle ----------------------------------------------------------------------------------


def test_create_exec_destroy_lifecycle(lab_images):
    labels = unique_labels()
    sandbox = sandbox_create(labels=labels, containers=lab_specs(lab_images))
    try:
        assert set(sandbox.containers) == {"toolbox", "target", "dependency"}
        assert Sandbox.from_dict(sandbox.as_dict()) == sandbox

        result = sandbox_exec(
            container_id=sandbox.containers["toolbox"],
            command=["sh", "-c", "echo hello; echo oops >&2; exit 3"],
            user="learner",
            timeout=10,
        )
        assert (result.exit_code, result.timed_out) == (3, False)
        assert "hello" in result.output and "oops" in result.output

        listed = sandbox_list(labels=labels)
        kinds = sorted(resource.kind for resource in listed)
        assert kinds.count("container") == 3 and kinds.count("network") == 1
        assert {r.id for r in listed if r.kind == "network"} == {sandbox.network_id}
        for resource in listed:
            assert resource.labels["academy.session"] == labels["academy.session"]
            assert resource.labels["academy.expires"] == labels["academy.expires"]
    finally:
        removed = sandbox_destroy(labels=labels)
    assert removed >= 4
    assert sandbox_list(labels=labels) == []
    assert sandbox_destroy(labels=labels) == 0  # idempotent: nothing left, no error
    with pytest.raises(RuntimeFailure):
        sandbox_exec(
            container_id=sandbox.containers["toolbox"],
            command=["true"],
            user="learner",
            timeout=5,
        )


def test_labels_must_be_given_and_prefixed(lab_images):
    with pytest.raises(ValueError):
        sandbox_destroy(labels={})
    with pytest.raises(ValueError):
        sandbox_create(labels={"session": "1"}, containers=lab_specs(lab_images))
    with pytest.raises(ValueError):
        ContainerSpec(name="toolbox", image=lab_images["toolbox"], cap_add=["SYS_ADMIN"])


def test_engine_unreachable_raises_runtime_unavailable(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(labs.runtime.engine, "_clients", {})
    assert engine_ping() is False
    with pytest.raises(RuntimeUnavailable, match="ensure-docker"):
        sandbox_list(labels={"academy.session": "any"})


# --- Exec ---------------------------------------------------------------------------------------


def test_exec_timeout_kills_the_command(sandbox):
    result = run(sandbox, "sleep 300 & sleep 301", timeout=1)
    assert result.timed_out
    survivors = run(sandbox, "pgrep -f 'sleep 30[01]' || echo none")
    assert survivors.output.strip() == "none"


def test_exec_stdin_environment_workdir_and_truncated_output(sandbox):
    result = sandbox_exec(
        container_id=sandbox.containers["toolbox"],
        command=["bash", "-c", 'cat; echo "$GREETING from $(pwd)"'],
        user="learner",
        timeout=10,
        stdin=b"from stdin\n",
        environment={"GREETING": "hola"},
        workdir="/tmp",
    )
    assert result.output == "from stdin\nhola from /tmp\n"
    unread = sandbox_exec(
        container_id=sandbox.containers["toolbox"],
        command=["true"],
        user="learner",
        timeout=10,
        stdin=b"x" * (8 << 20),  # more than any pipe holds, and never read
    )
    assert (unread.exit_code, unread.timed_out) == (0, False)

    flood = run(sandbox, "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo THE-END")
    assert flood.exit_code == 0
    assert len(flood.output) < 70_000
    assert "bytes of output left out" in flood.output
    assert flood.output.rstrip().endswith("THE-END")


# --- Privileges ---------------------------------------------------------------------------------


def test_learner_is_unprivileged_and_has_no_docker_socket(sandbox):
    result = run(
        sandbox,
        "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
        " ls /var/run/docker.sock /run/docker.sock 2>&1; su -c id root </dev/null 2>&1; true",
    )
    lines = result.output.splitlines()
    assert lines[0] == "1000"
    status = dict(re.findall(r"^(\w+):\s+(\S+)$", result.output, re.M))
    assert status["CapEff"] == "0000000000000000"
    assert status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # the default seccomp profile filters system calls
    assert result.output.count("No such file or directory") == 2
    assert "uid=0" not in result.output

    # Even root in a lab container has no capabilities.
    root = run(sandbox, "grep CapEff /proc/self/status", user="root")
    assert root.output.split()[1] == "0000000000000000"


def test_setuid_binaries_do_not_give_root(make_sandbox, lab_images):
    specs = lab_specs(lab_images)
    specs[0] = dataclasses.replace(specs[0], private_dirs=("/opt/lab", "/opt/suid"))
    sandbox = make_sandbox(specs)
    setup = run(
        sandbox,
        "chmod 0755 /opt/suid && cp /usr/bin/id /opt/suid/id && chmod 4755 /opt/suid/id"
        " && ls -l /opt/suid/id",
        user="root",
    )
    assert setup.exit_code == 0 and setup.output.startswith("-rwsr-xr-x 1 root"), setup.output
    result = run(sandbox, "/opt/suid/id -u; /opt/suid/id -un")
    assert result.output.split() == ["1000", "learner"]  # euid stays the learner's


# --- Limits -------------------------------------------------------------------------------------


def test_fork_bomb_stops_at_the_pids_limit(sandbox):
    # In the foreground: the exec's timeout kills the whole process group.
    bomb = run(sandbox, "bomb() { bomb | bomb; }; bomb", timeout=5)
    assert bomb.timed_out
    # cgroup v1 puts the pids controller in its own folder, v2 does not.
    events = run(
        sandbox, "cd /sys/fs/cgroup/pids 2>/dev/null || cd /sys/fs/cgroup; cat pids.max pids.events"
    )
    limit, hits = events.output.split("\n")[0], events.output.split()[-1]
    assert limit == "64", events.output
    assert int(hits) > 0  # the kernel refused forks at the limit
    assert run(sandbox, "echo alive", timeout=20).output == "alive\n"

    # The classic one goes to the background: the exec returns, the bomb stays in its container.
    # Its first shell may meet the limit itself: bash retries a refused fork, sleeping 1, 2, 4
    # and 8 s, before it gives up, so the exec may take some 15 s (more on a loaded machine).
    classic = run(sandbox, ":(){ :|:& };:", timeout=45)
    assert not classic.timed_out
    assert run(sandbox, "echo unaffected", container="target").exit_code == 0
    container_action(container_id=sandbox.containers["toolbox"], action="restart")
    assert run(sandbox, "echo alive", timeout=20).output == "alive\n"
    assert run(sandbox, "curl -fsS http://target:8080/health").exit_code == 0


def test_memory_hog_is_oom_killed_in_its_own_container(sandbox):
    hog = run(sandbox, "exec python3 -c \"x = b'x' * (1024 << 20)\"", timeout=60)
    assert hog.exit_code == 137, hog  # SIGKILL from the kernel's OOM killer
    assert not hog.timed_out
    oom = run(
        sandbox,
        "grep -h '^oom_kill ' /sys/fs/cgroup/memory/memory.oom_control"
        " /sys/fs/cgroup/memory.events 2>/dev/null",
    )
    assert re.search(r"oom_kill [1-9]", oom.output), oom.output
    assert state_of(sandbox, "toolbox") == "running"
    assert run(sandbox, "echo alive").output == "alive\n"


def test_root_filesystem_is_read_only_and_writable_areas_are_small(sandbox):
    for user in ("learner", "root"):
        result = run(sandbox, "touch /usr/local/bin/x /etc/x", user=user)
        assert result.exit_code != 0
        assert result.output.count("Read-only file system") == 2, result.output
    fill = run(sandbox, "dd if=/dev/zero of=/tmp/big bs=1M count=64; stat -c %s /tmp/big")
    assert "No space left on device" in fill.output
    assert int(fill.output.split()[-1]) <= 16 * 1024 * 1024
    home = run(sandbox, "echo notes > ~/notes.txt && cat ~/notes.txt")
    assert home.output == "notes\n"


# --- Check scripts ------------------------------------------------------------------------------


def test_check_scripts_are_out_of_the_learners_reach_but_run_as_root(sandbox):
    check = b"#!/bin/sh\n[ -f /home/learner/done ] || { echo 'FAIL: create ~/done'; exit 1; }\n"
    sandbox_put_files(
        container_id=sandbox.containers["toolbox"],
        path="/opt/lab",
        files={"check.sh": check, "steps/2/solve.sh": b"#!/bin/sh\ntouch /home/learner/done\n"},
    )
    attempts = run(
        sandbox,
        "ls /opt/lab; cat /opt/lab/check.sh; echo 'exit 0' > /opt/lab/check.sh;"
        " rm -f /opt/lab/check.sh; mv /opt/lab /tmp/lab; /opt/lab/check.sh; true",
    )
    assert attempts.output.count("Permission denied") >= 5, attempts.output
    assert "FAIL" not in attempts.output  # the learner never saw the script's text

    first = sandbox_exec(
        container_id=sandbox.containers["toolbox"],
        command=["/opt/lab/check.sh"],
        user="root",
        timeout=10,
    )
    assert first.exit_code == 1 and "FAIL: create ~/done" in first.output
    assert run(sandbox, "touch ~/done").exit_code == 0
    second = sandbox_exec(
        container_id=sandbox.containers["toolbox"],
        command=["/opt/lab/check.sh"],
        user="root",
        timeout=10,
    )
    assert (second.exit_code, second.output) == (0, "")
    listing = run(sandbox, "stat -c '%a %U %n' /opt/lab /opt/lab/check.sh", user="root")
    assert listing.output.split("\n")[:2] == ["700 root /opt/lab", "700 root /opt/lab/check.sh"]


# --- Network ------------------------------------------------------------------------------------


def test_containers_of_a_sandbox_reach_each_other_by_name(sandbox):
    health = run(sandbox, "curl -fsS http://target:8080/health")
    assert '"status": "ok"' in health.output
    quote = run(sandbox, "curl -fsS http://target:8080/api/quote")
    assert '"source": "http://dependency:8080/data"' in quote.output, quote.output


def test_no_route_out_of_a_lab_network(sandbox):
    routes = run(sandbox, "ip -4 route; ip -6 addr; cat /proc/sys/net/ipv6/conf/all/disable_ipv6")
    assert routes.output.rstrip().endswith("1"), routes.output  # no IPv6 at all
    assert "inet6" not in routes.output
    # Docker 20.10 sets a default route via the network's gateway address even on internal
    # networks; with inhibit_ipv4 nobody holds that address, so nothing is ever forwarded.
    gateway = re.search(r"default via (\S+)", routes.output)
    probe = (
        "import socket, sys\n"
        "s = socket.socket(); s.settimeout(8)\n"
        "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('CONNECTED')\n"
        "except OSError as e:\n    print('FAILED', e.errno)\n"
    )
    targets = [("1.1.1.1", "80")]  # a single connection attempt, which cannot leave the host
    if gateway:
        targets.append((gateway.group(1), "80"))
    for address, port in targets:
        result = sandbox_exec(
            container_id=sandbox.containers["toolbox"],
            command=["python3", "-c", probe, address, port],
            user="learner",
            timeout=15,
        )
        # Unreachable (no one answers ARP for the gateway), not timed out somewhere outside.
        assert result.output.split()[:2] in (["FAILED", "101"], ["FAILED", "113"]), result
    resolve = run(sandbox, "getent hosts example.com || echo unresolved")
    assert resolve.output.strip() == "unresolved"


def test_two_sandboxes_cannot_reach_each_other(make_sandbox):
    first, second = make_sandbox(), make_sandbox()
    assert first.network_id != second.network_id
    their_target = ip_of(second, "target")
    attempt = run(first, f"curl -sS --max-time 5 http://{their_target}:8080/health", timeout=15)
    assert attempt.exit_code != 0, attempt.output
    # Names resolve within one's own sandbox only.
    mine = ip_of(first, "target")
    assert run(first, "getent hosts target").output.split()[0] == mine
    assert run(second, f"curl -fsS --max-time 5 http://{their_target}:8080/health").exit_code == 0


@contextlib.contextmanager
def host_listener() -> Iterator[int]:
    """A TCP service on every address of the host, as a database or the web server could be."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = server.accept()
                connection.sendall(b"HOST-SERVICE\n")
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def require_local_root_engine() -> None:
    if os.geteuid() != 0 or os.environ.get("DOCKER_HOST", "unix://").split("://")[0] != "unix":
        pytest.fail(
            "This test inspects the host's side of lab networks: run it as root on the "
            "engine's host (or set ACADEMY_SKIP_DOCKER_TESTS=1).",
            pytrace=False,
        )


def test_host_side_of_the_bridge_has_no_address(sandbox):
    require_local_root_engine()
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", sandbox.sandbox_id],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == ""


def test_host_firewall_rejects_labs_that_route_to_the_host(make_sandbox, lab_images):
    """A lab given NET_ADMIN, on a bridge that has a host address (Docker's default without
    inhibit_ipv4), still cannot reach host services or another sandbox: the rules that
    scripts/ensure-docker.sh installs reject it. All traffic stays on this host's bridges."""
    require_local_root_engine()
    installed = subprocess.run(["iptables", "-C", "INPUT", "-i", "acad+", "-j", "ACADEMY-LABS"])
    assert installed.returncode == 0, "the lab firewall is missing: run scripts/ensure-docker.sh"
    lab = make_sandbox(lab_specs(lab_images, toolbox_caps=["NET_ADMIN"]))
    other = make_sandbox()
    route = run(lab, "ip -4 route show default", user="root").output
    gateway = re.search(r"default via (\S+)", route)
    assert gateway, route
    prefix = run(lab, "ip -4 -o addr show dev eth0", user="root").output.split()[3].split("/")[1]
    address = f"{gateway.group(1)}/{prefix}"
    subprocess.run(["ip", "addr", "add", address, "dev", lab.sandbox_id], check=True)
    try:
        with host_listener() as port:
            with socket.create_connection((gateway.group(1), port), timeout=5) as control:
                assert control.recv(64) == b"HOST-SERVICE\n"  # the service is up for the host
            probe = f"curl -sS --max-time 5 telnet://{gateway.group(1)}:{port} </dev/null"
            attempt = run(lab, probe, user="root", timeout=15)
            assert "HOST-SERVICE" not in attempt.output
            assert attempt.exit_code != 0, attempt.output
        other_target = ip_of(other, "target")
        cross = run(
            lab,
            f"curl -sS --max-time 5 http://{other_target}:8080/health",
            user="root",
            timeout=15,
        )
        assert cross.exit_code != 0, cross.output
    finally:
        subprocess.run(["ip", "addr", "del", address, "dev", lab.sandbox_id], check=False)


# --- Faults run by the platform -----------------------------------------------------------------


def test_container_actions_kill_pause_restart_and_stress(sandbox):
    target = sandbox.containers["target"]
    health = "curl -fsS --max-time 2 http://target:8080/health"

    container_action(container_id=target, action="pause")
    assert state_of(sandbox, "target") == "paused"
    assert run(sandbox, health).exit_code != 0
    container_action(container_id=target, action="unpause")
    assert run(sandbox, health).exit_code == 0

    container_action(container_id=target, action="kill")
    assert state_of(sandbox, "target") == "exited"
    assert run(sandbox, health).exit_code != 0
    container_action(container_id=target, action="restart")
    assert state_of(sandbox, "target") == "running"
    wait = "for i in $(seq 100); do curl -fsS http://target:8080/health && exit 0; sleep 0.1; done"
    assert run(sandbox, wait + "; exit 1").exit_code == 0

    container_action(container_id=target, action="stress", duration=3)
    seen = run(
        sandbox,
        "for i in $(seq 50); do pgrep -f ^stress-ng-cpu && exit 0; sleep 0.1; done; exit 1",
        container="target",
    )
    assert seen.exit_code == 0, seen.output
    gone = run(
        sandbox,
        "for i in $(seq 150); do pgrep -f ^stress-ng || exit 0; sleep 0.1; done; exit 1",
        container="target",
        timeout=30,
    )
    assert gone.exit_code == 0  # stress ends by itself after its duration


def test_memory_stress_holds_memory_until_unstressed(sandbox):
    target = sandbox.containers["target"]
    cgroup = "/sys/fs/cgroup"  # cgroup v2 file names first, else v1's
    used = f"cat {cgroup}/memory.current 2>/dev/null || cat {cgroup}/memory/memory.usage_in_bytes"
    limit = f"cat {cgroup}/memory.max 2>/dev/null || cat {cgroup}/memory/memory.limit_in_bytes"
    before = int(run(sandbox, used, container="target").output)
    limit = int(run(sandbox, limit, container="target").output)

    container_action(container_id=target, action="stress", duration=120, resource="memory")
    grown = run(
        sandbox,
        # 60 % of the limit, held: wait until at least half the limit more is in use.
        f"for i in $(seq 100); do now=$({used}); [ $((now - {before})) -gt {limit // 2} ]"
        " && exit 0; sleep 0.1; done; exit 1",
        container="target",
        timeout=30,
    )
    assert grown.exit_code == 0, grown.output
    assert state_of(sandbox, "target") == "running"  # no OOM kill: the stress stays in bounds

    container_action(container_id=target, action="unstress")
    gone = run(
        sandbox,
        "for i in $(seq 50); do pgrep -f ^stress-ng || exit 0; sleep 0.1; done; exit 1",
        container="target",
    )
    assert gone.exit_code == 0, gone.output
    container_action(container_id=target, action="unstress")  # nothing left to end: no error


def test_container_action_refuses_a_container_of_another_sandbox(make_sandbox):
    first, second = make_sandbox(), make_sandbox()
    with pytest.raises(RuntimeFailure):
        container_action(
            container_id=second.containers["target"],
            action="kill",
            expect_labels={"academy.session": first.labels["academy.session"]},
        )
    assert state_of(second, "target") == "running"


# --- Images -------------------------------------------------------------------------------------


def test_lab_images_carry_the_tools(sandbox):
    tools = run(
        sandbox,
        "chaos --version && for t in curl jq git nano vim.tiny stress-ng"
        " iptables ip ps less; do command -v $t >/dev/null || echo missing $t; done",
    )
    assert tools.exit_code == 0 and "missing" not in tools.output, tools.output
    assert "chaos" in tools.output.lower()
    served_by = run(sandbox, "id -un", container="target")
    assert served_by.output == "app\n"


def test_second_build_builds_nothing(lab_images):
    lines: list[str] = []
    results = build_lab_images(progress=lines.append)
    assert [result.built for result in results] == [False] * len(results)
    assert {result.name: result.reference for result in results} == lab_images
    assert lines[-1].startswith("Nothing to build")
