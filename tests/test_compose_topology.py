"""docker-compose.yml shows the production topology (docs/scaling.md); these tests keep it true.

``topology_problems`` reads a parsed compose file and names every way it breaks the design: the
web holding Docker access, a lab host's processes talking to another host's engine or serving
another host's queues, a process on another database or Redis, a second beat. The real file
must have none, and each broken copy below must be caught, so the checks themselves can fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from labs.services.state import TASK_KINDS, task_queues

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ACADEMY_IMAGE = "academy:latest"
# What `docker compose` would be given: the file refuses to render without the first two.
TEST_VARIABLES = {"SECRET_KEY": "compose-test-key", "POSTGRES_PASSWORD": "compose-test"}


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?message} and $$, as `docker compose` does."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        found = variables.get(name)
        if operator == ":?" and not found:
            raise KeyError(f"{name} is required: {rest}")
        if operator == ":-" and not found:
            return interpolate(rest, variables)
        return found or ""

    return re.sub(r"\$\$|\$\{(\w+)(?:(:[-?])((?:[^{}]|\{[^{}]*\})*))?\}", one, value)


def environment(service: dict, variables: dict[str, str] | None = TEST_VARIABLES) -> dict[str, str]:
    """The service's variables, interpolated as `docker compose` would with ``variables``
    (None: as written)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    found = {key: "" if value is None else str(value) for key, value in raw.items()}
    if variables is None:
        return found
    return {key: interpolate(value, variables) for key, value in found.items()}


def command(service: dict) -> list[str]:
    raw = service.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def option(arguments: list[str], name: str) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
    return None


def networks(service: dict) -> set[str]:
    raw = service.get("networks") or []
    return set(raw) if isinstance(raw, list) else set(raw.keys())


def volumes(service: dict) -> list[str]:
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found.append(f"{volume.get('source', '')}:{volume.get('target', '')}")
        else:
            found.append(str(volume))
    return found


def is_academy(service: dict) -> bool:
    return service.get("image") == ACADEMY_IMAGE


def is_engine(service: dict) -> bool:
    return str(service.get("image", "")).startswith("docker:") and "dind" in service["image"]


def celery_role(service: dict) -> str | None:
    """ "worker" or "beat" for a Celery process, else None."""
    arguments = command(service)
    if arguments[:1] != ["celery"]:
        return None
    return next((word for word in arguments[1:] if word in ("worker", "beat")), None)


def served_queues(service: dict) -> set[str]:
    return set(filter(None, (option(command(service), "--queues") or "").split(",")))


def host_of_docker_host(value: str) -> str:
    return urlsplit(value).hostname or ""


def announces(env: dict[str, str]) -> bool:
    """Whether a Celery worker with this environment registers its lab host when it starts
    (LAB_HOST_ANNOUNCE, on unless turned off; academy/celery.py)."""
    return env.get("LAB_HOST_ANNOUNCE", "1").strip().lower() in ("1", "true", "yes", "on")


def topology_problems(compose: dict) -> list[str]:
    services: dict[str, dict] = compose["services"]
    declared_networks: dict[str, dict] = compose.get("networks") or {}
    problems: list[str] = []

    for name, service in services.items():
        for volume in volumes(service):
            if "docker.sock" in volume:
                problems.append(f"{name} mounts the Docker socket ({volume})")
        if service.get("privileged") and not is_engine(service):
            problems.append(f"{name} is privileged and is no lab engine")

    academy = {name: service for name, service in services.items() if is_academy(service)}
    engines = {name: service for name, service in services.items() if is_engine(service)}
    engines = {name: service for name, service in engines.items() if service.get("privileged")}

    # The web: no Docker, no lab network, two processes at least.
    web = academy.get("web")
    if web is None:
        problems.append("there is no web service")
    else:
        if "DOCKER_HOST" in environment(web):
            problems.append("web has a DOCKER_HOST")
        arguments = command(web)
        if "academy.asgi:application" not in arguments:
            problems.append("web does not serve academy.asgi:application")
        workers = option(arguments, "--workers")
        if not (workers and workers.isdigit() and int(workers) >= 2):
            problems.append(f"web runs {workers or 1} uvicorn process(es), fewer than 2")

    # One database, one Redis, one broker, for every process of the academy.
    for variable, scheme, image in (
        ("DATABASE_URL", "postgres", "postgres"),
        ("REDIS_URL", "redis", "redis"),
        ("CELERY_BROKER_URL", "redis", "redis"),
    ):
        values = {name: environment(service).get(variable, "") for name, service in academy.items()}
        if len(set(values.values())) != 1:
            problems.append(f"{variable} differs between processes: {values}")
        for name, value in values.items():
            if urlsplit(value).scheme not in (scheme, f"{scheme}ql"):
                problems.append(f"{name}'s {variable} is not {scheme}: {value!r}")
            server = services.get(host_of_docker_host(value), {})
            if not str(server.get("image", "")).startswith(image):
                problems.append(f"{name}'s {variable} names no {image} service: {value!r}")

    # Exactly one beat.
    beats = [name for name, service in services.items() if celery_role(service) == "beat"]
    if len(beats) != 1:
        problems.append(f"{len(beats)} beat services ({beats}); there must be exactly one")

    # Lab hosts: the academy processes that hold a DOCKER_HOST, grouped by LAB_TASK_QUEUE.
    hosts: dict[str, dict[str, dict]] = {}
    for name, service in academy.items():
        env = environment(service)
        if "DOCKER_HOST" in env:
            if not env.get("LAB_TASK_QUEUE"):
                problems.append(f"{name} has a DOCKER_HOST and no LAB_TASK_QUEUE")
                continue
            hosts.setdefault(env["LAB_TASK_QUEUE"], {})[name] = service
            if celery_role(service) == "worker" and not announces(env):
                problems.append(f"{name} of lab host {env['LAB_TASK_QUEUE']} does not announce it")
            continue
        if celery_role(service) == "worker" and announces(env):
            problems.append(f"{name} has no engine and would announce itself as a lab host")
        if celery_role(service) == "worker" and any(
            queue.endswith(tuple(f".{kind}" for kind in TASK_KINDS))
            for queue in served_queues(service)
        ):
            problems.append(f"{name} serves a lab host's queues without a Docker engine")
    if len(hosts) < 2:
        problems.append(f"{len(hosts)} lab host(s) ({sorted(hosts)}); the topology shows two")

    engine_of_host: dict[str, str] = {}
    for host, members in hosts.items():
        docker_hosts = {environment(service)["DOCKER_HOST"] for service in members.values()}
        if len(docker_hosts) != 1:
            problems.append(f"{host}'s processes use several engines: {sorted(docker_hosts)}")
            continue
        engine = host_of_docker_host(docker_hosts.pop())
        if engine not in engines:
            problems.append(f"{host}'s DOCKER_HOST names no privileged dind engine: {engine!r}")
            continue
        if engine in engine_of_host.values():
            problems.append(f"{host} shares its engine {engine} with another host")
        engine_of_host[host] = engine

        roles = {
            "provisioning worker": [],
            "checks worker": [],
            "housekeeping worker": [],
            "terminal gateway": [],
            "fault relay": [],
            "lab-image build": [],
        }
        served: set[str] = set()
        for name, service in members.items():
            arguments = command(service)
            if celery_role(service) == "worker":
                queues = served_queues(service)
                served |= queues
                kinds = [kind for kind in TASK_KINDS if f"{host}.{kind}" in queues]
                for kind in kinds:
                    roles[f"{kind} worker"].append(name)
                if len(kinds) > 1:
                    problems.append(f"{name} of {host} serves several kinds of work: {kinds}")
                stranger = {queue for queue in queues if queue.split(".")[0] != host}
                if stranger:
                    problems.append(f"{name} of {host} serves other queues: {sorted(stranger)}")
            elif "academy.asgi:application" in arguments:
                roles["terminal gateway"].append(name)
            elif "lab_fault_relay" in arguments:
                roles["fault relay"].append(name)
            elif "build_lab_images" in arguments:
                roles["lab-image build"].append(name)
        for role, names in roles.items():
            if not names:
                problems.append(f"{host} has no {role}")
        if served != set(queues_of(host)):
            problems.append(
                f"{host}'s workers serve {sorted(served)}, not its queues {queues_of(host)}"
            )

    # Each engine: its own data volume, internal networks that only its host's processes join.
    for host, engine_name in engine_of_host.items():
        engine = services[engine_name]
        if environment(engine).get("DOCKER_TLS_CERTDIR", None) != "":
            problems.append(f"{engine_name} does not turn TLS off (DOCKER_TLS_CERTDIR: '')")
        if engine.get("ports"):
            problems.append(f"{engine_name} publishes ports: its API must stay internal")
        data = [
            v.split(":")[0] for v in volumes(engine) if v.split(":")[1:2] == ["/var/lib/docker"]
        ]
        if len(data) != 1:
            problems.append(f"{engine_name} has no volume of its own for /var/lib/docker")
        else:
            sharing = [
                name
                for name, service in services.items()
                if name != engine_name and any(v.split(":")[0] == data[0] for v in volumes(service))
            ]
            if sharing:
                problems.append(f"{engine_name}'s data volume is also mounted by {sharing}")
        engine_networks = networks(engine)
        if not engine_networks:
            problems.append(f"{engine_name} is on no network of its own")
        for network in engine_networks:
            if not (declared_networks.get(network) or {}).get("internal"):
                problems.append(f"{engine_name}'s network {network} is not internal")
            members = {name for name, service in services.items() if network in networks(service)}
            strangers = members - set(hosts[host]) - {engine_name}
            if strangers:
                problems.append(f"{network} ({host}'s engine) is joined by {sorted(strangers)}")
        firewalls = [
            name
            for name, service in services.items()
            if service.get("network_mode") == f"service:{engine_name}"
            and "NET_ADMIN" in (service.get("cap_add") or [])
        ]
        if not firewalls:
            problems.append(f"{engine_name} has no lab firewall in its network namespace")

    return problems


def queues_of(host: str) -> list[str]:
    """What the code says a lab host named ``host`` serves (labs.services.state)."""
    from django.test import override_settings

    with override_settings(LAB_TASK_QUEUE=host):
        return sorted(task_queues())


# --- The real file --------------------------------------------------------------------------


def test_the_compose_file_follows_the_topology():
    assert topology_problems(load_compose()) == []


def test_the_compose_file_renders_only_with_its_secrets():
    compose = load_compose()
    web = compose["services"]["web"]
    for variable in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        with pytest.raises(KeyError, match=variable):
            environment(web, {key: v for key, v in TEST_VARIABLES.items() if key != variable})
    assert environment(web)["DATABASE_URL"] == (
        "postgres://academy:compose-test@postgres:5432/academy"
    )
    assert environment(web)["SITE_URL"] == "https://academy.example"
    assert (
        environment(web, {**TEST_VARIABLES, "ACADEMY_DOMAIN": "learn.example.org"})[
            "SESSION_COOKIE_DOMAIN"
        ]
        == ".learn.example.org"
    )


def test_each_lab_host_has_its_own_queue_engine_and_gateway_origin():
    services = load_compose()["services"]
    by_host: dict[str, set[tuple[str, str]]] = {}
    for service in services.values():
        env = environment(service)
        if is_academy(service) and "DOCKER_HOST" in env:
            by_host.setdefault(env["LAB_TASK_QUEUE"], set()).add(
                (env["DOCKER_HOST"], env["LAB_HOST_TERMINAL_URL"])
            )
    assert sorted(by_host) == ["lab-a", "lab-b"]
    assert by_host["lab-a"] == {("tcp://lab-a-engine:2375", "wss://lab-a.academy.example")}
    assert by_host["lab-b"] == {("tcp://lab-b-engine:2375", "wss://lab-b.academy.example")}


def test_every_queue_beat_sends_to_is_served():
    """Beat's schedule, as the settings compute it from beat's own environment, names queues
    that some worker in the file serves (a tick sent to a queue nobody reads never runs)."""
    services = load_compose()["services"]
    (beat,) = [service for service in services.values() if celery_role(service) == "beat"]
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "ACADEMY_", "LAB_", "CELERY_", "PYTEST_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SITE_URL", "DOCKER_HOST")
    }
    child_env.update(environment(beat))
    child_env.update({"DJANGO_SETTINGS_MODULE": "academy.settings", "PYTHONPATH": str(REPO)})
    script = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from labs.services.state import route_task\n"
        "queues = set()\n"
        "for entry in settings.CELERY_BEAT_SCHEDULE.values():\n"
        "    queue = (entry.get('options') or {}).get('queue')\n"
        "    routed = route_task(entry['task'], (), {}, {})\n"
        "    queues.add(queue or (routed or {}).get('queue') or 'celery')\n"
        "print(json.dumps(sorted(queues)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    sent_to = set(json.loads(completed.stdout.strip().splitlines()[-1]))
    served = set().union(
        *(served_queues(service) for service in services.values() if celery_role(service))
    )
    assert sent_to, "beat's schedule is empty"
    assert sent_to <= served, f"nobody serves {sorted(sent_to - served)}"


def test_the_image_runs_as_a_user_of_its_own():
    dockerfile = (REPO / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert bases[-1].startswith("python:3.11-slim")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert "pyproject.toml" in dockerfile
    services = load_compose()["services"]
    as_root = sorted(name for name, service in services.items() if service.get("user"))
    # Only the lab-image builds run as root (debootstrap needs it), and they hold no web port.
    assert all("build_lab_images" in command(services[name]) for name in as_root), as_root
    assert all(not services[name].get("ports") for name in as_root)


def test_the_firewall_applies_the_rules_of_ensure_docker():
    script = (REPO / "scripts" / "ensure-docker.sh").read_text()
    services = load_compose()["services"]
    firewalls = [
        s for s in services.values() if str(s.get("network_mode", "")).startswith("service:")
    ]
    assert len(firewalls) == 2
    for rule in ("INPUT -i acad+", "-i acad+", "-o acad+", "--physdev-is-bridged", "ACADEMY-LABS"):
        assert rule in script, f"scripts/ensure-docker.sh no longer has {rule!r}"
        for firewall in firewalls:
            assert rule in " ".join(command(firewall)), f"{rule!r} missing from a lab firewall"


# --- Broken copies: each must be caught ------------------------------------------------------


def set_env(compose: dict, service: str, **values: str | None) -> None:
    """Gives one service an environment of its own (the file shares them through anchors)."""
    env = dict(compose["services"][service].get("environment") or {})
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    compose["services"][service]["environment"] = env


def web_with_docker(compose):
    set_env(compose, "web", DOCKER_HOST="tcp://lab-a-engine:2375")


def web_with_the_socket(compose):
    compose["services"]["web"]["volumes"] = ["/var/run/docker.sock:/var/run/docker.sock"]


def web_on_a_lab_network(compose):
    compose["services"]["web"]["networks"] = ["backend", "outside", "lab-a"]


def one_web_process(compose):
    arguments = command(compose["services"]["web"])
    arguments[arguments.index("--workers") + 1] = "1"
    compose["services"]["web"]["command"] = arguments


def checks_of_b_on_engine_a(compose):
    set_env(compose, "lab-b-worker-checks", DOCKER_HOST="tcp://lab-a-engine:2375")


def b_named_like_a(compose):
    for name in list(compose["services"]):
        if name.startswith("lab-b-") and is_academy(compose["services"][name]):
            set_env(compose, name, LAB_TASK_QUEUE="lab-a")


def a_worker_misses_checks(compose):
    compose["services"]["lab-a-worker-checks"]["command"] = [
        "celery", "--app", "academy", "worker", "--queues", "lab-a.housekeeping",
    ]  # fmt: skip


def a_worker_serves_b(compose):
    compose["services"]["lab-a-worker-provisioning"]["command"] = [
        "celery", "--app", "academy", "worker", "--queues", "lab-a.provisioning,lab-b.provisioning",
    ]  # fmt: skip


def second_beat(compose):
    compose["services"]["beat-2"] = copy.deepcopy(compose["services"]["beat"])


def no_beat(compose):
    del compose["services"]["beat"]


def site_worker_on_sqlite(compose):
    set_env(compose, "worker-site", DATABASE_URL="sqlite:////tmp/academy.sqlite3")


def gateway_on_another_redis(compose):
    set_env(compose, "lab-b-gateway", REDIS_URL="redis://cache-b:6379/0")


def engines_share_data(compose):
    compose["services"]["lab-b-engine"]["volumes"] = ["lab-a-docker:/var/lib/docker"]


def engine_network_not_internal(compose):
    compose["networks"]["lab-a"] = {}


def engine_published(compose):
    compose["services"]["lab-a-engine"]["ports"] = ["2375:2375"]


def engine_with_tls_default(compose):
    compose["services"]["lab-b-engine"]["environment"] = {}


def host_without_relay(compose):
    del compose["services"]["lab-b-faults"]


def host_without_firewall(compose):
    del compose["services"]["lab-a-firewall"]


def privileged_worker(compose):
    compose["services"]["lab-a-worker-checks"]["privileged"] = True


def site_worker_serving_lab_queues(compose):
    compose["services"]["worker-site"]["command"] = [
        "celery", "--app", "academy", "worker", "--queues", "site,celery,lab-a.checks",
    ]  # fmt: skip


def site_worker_announcing(compose):
    set_env(compose, "worker-site", LAB_HOST_ANNOUNCE=None)


def host_worker_silent(compose):
    set_env(compose, "lab-b-worker-housekeeping", LAB_HOST_ANNOUNCE="0")


BROKEN: dict[str, tuple[Callable[[dict], None], str]] = {
    "web with DOCKER_HOST": (web_with_docker, "web has a DOCKER_HOST"),
    "web mounting the socket": (web_with_the_socket, "web mounts the Docker socket"),
    "web on a lab network": (web_on_a_lab_network, "lab-a (lab-a's engine) is joined by ['web']"),
    "one web process": (one_web_process, "web runs 1 uvicorn process(es)"),
    "a worker on another host's engine": (checks_of_b_on_engine_a, "several engines"),
    "two hosts, one name": (b_named_like_a, "lab-a's processes use several engines"),
    "a kind nobody serves": (a_worker_misses_checks, "lab-a has no checks worker"),
    "a worker serving another host": (a_worker_serves_b, "serves other queues: ['lab-b."),
    "two beats": (second_beat, "2 beat services"),
    "no beat": (no_beat, "0 beat services"),
    "a process on SQLite": (site_worker_on_sqlite, "worker-site's DATABASE_URL is not postgres"),
    "a process on another Redis": (gateway_on_another_redis, "REDIS_URL differs"),
    "engines sharing their data": (engines_share_data, "data volume is also mounted"),
    "an engine network with a route out": (engine_network_not_internal, "is not internal"),
    "an engine API published": (engine_published, "lab-a-engine publishes ports"),
    "an engine with TLS certificates": (engine_with_tls_default, "does not turn TLS off"),
    "a host without its fault relay": (host_without_relay, "lab-b has no fault relay"),
    "a host without its firewall": (host_without_firewall, "lab-a-engine has no lab firewall"),
    "a privileged worker": (privileged_worker, "lab-a-worker-checks is privileged"),
    "the site worker announcing a host": (
        site_worker_announcing,
        "worker-site has no engine and would announce itself as a lab host",
    ),
    "a lab host that never announces": (
        host_worker_silent,
        "lab-b-worker-housekeeping of lab host lab-b does not announce it",
    ),
    "lab work on the site worker": (
        site_worker_serving_lab_queues,
        "worker-site serves a lab host's queues without a Docker engine",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_a_broken_topology_is_caught(breakage):
    compose = copy.deepcopy(load_compose())
    break_it, expected = BROKEN[breakage]
    break_it(compose)
    problems = topology_problems(compose)
    assert any(expected in problem for problem in problems), problems
