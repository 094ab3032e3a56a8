"""Faults the platform runs for a lab: the sidecar, the `fault` command and the relay, end to
end on the real Docker engine and a real Celery worker."""

import json
import time

import pytest

from academy.courses.services import content_sync
from labs import faults, runtime, services
from labs.models import Lab, LabSession
from tests.factories import UserFactory
from tests.labs_tree import write_faults_lab

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
State = LabSession.State


@pytest.fixture
def faults_lab(tmp_path, lab_images) -> Lab:
    assert "faults" in lab_images
    write_faults_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="faults-lab")


@pytest.fixture(autouse=True)
def _stop_sessions_after_the_test():
    yield
    for session in LabSession.objects.live():
        services.lab_session_stop(session=session)


def ready_session(lab: Lab) -> LabSession:
    session = services.lab_session_start(user=UserFactory(), lab=lab)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.state == State.READY:
            return session
        assert session.state in (State.REQUESTED, State.PROVISIONING), session.error
        time.sleep(0.2)
    raise AssertionError(f"session {session.pk} never became ready")


def learner(session: LabSession, script: str, timeout: float = 40) -> runtime.ExecResult:
    """A command in the learner's terminal."""
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-lc", script],
        user="learner",
        workdir="/home/learner",
        timeout=timeout,
    )


def state_of(session: LabSession, name: str) -> str:
    (container,) = [
        r
        for r in runtime.sandbox_list(
            labels={**services.session_labels(session), runtime.CONTAINER_LABEL: name}
        )
        if r.kind == "container"
    ]
    return container.state


def wait_state(session: LabSession, name: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while state_of(session, name) != state:
        assert time.monotonic() < deadline, f"{name} is {state_of(session, name)}, not {state}"
        time.sleep(0.1)


def test_faults_true_adds_the_sidecar_to_the_topology(faults_lab):
    assert faults_lab.faults_enabled
    assert [c["name"] for c in faults_lab.topology] == ["toolbox", "api"]  # as the author wrote

    specs = services.container_specs(faults_lab)

    assert [spec.name for spec in specs] == ["toolbox", "api", "faults"]
    sidecar = specs[-1]
    assert sidecar.image == "academy/faults:latest"
    assert sidecar.stdin_open
    assert sidecar.env["FAULT_TARGETS"] == "api"  # not the sidecar, not the learner's shell
    assert sidecar.cap_add == ()  # no capability, no Docker access


def test_fault_kill_and_restart_from_the_learners_terminal(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)
    assert set(session.sandbox["containers"]) == {"toolbox", "api", "faults"}
    assert learner(session, "curl -fsS http://api:8080/health").exit_code == 0

    targets = learner(session, "fault targets")
    assert targets.exit_code == 0 and targets.output.split() == ["api"]

    killed = learner(session, "fault kill api")
    assert killed.exit_code == 0, killed.output + fault_relay.log_path.read_text()
    assert "fault: killed api" in killed.output
    wait_state(session, "api", "exited")
    assert state_of(session, "toolbox") == "running"
    assert state_of(session, "faults") == "running"

    restarted = learner(session, "fault restart api")
    assert restarted.exit_code == 0, restarted.output
    assert "fault: restarted api" in restarted.output
    wait_state(session, "api", "running")
    back = learner(
        session,
        "for i in $(seq 50); do curl -fsS http://api:8080/health && exit; sleep 0.1; done; exit 1",
    )
    assert back.exit_code == 0, back.output
    assert f"session {session.pk}: kill api" in fault_relay.log_path.read_text()
    services.lab_session_stop(session=session)


def test_the_sidecar_and_strangers_are_refused(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)

    itself = learner(session, "fault kill faults")
    stranger = learner(session, "fault kill postgres")
    shell = learner(session, "fault pause toolbox")
    bad_action = learner(session, "fault explode api")

    assert itself.exit_code == 1
    assert "fault: refused: 'faults' runs the faults; it cannot be a target" in itself.output
    assert stranger.exit_code == 1
    assert "'postgres' is not a container of this lab; targets: api" in stranger.output
    assert shell.exit_code == 1 and "'toolbox' is not a container of this lab" in shell.output
    assert bad_action.exit_code == 2 and "unknown action 'explode'" in bad_action.output
    assert state_of(session, "faults") == "running"
    assert state_of(session, "api") == "running"
    assert state_of(session, "toolbox") == "running"
    # The relay does not trust the sidecar: a request that got past it is refused again.
    sandbox = faults.fault_sessions()[session.pk]
    for target in ("faults", "toolbox", "postgres", ["api"]):
        answer = faults.fault_request_run(
            sandbox=sandbox, line=json.dumps({"id": "y", "action": "kill", "target": target})
        )
        assert answer == {
            "id": "y",
            "ok": False,
            "error": f"{target!r} is not a container of this lab",
        }
    services.lab_session_stop(session=session)


def test_a_session_cannot_touch_another_sessions_containers(lab_worker, faults_lab, fault_relay):
    first, second = ready_session(faults_lab), ready_session(faults_lab)
    assert first.sandbox["containers"]["api"] != second.sandbox["containers"]["api"]

    assert learner(first, "fault kill api").exit_code == 0
    wait_state(first, "api", "exited")
    assert state_of(second, "api") == "running"

    # Even a relay handed another session's container id (a forged or stale sandbox) refuses:
    # container_action checks the container's session label.
    forged = faults.SessionSandbox(
        session_id=first.pk,
        shell="toolbox",
        containers={**first.sandbox["containers"], "api": second.sandbox["containers"]["api"]},
    )
    answer = faults.fault_request_run(
        sandbox=forged, line=json.dumps({"id": "x", "action": "kill", "target": "api"})
    )
    assert answer == {"id": "x", "ok": False, "error": answer["error"]}
    assert "is not one of this sandbox's" in answer["error"]
    assert state_of(second, "api") == "running"
    for session in (first, second):
        services.lab_session_stop(session=session)


def test_the_http_api_takes_what_chaos_toolkit_sends(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)
    post = (
        "curl -sS -w ' %{http_code}' -X POST -H 'Content-Type: application/json' "
        'http://faults:7000/v1/faults -d \'{"action": "ACTION", "target": "api"}\''
    )

    paused = learner(session, post.replace("ACTION", "pause"))
    assert paused.output.endswith(" 200"), paused.output
    assert json.loads(paused.output.rsplit(" ", 1)[0])["ok"] is True
    wait_state(session, "api", "paused")
    unpaused = learner(session, post.replace("ACTION", "unpause"))
    assert unpaused.output.endswith(" 200"), unpaused.output
    wait_state(session, "api", "running")
    too_long = learner(
        session,
        "curl -sS -w ' %{http_code}' -X POST -H 'Content-Type: application/json' "
        'http://faults:7000/v1/faults -d \'{"action": "stress", "target": "api", '
        '"duration": 301}\'',
    )
    assert too_long.output.endswith(" 400"), too_long.output
    services.lab_session_stop(session=session)


def test_the_relay_drops_ended_sessions_and_picks_up_new_ones(lab_worker, faults_lab):
    relay = faults.FaultRelay(poll_interval=0.1)
    first = ready_session(faults_lab)
    relay.sync()
    assert set(relay.relays) == {first.pk}
    assert relay.relays[first.pk].attached.wait(10)

    services.lab_session_stop(session=first)
    second = ready_session(faults_lab)
    relay.sync()

    assert set(relay.relays) == {second.pk}
    relay.close()
    services.lab_session_stop(session=second)


EXPERIMENT = {
    "title": "The api goes away",
    "description": "A fault through the platform, with Chaos Toolkit's own HTTP provider.",
    "method": [
        {
            "type": "action",
            "name": "kill-the-api",
            "provider": {
                "type": "http",
                "url": "http://faults:7000/v1/faults",
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "arguments": {"action": "kill", "target": "api"},
                "timeout": 30,
            },
        }
    ],
}


def test_chaos_toolkit_runs_a_fault_through_the_sidecar(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)
    experiment = json.dumps(EXPERIMENT)

    result = learner(
        session,
        f"cat > kill.json <<'EOF'\n{experiment}\nEOF\n"
        "chaos --no-version-check run kill.json > chaos.log 2>&1 || cat chaos.log; "
        "jq -c '{status, run: [.run[] | {status, output: .output.status}]}' journal.json",
        timeout=90,
    )

    assert result.exit_code == 0, result.output
    journal = json.loads(result.output.strip().splitlines()[-1])
    assert journal == {"status": "completed", "run": [{"status": "succeeded", "output": 200}]}
    wait_state(session, "api", "exited")


def test_the_attach_stream_splits_frames_into_stdout_lines():
    import socket
    import struct

    ours, engine = socket.socketpair()
    stream = runtime.AttachedStream(container_id="c", response=None, sock=ours, pending=b"")

    def frame(kind: int, data: bytes) -> bytes:
        return struct.pack(">BxxxL", kind, len(data)) + data

    data = frame(1, b'{"id": 1}\n{"i') + frame(2, b"stderr is not read\n") + frame(1, b'd": 2}\n')
    engine.sendall(data[:5])  # half a frame header
    assert stream.read_lines(0.2) == []
    engine.sendall(data[5:25])  # the first frame, and a bit of the second
    assert stream.read_lines(0.2) == ['{"id": 1}']
    engine.sendall(data[25:])
    assert stream.read_lines(0.2) == ['{"id": 2}']
    engine.close()
    with pytest.raises(runtime.RuntimeFailure, match="has ended"):
        stream.read_lines(0.2)


def test_fault_stress_runs_stress_ng_in_the_target(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)

    stressed = learner(session, "fault stress api 5")

    assert stressed.exit_code == 0, stressed.output
    assert "fault: stressing api's CPU for 5 s" in stressed.output
    seen = runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["api"],
        command=[
            "bash",
            "-c",
            "for i in $(seq 50); do pgrep -f ^stress-ng-cpu && exit; sleep 0.1; done; exit 1",
        ],
        user="app",
        timeout=10,
    )
    assert seen.exit_code == 0, seen.output
    assert learner(session, "fault stress api 301").exit_code == 1


def test_fault_memory_stress_and_unstress_from_the_terminal(lab_worker, faults_lab, fault_relay):
    session = ready_session(faults_lab)

    stressed = learner(session, "fault stress api 120 memory")
    bad = learner(session, "fault stress api 10 disk")
    sent = learner(
        session,
        "curl -s -o /dev/null -w '%{http_code} ' -X POST http://faults:7000/v1/faults"
        ' -d \'{"action": "stress", "target": "api", "resource": "disk"}\'',
    )

    assert stressed.exit_code == 0, stressed.output
    assert "fault: stressing api's memory for 120 s" in stressed.output
    assert bad.exit_code == 2 and "stress cpu or memory" in bad.output
    assert sent.output.startswith("400"), sent.output
    holding = "for i in $(seq 50); do pgrep -f ^stress-ng-vm && exit; sleep 0.1; done; exit 1"
    api = session.sandbox["containers"]["api"]
    seen = runtime.sandbox_exec(
        container_id=api, command=["bash", "-c", holding], user="app", timeout=10
    )
    assert seen.exit_code == 0, seen.output

    ended = learner(session, "fault unstress api")

    assert ended.exit_code == 0 and "fault: ended the stress in api" in ended.output
    left = runtime.sandbox_exec(
        container_id=api, command=["pgrep", "-f", "^stress-ng"], user="app", timeout=10
    )
    assert left.exit_code == 1, left.output  # nothing matches any more
    assert "unstress api" in fault_relay.log_path.read_text()
