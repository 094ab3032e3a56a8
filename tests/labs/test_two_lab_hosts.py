"""Two lab hosts on one machine: two Docker engines (the usual one and a second dockerd with its
own socket and data root), each with its own Celery worker on its own queues. The test process
plays the web: its DOCKER_HOST points at nothing, so every page, start, check and stop it serves
must work without Docker. Sessions spread over the hosts by free capacity; a drained host takes
nothing new while its sessions run on, and is removed once they are gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from academy.contentsync import content_sync
from labs import runtime
from labs.models import CheckResult, Lab, LabHost, LabSession
from labs.runtime import engine as runtime_engine
from labs.services import hosts
from labs.services.state import TASK_KINDS, lab_instance
from tests.conftest import database_env
from tests.engines import engine_start, engine_stop, images_copy
from tests.labs_tree import write_tiny_lab

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State
CAPACITY = 2


@pytest.fixture(scope="module")
def engine_b(lab_images):
    if os.geteuid() != 0:
        pytest.skip("starting a second Docker engine needs root (CI runs as root)")
    root = Path(tempfile.mkdtemp(prefix="academy-engine-b-", dir="/var/tmp"))
    engine = engine_start(root)
    try:
        images_copy(["academy/toolbox:latest"], to=engine)
        yield engine
    finally:
        engine_stop(engine)


class HostWorker:
    """One lab host's worker: its own queues, its own engine, announcing its host."""

    def __init__(self, name: str, docker_host: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        queues = ",".join([name, *(f"{name}.{kind}" for kind in TASK_KINDS)])
        env = {
            **os.environ,
            **database_env(),
            "LAB_TASK_QUEUE": name,
            "DOCKER_HOST": docker_host,
            "LAB_HOST_ANNOUNCE": "1",
            "LAB_MAX_RUNNING_SESSIONS": str(CAPACITY),
        }
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "academy",
                    "worker",
                    "--queues",
                    queues,
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"{name}@%h",
                ],
                cwd=Path(__file__).resolve().parents[2],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while "ready." not in self.log_path.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def two_hosts(engine_b, tmp_path, settings, monkeypatch):
    """Hosts "a" (the usual engine) and "b" (the second one), announced by their workers; the
    test process (the web) can reach no Docker engine at all."""
    engine_a_url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    suffix = os.getpid()
    names = {"a": f"test-host-a-{suffix}", "b": f"test-host-b-{suffix}"}
    workers = {
        "a": HostWorker(names["a"], engine_a_url, tmp_path / "worker-a.log"),
        "b": HostWorker(names["b"], engine_b.url, tmp_path / "worker-b.log"),
    }
    try:
        for worker in workers.values():
            worker.wait_ready()
        # The web: its own LAB_TASK_QUEUE names no host, and no engine answers it.
        settings.LAB_TASK_QUEUE = f"test-web-{suffix}"
        settings.LAB_HOST_TIMEOUT_SECONDS = 3600  # no beat here refreshes "last seen"
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        runtime_engine._clients.clear()
        yield {
            "names": names,
            "workers": workers,
            "engines": {
                "a": docker.DockerClient(base_url=engine_a_url, version="auto"),
                "b": engine_b.client(),
            },
        }
    finally:
        runtime_engine._clients.clear()
        for worker in workers.values():
            worker.stop()
        # Whatever the test left behind on either engine (a failed assertion mid-way).
        for url in (engine_a_url, engine_b.url):
            client = docker.DockerClient(base_url=url, version="auto")
            for container in client.containers.list(
                all=True, filters={"label": f"academy.instance={lab_instance()}"}
            ):
                container.remove(force=True)


def wait_until(predicate, *, what: str, timeout: float = 90, logs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(w.log() for w in logs))


def containers_of(client: docker.DockerClient, session: LabSession) -> list:
    return client.containers.list(
        all=True,
        filters={"label": [f"academy.instance={lab_instance()}", f"academy.session={session.pk}"]},
    )


def test_two_hosts_share_the_load_and_one_drains_without_losing_a_session(two_hosts, tmp_path):
    names, workers, engines = two_hosts["names"], two_hosts["workers"], two_hosts["engines"]
    logs = list(workers.values())
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    lab = Lab.objects.get(key="tiny-lab")

    # Both workers announced their host, with the capacity each was given.
    wait_until(lambda: LabHost.objects.count() == 2, what="two hosts announced", logs=logs)
    assert {h.name: h.capacity for h in LabHost.objects.all()} == {
        names["a"]: CAPACITY,
        names["b"]: CAPACITY,
    }

    # The web has no Docker: any engine call here fails.
    with pytest.raises(runtime.RuntimeUnavailable):
        runtime.sandbox_list(labels={"academy.instance": lab_instance()})

    # Four learners press Start on the lab's page: two sessions land on each host.
    users = [
        get_user_model().objects.create_user(f"learner{n}", password="pw-Aa-123456")
        for n in range(5)
    ]
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    start_url = reverse("labs:start", kwargs={"lab_slug": lab.slug})
    for client in clients[:4]:
        assert client.post(start_url).status_code == 302
    sessions = list(LabSession.objects.filter(user__in=users[:4]).order_by("pk"))
    wait_until(
        lambda: all(s.__class__.objects.get(pk=s.pk).state == State.READY for s in sessions),
        what="four sessions ready",
        logs=logs,
    )
    for session in sessions:
        session.refresh_from_db()
    by_host = {name: [s for s in sessions if s.host == name] for name in names.values()}
    assert [len(by_host[names["a"]]), len(by_host[names["b"]])] == [2, 2]
    # Each sandbox is on its own host's engine, and only there.
    for key, name in names.items():
        other = engines["b" if key == "a" else "a"]
        for session in by_host[name]:
            assert len(containers_of(engines[key], session)) == 1
            assert containers_of(other, session) == []

    # A check of a session on host b runs on b's worker, through the web's check button.
    on_b = by_host[names["b"]][0]
    on_b_client = clients[users.index(on_b.user)]
    check_url = reverse("labs:check", kwargs={"session_id": on_b.pk, "number": 1})
    assert on_b_client.post(check_url).status_code == 202  # accepted: the worker checks
    wait_until(
        lambda: CheckResult.objects.filter(session=on_b).exists(), what="check on b", logs=logs
    )
    assert CheckResult.objects.get(session=on_b).passed is False  # ~/done is not there yet
    engines["b"].containers.get(on_b.sandbox["containers"]["toolbox"]).exec_run(
        ["touch", "/home/learner/done"], user="learner"
    )

    # Host b drains: its sessions run on; nothing new goes there.
    assert hosts.host_drain(name=names["b"]) == 0
    with pytest.raises(hosts.LabHostError):
        hosts.host_remove(name=names["b"])  # still holds two sessions
    fifth = users[4]
    assert clients[4].post(start_url).status_code == 302
    waiting = LabSession.objects.get(user=fifth)
    assert waiting.state == State.REQUESTED  # a is full, b is draining
    for session in by_host[names["b"]]:
        session.refresh_from_db()
        assert session.state == State.READY
        assert len(containers_of(engines["b"], session)) == 1
    # b's learner checks again after the drain, and passes: nothing was lost.
    assert on_b_client.post(check_url).status_code == 202  # accepted: the worker checks
    wait_until(
        lambda: CheckResult.objects.filter(session=on_b, passed=True).exists(),
        what="passing check on the drained host",
        logs=logs,
    )

    # A learner on a stops: the waiting session takes the free place on a, never on b.
    leaving = by_host[names["a"]][0]
    stop_url = reverse("labs:stop", kwargs={"session_id": leaving.pk})
    assert clients[users.index(leaving.user)].post(stop_url).status_code == 302
    wait_until(
        lambda: LabSession.objects.get(pk=waiting.pk).state == State.READY,
        what="the waiting session placed on a",
        logs=logs,
    )
    waiting.refresh_from_db()
    assert waiting.host == names["a"]
    assert containers_of(engines["a"], leaving) == []  # a's worker removed it

    # b's sessions end; b's worker removes their containers; b can then be removed.
    for session in by_host[names["b"]]:
        stop_url = reverse("labs:stop", kwargs={"session_id": session.pk})
        assert clients[users.index(session.user)].post(stop_url).status_code == 302
    wait_until(
        lambda: all(containers_of(engines["b"], s) == [] for s in by_host[names["b"]]),
        what="b's containers removed",
        logs=logs,
    )
    hosts.host_remove(name=names["b"])
    assert not LabHost.objects.filter(name=names["b"]).exists()
    # Stopped while b was its home: b's worker re-announces itself only if it starts again.
    workers["b"].stop()
    for session in [*by_host[names["a"]][1:], waiting]:
        stop_url = reverse("labs:stop", kwargs={"session_id": session.pk})
        clients[users.index(session.user)].post(stop_url)


def test_each_host_reaps_its_own_engine_only(two_hosts, tmp_path):
    """An orphan on b's engine (labelled for a session that is not live) is removed by b's
    reaper; a's engine, where a live session runs, is left alone."""
    names, workers, engines = two_hosts["names"], two_hosts["workers"], two_hosts["engines"]
    logs = list(workers.values())
    write_tiny_lab(tmp_path)
    content_sync(root=tmp_path)
    lab = Lab.objects.get(key="tiny-lab")
    wait_until(lambda: LabHost.objects.count() == 2, what="two hosts announced", logs=logs)
    hosts.host_drain(name=names["b"])  # the live session goes to a
    user = get_user_model().objects.create_user("reaped", password="pw-Aa-123456")
    session = LabSession.objects.create(user=user, lab=lab)
    from labs import services

    services.lab_sessions_schedule()
    wait_until(
        lambda: LabSession.objects.get(pk=session.pk).state == State.READY,
        what="a session on a",
        logs=logs,
    )
    session.refresh_from_db()
    assert session.host == names["a"]
    gone = LabSession.objects.create(lab=lab, state=State.DESTROYED, host=names["b"])
    orphan = engines["b"].containers.run(
        "academy/toolbox:latest",
        ["sleep", "600"],
        detach=True,
        network_mode="none",
        labels={
            "academy.instance": lab_instance(),
            "academy.session": str(gone.pk),
            "academy.sandbox": f"orphan-{gone.pk}",
        },
    )
    hosts.fan_out("reap")  # what beat does every LAB_REAP_INTERVAL_SECONDS

    def orphan_gone() -> bool:
        try:
            orphan.reload()
        except docker.errors.NotFound:
            return True
        return False

    wait_until(orphan_gone, what="b's reaper removing the orphan", logs=logs)
    assert len(containers_of(engines["a"], session)) == 1
    session.refresh_from_db()
    assert session.state == State.READY
    services.lab_session_end(session=session)
    wait_until(lambda: containers_of(engines["a"], session) == [], what="a's stop", logs=logs)
