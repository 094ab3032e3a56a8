"""Lab hosts without an engine: where sessions are placed, what a drain and a removal do, which
queue each piece of work goes to, warm pools per host, the page's terminal origin, the CLI.
(tests/labs/test_two_lab_hosts.py runs two real hosts.)"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labs import services
from labs.models import Lab, LabHost, LabSession
from labs.services import hosts
from tests.factories import UserFactory

# Transactional: the services send their tasks once the transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)
State = LabSession.State


@pytest.fixture
def lab(db) -> Lab:
    return Lab.objects.create(
        key="host-lab",
        slug="host-lab",
        title="Host lab",
        summary="-",
        difficulty="beginner",
        duration_minutes=10,
        topology=[{"name": "toolbox", "image": "toolbox"}],
        shell_container="toolbox",
        warm_pool_size=0,
    )


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str, tuple]]:
    """The Celery messages the services send (task, queue, args): the broker is outside."""
    from celery import current_app

    messages: list[tuple[str, str, tuple]] = []

    def send_task(name, args=(), queue=None, **options):
        messages.append((name, queue, tuple(args)))

    monkeypatch.setattr(current_app, "send_task", send_task)
    return messages


def host(name: str, *, capacity: int = 2, state=LabHost.State.ACTIVE, seen=timedelta(0), **kw):
    return LabHost.objects.create(
        name=name, capacity=capacity, state=state, seen_at=timezone.now() - seen, **kw
    )


def start(lab: Lab, count: int) -> list[LabSession]:
    return [services.lab_session_start(user=UserFactory(), lab=lab) for _ in range(count)]


def test_with_no_announced_host_sessions_go_to_this_processs_own(lab, settings, sent):
    settings.LAB_MAX_RUNNING_SESSIONS = 2
    sessions = start(lab, 3)
    states = [s.state for s in sessions]
    assert states == [State.PROVISIONING, State.PROVISIONING, State.REQUESTED]
    assert [s.host for s in sessions[:2]] == ["test-nobody-listens"] * 2
    assert [queue for _task, queue, _args in sent] == ["test-nobody-listens.provisioning"] * 2


def test_sessions_go_to_the_live_active_host_with_the_most_room(lab, sent):
    host("big", capacity=3)
    host("small", capacity=1)
    host("draining", capacity=9, state=LabHost.State.DRAINING)
    host("silent", capacity=9, seen=timedelta(minutes=10))  # not heard from: maybe gone
    sessions = start(lab, 5)
    placed = [s.host for s in sessions]
    # big (3 free) first, then the tie of 2 and... : never draining nor silent.
    assert sorted(placed[:4]) == ["big", "big", "big", "small"]
    assert sessions[4].state == State.REQUESTED and sessions[4].host == ""
    # Each start went to its own host's provisioning queue.
    assert sorted(queue for _t, queue, _a in sent) == [
        "big.provisioning",
        "big.provisioning",
        "big.provisioning",
        "small.provisioning",
    ]


def test_work_on_a_session_goes_to_its_host_queue(lab, sent, settings):
    host("h1", capacity=1)
    host("h2", capacity=1)
    first, second = start(lab, 2)
    for session in (first, second):
        LabSession.objects.filter(pk=session.pk).update(
            state=State.READY,
            ready_at=timezone.now(),
            expires_at=timezone.now() + timedelta(hours=1),
        )
        session.refresh_from_db()
    sent.clear()
    step = lab.steps.create(
        number=1, key="s", title="s", body_html="", check_script="", solve_script=""
    )
    services.lab_session_check_request(session=second, step=step, language="en")
    services.lab_session_results_request(session=second)
    services.lab_session_end(session=first)
    assert sent == [
        ("labs.tasks.check", f"{second.host}.checks", (second.pk, step.pk, "en")),
        ("labs.tasks.refresh_results", f"{second.host}.checks", (second.pk,)),
        ("labs.tasks.stop", f"{first.host}.provisioning", (first.pk,)),
    ]
    assert {first.host, second.host} == {"h1", "h2"}


def test_an_exam_task_goes_beside_the_candidates_other_task(lab, sent):
    host("h1", capacity=5)
    host("h2", capacity=5)
    lab.exam_only = True
    lab.save()
    other = Lab.objects.create(
        key="other",
        slug="other",
        title="o",
        summary="-",
        difficulty="beginner",
        duration_minutes=10,
        topology=lab.topology,
        shell_container="toolbox",
        exam_only=True,
    )
    user = UserFactory()
    LabSession.objects.create(user=user, lab=other, state=State.READY, host="h2")
    # h1 has more room (h2 holds one more session), but the attempt's tasks share a host.
    session = services.lab_session_start_for_exam(
        user=user, lab=lab, expires_at=timezone.now() + timedelta(hours=1), language="en"
    )
    assert session.host == "h2"


def test_a_drained_host_takes_nothing_new_and_ends_its_warm_pool(lab, sent, settings):
    host("h1", capacity=4)
    host("h2", capacity=4)
    warm = LabSession.objects.create(lab=lab, state=State.READY, host="h2")
    busy = LabSession.objects.create(lab=lab, user=UserFactory(), state=State.READY, host="h2")
    assert hosts.host_drain(name="h2") == 1
    warm.refresh_from_db()
    busy.refresh_from_db()
    assert warm.state == State.DESTROYED  # the pool goes at once (h2's worker removes it)
    assert busy.state == State.READY  # a learner's session runs out
    assert ("labs.tasks.stop", "h2.provisioning", (warm.pk,)) in sent
    assert {s.host for s in start(lab, 3)} == {"h1"}
    with pytest.raises(hosts.LabHostError, match="still holds 1"):
        hosts.host_remove(name="h2")
    hosts.host_resume(name="h2")
    with pytest.raises(hosts.LabHostError, match="Drain"):
        hosts.host_remove(name="h2")  # only a drained host is removed
    hosts.host_drain(name="h2")
    LabSession.objects.filter(pk=busy.pk).update(state=State.DESTROYED)
    hosts.host_remove(name="h2")
    assert list(LabHost.objects.values_list("name", flat=True)) == ["h1"]
    with pytest.raises(hosts.LabHostError, match="no lab host named"):
        hosts.host_drain(name="nowhere")


def test_a_warm_sandbox_is_handed_out_from_an_open_host_only(lab, sent):
    host("h1", capacity=4)
    host("h2", capacity=4, state=LabHost.State.DRAINING)
    expires = timezone.now() + timedelta(hours=1)
    LabSession.objects.create(lab=lab, state=State.READY, host="h2", expires_at=expires)
    session = services.lab_session_start(user=UserFactory(), lab=lab)
    assert session.state == State.PROVISIONING and session.host == "h1"  # a new one
    LabSession.objects.create(lab=lab, state=State.READY, host="h1", expires_at=expires)
    handed = services.lab_session_start(user=UserFactory(), lab=lab)
    assert handed.state == State.READY and handed.host == "h1"


def test_each_host_refills_its_own_pool_and_a_drained_one_empties_it(lab, sent, settings):
    settings.LAB_TASK_QUEUE = "h1"
    host("h1", capacity=8)
    host("h2", capacity=8)
    lab.warm_pool_size = 2
    lab.save()
    assert services.pool_refill() == 2
    assert set(LabSession.objects.pooled().values_list("host", flat=True)) == {"h1"}
    assert services.pool_refill(host="h2") == 2
    assert LabSession.objects.pooled().filter(host="h2").count() == 2
    hosts.host_drain(name="h2")
    assert services.pool_refill(host="h2") == 0
    assert not LabSession.objects.live().pooled().filter(host="h2").exists()
    assert LabSession.objects.live().pooled().filter(host="h1").count() == 2


def test_auto_warm_pools_follow_the_hosts_capacity(lab, settings):
    from labs.services.provisioning import warm_pool_size

    settings.LAB_WARM_POOL_SIZE = None  # "auto", as `make run` asks
    lab.warm_pool_size = None
    assert warm_pool_size(lab, capacity=32, labs=6) == 1
    assert warm_pool_size(lab, capacity=48, labs=6) == 2
    assert warm_pool_size(lab, capacity=8, labs=6) == 0
    settings.LAB_WARM_POOL_SIZE = 3
    assert warm_pool_size(lab, capacity=8, labs=6) == 3
    lab.warm_pool_size = 0
    assert warm_pool_size(lab, capacity=48, labs=6) == 0


def test_the_capacity_is_sized_from_the_machine_unless_set(monkeypatch):
    import importlib
    import os

    import academy.settings as config

    memory_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    cpus = len(os.sched_getaffinity(0))
    monkeypatch.setenv("LAB_MAX_RUNNING_SESSIONS", "auto")
    monkeypatch.setenv("LAB_SESSION_BUDGET_MIB", "100")
    monkeypatch.setenv("LAB_SESSIONS_PER_CPU", "10")
    try:
        expected = max(2, min(memory_mib * 3 // 4 // 100, cpus * 10))
        assert expected == importlib.reload(config).LAB_MAX_RUNNING_SESSIONS
        monkeypatch.setenv("LAB_MAX_RUNNING_SESSIONS", "5")
        assert importlib.reload(config).LAB_MAX_RUNNING_SESSIONS == 5
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_beat_fans_each_hosts_work_out_to_its_own_queue(sent, settings):
    host("h1")
    host("h2", state=LabHost.State.DRAINING)  # a draining host still reaps and watches
    from labs import tasks

    assert tasks.fan_out("reap", 30) == ["h1", "h2"]
    assert [(t, q) for t, q, _a in sent] == [
        ("labs.tasks.reap", "h1.housekeeping"),
        ("labs.tasks.reap", "h2.housekeeping"),
    ]
    with pytest.raises(ValueError):
        tasks.fan_out("provision")  # only the per-host housekeeping is fanned out
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["reap-lab-sessions"]["task"] == "labs.tasks.fan_out"
    assert schedule["watch-lab-sessions"]["args"][0] == "watch"


def test_a_reap_announces_its_host(settings):
    settings.LAB_TASK_QUEUE = "announced"
    settings.LAB_HOST_ANNOUNCE = True
    settings.LAB_MAX_RUNNING_SESSIONS = 7
    settings.LAB_HOST_TERMINAL_URL = "wss://lab-b.example.org"
    hosts.host_announce()
    row = LabHost.objects.get(name="announced")
    assert (row.capacity, row.terminal_url, row.state) == (7, "wss://lab-b.example.org", "active")
    hosts.host_drain(name="announced")
    hosts.host_announce()  # a worker restarting keeps the host drained
    assert LabHost.objects.get(name="announced").state == LabHost.State.DRAINING


def test_the_page_connects_its_terminal_to_the_sessions_host_gateway(lab):
    host("gw", terminal_url="wss://lab-b.example.org/")
    user = UserFactory()
    session = LabSession.objects.create(
        lab=lab,
        user=user,
        state=State.READY,
        host="gw",
        sandbox={"containers": {"toolbox": "x"}},
        ready_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = Client()
    client.force_login(user)
    response = client.get(reverse("labs:session", kwargs={"session_id": session.pk}))
    assert b'data-terminal-origin="wss://lab-b.example.org"' in response.content
    policy = response["Content-Security-Policy"]
    connect = next(part for part in policy.split(";") if part.strip().startswith("connect-src"))
    assert "wss://lab-b.example.org" in connect and "'self'" in connect
    # A session on a host without a gateway of its own: the site's origin, nothing added.
    LabSession.objects.filter(pk=session.pk).update(host="")
    response = client.get(reverse("labs:session", kwargs={"session_id": session.pk}))
    assert b'data-terminal-origin=""' in response.content
    assert "lab-b.example.org" not in response["Content-Security-Policy"]


def test_the_cli_lists_drains_resumes_and_removes_hosts(lab, sent):
    host("h1", capacity=3)
    LabSession.objects.create(lab=lab, user=UserFactory(), state=State.READY, host="h1")
    out = StringIO()
    call_command("lab", "hosts", stdout=out)
    assert "h1\tactive\t1/3 running\t0 warm\tlive" in out.getvalue()
    call_command("lab", "hosts", "drain", "h1", stdout=out)
    assert "h1: draining" in out.getvalue()
    with pytest.raises(CommandError, match="still holds 1"):
        call_command("lab", "hosts", "remove", "h1")
    with pytest.raises(CommandError, match="Name the host"):
        call_command("lab", "hosts", "drain")
    call_command("lab", "hosts", "resume", "h1", stdout=out)
    assert LabHost.objects.get(name="h1").state == LabHost.State.ACTIVE


def test_without_the_own_host_fallback_a_start_waits_for_a_host(lab, sent, settings):
    settings.LAB_OWN_HOST_FALLBACK = False  # a web process beside lab hosts (docker-compose)
    (session,) = start(lab, 1)
    assert (session.state, session.host, sent) == (State.REQUESTED, "", [])
    host("h1")
    assert services.lab_sessions_schedule() == [session.pk]
    session.refresh_from_db()
    assert session.host == "h1"


def test_a_silent_hosts_overdue_sessions_expire_without_it(lab, sent):
    host("away", seen=timedelta(minutes=10))
    host("here")
    past = timezone.now() - timedelta(minutes=1)
    on_away = LabSession.objects.create(
        lab=lab, user=UserFactory(), state=State.READY, host="away", expires_at=past
    )
    on_here = LabSession.objects.create(
        lab=lab, user=UserFactory(), state=State.READY, host="here", expires_at=past
    )
    from labs import tasks

    tasks.fan_out("reap", 30)
    on_away.refresh_from_db()
    on_here.refresh_from_db()
    assert on_away.state == State.EXPIRED  # its learner may start again
    assert on_here.state == State.READY  # its own reaper, on its own engine, does it
    assert ("labs.tasks.reap", "away.housekeeping", ()) in sent
