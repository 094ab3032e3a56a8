"""The connection to the Docker engine, and the errors the runtime raises."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

import docker
import docker.errors
import requests.exceptions

LABEL_PREFIX = "academy."
# Every resource the runtime creates carries this label; its value names the sandbox.
SANDBOX_LABEL = "academy.sandbox"


class RuntimeUnavailable(Exception):
    """The Docker engine cannot be reached (not running, no permission, wrong DOCKER_HOST)."""


class RuntimeFailure(Exception):
    """The engine answered, but refused or failed an operation."""


_clients: dict[int, docker.DockerClient] = {}


def client() -> docker.DockerClient:
    """One client per process: a client made before a fork (Celery prefork) is not reused."""
    pid = os.getpid()
    if pid not in _clients:
        try:
            # version="auto" negotiates down to what the engine speaks (Debian's 20.10 is 1.41).
            _clients[pid] = docker.from_env(version="auto", timeout=120)
        except docker.errors.DockerException as exc:
            raise RuntimeUnavailable(_unavailable_message(exc)) from exc
    return _clients[pid]


def _unavailable_message(exc: Exception) -> str:
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return (
        f"No Docker engine answers at {where} ({exc}). "
        "Start one with scripts/ensure-docker.sh, or set DOCKER_HOST."
    )


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """Turn transport errors into RuntimeUnavailable and API errors into RuntimeFailure."""
    try:
        yield
    except (requests.exceptions.ConnectionError, ConnectionError) as exc:
        _clients.pop(os.getpid(), None)
        raise RuntimeUnavailable(_unavailable_message(exc)) from exc
    except docker.errors.APIError as exc:
        raise RuntimeFailure(str(exc)) from exc


def engine_ping() -> bool:
    """True when an engine answers; never raises."""
    try:
        with engine_errors():
            return bool(client().ping())
    except (RuntimeUnavailable, RuntimeFailure):
        return False


def check_labels(labels: Mapping[str, str], *, required: bool) -> dict[str, str]:
    if required and not labels:
        raise ValueError("At least one label is required, so that nothing else is matched.")
    for key, value in labels.items():
        if not key.startswith(LABEL_PREFIX):
            raise ValueError(f"Label {key!r} must start with {LABEL_PREFIX!r}.")
        if not isinstance(value, str):
            raise ValueError(f"Label {key!r} must have a string value.")
    return dict(labels)


def label_filters(labels: Mapping[str, str]) -> dict[str, list[str]]:
    if not labels:
        return {"label": [SANDBOX_LABEL]}
    return {"label": [f"{key}={value}" for key, value in labels.items()]}
