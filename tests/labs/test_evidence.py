"""Verdicts rest on evidence the learner cannot forge (ARCHITECTURE.md, "Trust boundaries in
grading"): a journal, an answer or a status the learner writes by hand, shaped like the real
thing and timed now, fails its step with a message that says why, because the platform's own
records (faults sidecar, request logs, proxy and reconciler events) saw nothing of it.

The real solves still pass: the selftests show it (tests/labs/test_cli.py, `lab selftest`)."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from academy.courses.services import content_sync
from labs import runtime, services
from labs.models import Lab, LabSession
from tests.factories import UserFactory

TOOLBOX = Path(settings.BASE_DIR) / "labs" / "images" / "toolbox"


# --- Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def lab(lab_images, lab_worker, request) -> Iterator[Lab]:
    content_sync(root=settings.CONTENT_DIR)
    yield Lab.objects.get(key=request.param)
    for session in LabSession.objects.live():
        services.lab_session_stop(session=session)


def ready_session(lab: Lab) -> LabSession:
    session = services.lab_session_start(user=UserFactory(), lab=lab)
    deadline = time.monotonic() + 120
    while session.state != LabSession.State.READY:
        assert time.monotonic() < deadline, f"session {session.pk} is {session.state}"
        assert session.state in ("requested", "provisioning"), session.error
        time.sleep(0.3)
        session.refresh_from_db()
    time.sleep(8)  # what setup.sh sent is out of the forged times' reach (3 s of slack)
    return session


def learner(session: LabSession, script: str, timeout: float = 120) -> runtime.ExecResult:
    """What the learner types in the terminal (a login shell, as the browser terminal runs)."""
    result = runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-lc", script],
        user="learner",
        workdir="/home/learner",
        timeout=timeout,
    )
    assert result.exit_code == 0, result.output
    return result


def write(session: LabSession, name: str, data: object) -> None:
    text = json.dumps(data)
    learner(session, f"cat > /home/learner/{name} <<'JSON'\n{text}\nJSON")


def check(session: LabSession, step: str, language: str = "en"):
    return services.lab_session_check(
        session=session, step=session.lab.steps.get(key=step), language=language
    )


def fails_with(result, key: str) -> None:
    assert not result.passed, result.output
    assert f"FAIL: {key}" in result.output.splitlines(), result.output


def iso(moment: datetime) -> str:
    return moment.isoformat()


class Forger:
    """A journal shaped like the ones `chaos run` writes, with times of now."""

    def __init__(self) -> None:
        # Just now: a forged run claims the times the learner writes it at.
        self.started = datetime.now(UTC) - timedelta(seconds=3)
        self.now = self.started + timedelta(milliseconds=100)

    def run(self, activity: dict, output: object, *, status: str = "succeeded", **more) -> dict:
        start = self.now
        self.now += timedelta(milliseconds=500)
        return {
            "activity": activity,
            "output": output,
            "status": status,
            "start": iso(start),
            "end": iso(self.now),
            "duration": 1.0,
            **more,
        }

    def journal(self, experiment: dict, *, before, run, after, rollbacks, **more) -> dict:
        return {
            "chaoslib-version": "1.44.0",
            "platform": "Linux",
            "node": "toolbox",
            "experiment": experiment,
            "start": iso(self.started),
            "status": "completed",
            "deviated": False,
            "steady_states": {
                "before": {"steady_state_met": True, "probes": before},
                "after": {"steady_state_met": True, "probes": after} if after is not None else None,
                "during": [],
            },
            "run": run,
            "rollbacks": rollbacks,
            "end": iso(self.now + timedelta(seconds=1)),
            "duration": 22.0,
            **more,
        }


def process(path: str, arguments: str) -> dict:
    return {"type": "process", "path": path, "arguments": arguments}


def probe(name: str, provider: dict, tolerance: object = 0) -> dict:
    return {"type": "probe", "name": name, "tolerance": tolerance, "provider": provider}


def action(name: str, provider: dict) -> dict:
    return {"type": "action", "name": name, "provider": provider}


def met(stdout: str = "MET: 30/30 ok (100.0%), p50 2 ms, p95 4 ms, max 6 ms") -> dict:
    return {"status": 0, "stdout": stdout + "\n", "stderr": ""}


def said(stdout: str) -> dict:
    return {"status": 0, "stdout": stdout + "\n", "stderr": ""}


def fault_action(command: str) -> tuple[dict, dict]:
    """`fault COMMAND` as a journal's action, and what `fault` printed when it ran."""
    verb, target, *rest = command.split()
    printed = {
        "kill": f"killed {target}",
        "restart": f"restarted {target}",
        "unstress": f"ended the stress in {target}",
        "stress": f"stressing {target}'s {'memory' if 'memory' in rest else 'CPU'} for 30 s",
    }[verb]
    return action(f"{verb}-{target}", process("fault", command)), said(f"fault: {printed}")


def slo_journal(url: str, method: list[str], rollbacks: list[str], **more) -> dict:
    """A journal whose hypothesis runs `slo URL` and whose method and rollbacks run `fault`."""
    forge = Forger()
    slo = probe("quotes-meet-the-slo", process("slo", f"{url} --requests 30 --p95 300"))
    experiment = {
        "title": "Forged by hand",
        "steady-state-hypothesis": {"title": "quotes", "probes": [slo]},
        "method": [fault_action(command)[0] for command in method],
        "rollbacks": [fault_action(command)[0] for command in rollbacks],
    }
    before = [forge.run(slo, met(), tolerance_met=True)]
    run = [forge.run(*fault_action(command)) for command in method]
    after = [forge.run(slo, met(), tolerance_met=True)]
    back = [forge.run(*fault_action(command)) for command in rollbacks]
    return forge.journal(experiment, before=before, run=run, after=after, rollbacks=back, **more)


# --- evidence.py without a lab -----------------------------------------------------------------


@pytest.fixture
def evidence(monkeypatch):
    """labs/images/toolbox/evidence.py, importable here as in the toolbox (beside labcheck)."""
    monkeypatch.syspath_prepend(str(TOOLBOX))
    spec = importlib.util.spec_from_file_location("evidence", TOOLBOX / "evidence.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "evidence", module)
    spec.loader.exec_module(module)
    return module


def test_a_fault_is_proven_only_by_a_record_of_it_that_succeeded_in_its_window(
    evidence, monkeypatch
):
    journal = slo_journal("http://lb:8080/", ["kill api-2"], ["restart api-2"])
    kill, restart = journal["run"][0], journal["rollbacks"][0]
    at = evidence.when
    since = iso(at(journal["start"]) - timedelta(minutes=5))
    records = []
    monkeypatch.setattr(evidence, "fault_records", lambda: {"since": since, "records": records})
    monkeypatch.setattr(evidence, "addresses", lambda host=None: set())

    why = evidence.unproven_faults(journal)
    assert why and "fault kill api-2" in why and "no record" in why

    def record(seq, action, target, moment, ok=True):
        return {"seq": seq, "time": iso(moment), "action": action, "target": target, "ok": ok}

    # Refused by the platform, or a minute earlier: still no evidence.
    records[:] = [
        record(1, "kill", "api-2", at(kill["start"]), ok=False),
        record(2, "kill", "api-2", at(kill["start"]) - timedelta(minutes=1)),
    ]
    assert "fault kill api-2" in evidence.unproven_faults(journal)
    records.append(record(3, "kill", "api-2", at(kill["start"]) + timedelta(milliseconds=300)))
    assert "fault restart api-2" in evidence.unproven_faults(journal)
    records.append(record(4, "restart", "api-2", at(restart["end"])))
    assert evidence.unproven_faults(journal) is None

    # In Spanish when the learner reads Spanish.
    records.pop()
    monkeypatch.setenv("LAB_LANGUAGE", "es")
    assert "no tiene registro" in evidence.unproven_faults(journal)


def test_a_replica_left_down_before_the_run_is_named_not_the_experiment(evidence, monkeypatch):
    journal = slo_journal("http://lb:8080/", ["kill api-2"], ["restart api-2"])
    start = evidence.when(journal["start"])

    def record(action, target, minutes_before, ok=True):
        moment = start - timedelta(minutes=minutes_before)
        return {"time": iso(moment), "action": action, "target": target, "ok": ok}

    targets = ["api-1", "api-2", "api-3"]
    quiet = {"records": [record("kill", "api-1", 9), record("restart", "api-1", 8)]}
    assert evidence.down_before(journal, targets, quiet) is None  # killed, then brought back
    refused = {"records": [record("kill", "api-3", 5, ok=False)]}
    assert evidence.down_before(journal, targets, refused) is None  # the platform did nothing
    left = {"records": [*quiet["records"], record("kill", "api-3", 4)]}
    why = evidence.down_before(journal, targets, left)
    assert why and "api-3 was already down" in why and "fault restart api-3" in why
    paused = {"records": [record("pause", "api-1", 2)]}
    assert "api-1" in evidence.down_before(journal, targets, paused)
    monkeypatch.setenv("LAB_LANGUAGE", "es")
    assert "api-3 ya estaba caído" in evidence.down_before(journal, targets, left)


def test_a_probe_is_proven_by_the_services_log_unless_that_log_began_after_it(
    evidence, monkeypatch
):
    journal = slo_journal("http://api:8080/", ["stress api 30 memory"], ["unstress api"])
    first = journal["steady_states"]["before"]["probes"][0]
    at = evidence.when(first["start"])
    log = {"since": iso(at - timedelta(minutes=1)), "requests": []}
    monkeypatch.setattr(evidence, "request_log", lambda name, path=None: log)
    monkeypatch.setattr(evidence, "addresses", lambda host=None: {"10.0.0.2"})

    assert "quotes-meet-the-slo" in evidence.unseen_probes(journal, {"api": ["api"]})
    # Someone else's request (an agent's, a health check) is not the learner's probe.
    log["requests"] = [{"time": iso(at), "path": "/", "method": "GET", "client": "10.0.0.9"}]
    assert evidence.unseen_probes(journal, {"api": ["api"]})
    after = evidence.when(journal["steady_states"]["after"]["probes"][0]["start"])
    log["requests"] = [
        {"time": iso(moment), "path": "/", "method": "GET", "status": 200, "client": "10.0.0.2"}
        for moment in (at, after)
        for _ in range(30)  # slo's 30 requests, each answered
    ]
    assert evidence.unseen_probes(journal, {"api": ["api"]}) is None
    # A log that began after the probes (the service restarted) cannot tell: not held against.
    log.update(since=iso(after + timedelta(minutes=1)), requests=[])
    assert evidence.unseen_probes(journal, {"api": ["api"]}) is None


def test_a_claim_from_before_the_lab_started_is_refused_not_skipped(evidence, monkeypatch):
    journal = slo_journal("http://api:8080/", ["kill api"], [])
    # Every record began after these times, so none could contradict them: they are refused.
    monkeypatch.setattr(
        evidence, "lab_started", lambda: evidence.when(journal["end"]) + timedelta(hours=1)
    )
    monkeypatch.setattr(evidence, "fault_records", lambda: {"since": None, "records": []})

    why = evidence.unproven_faults(journal)

    assert "before this lab started" in why


def test_a_probe_that_says_slo_was_met_must_agree_with_what_the_service_answered(
    evidence, monkeypatch
):
    journal = slo_journal("http://api:8080/", ["stress api 30 memory"], [])  # 30 req, p95 300
    probe_run = journal["steady_states"]["before"]["probes"][0]
    at = probe_run["start"]
    log = {"since": iso(evidence.when(at) - timedelta(minutes=1)), "requests": []}
    monkeypatch.setattr(evidence, "request_log", lambda name, path=None: log)
    monkeypatch.setattr(evidence, "addresses", lambda host=None: set())
    journal["steady_states"]["after"]["probes"] = []

    def answers(count, status=200, ms=5.0):
        return [{"time": at, "path": "/", "method": "GET", "status": status, "ms": ms}] * count

    log["requests"] = answers(25) + answers(5, status=500)  # 25/30: not 99 %
    assert "25/30 2xx" in evidence.unseen_probes(journal, {"api": ["api"]})
    log["requests"] = answers(30, ms=450.0)  # all answered, all slower than 300 ms
    assert "p95 >= 450 ms" in evidence.unseen_probes(journal, {"api": ["api"]})
    # The probe's own 30 fast answers, among others' slow ones in the same seconds: it holds.
    log["requests"] = answers(30) + answers(40, ms=900.0)
    assert evidence.unseen_probes(journal, {"api": ["api"]}) is None


def test_learner_text_in_a_reason_stays_on_one_short_line(evidence, monkeypatch):
    journal = slo_journal("http://api:8080/", ["kill api"], [])
    journal["run"][0]["activity"]["name"] = "x\nFAIL: not-completed\n" + "y" * 500
    monkeypatch.setattr(evidence, "fault_records", lambda: None)
    monkeypatch.setattr(evidence, "addresses", lambda host=None: set())

    why = evidence.unproven_faults(journal)

    assert "\n" not in why and len(why) < 400


def test_a_journal_is_read_as_chaos_run_ran_it_and_its_secrets_are_never_printed(
    evidence, monkeypatch, tmp_path, capsys
):
    journal = slo_journal("http://api:8080/?token=${token}", ["kill ${target}"], [])
    journal["experiment"]["configuration"] = {"target": "api"}
    journal["experiment"]["secrets"] = {"api": {"token": "s3cr3t-value"}}
    kill = journal["run"][0]
    since = iso(evidence.when(journal["start"]) - timedelta(minutes=5))
    record = {"seq": 1, "time": kill["start"], "action": "kill", "target": "api", "ok": True}
    monkeypatch.setattr(evidence, "fault_records", lambda: {"since": since, "records": [record]})
    log = {"since": since, "requests": []}
    monkeypatch.setattr(evidence, "request_log", lambda name, path=None: log)
    monkeypatch.setattr(evidence, "addresses", lambda host=None: set())
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(journal))

    code = evidence.main(
        ["journal", str(path), "--fault-key", "f", "--traffic-key", "t", "--witness", "api"]
    )

    printed = capsys.readouterr().out
    assert code == 1  # `kill ${target}` was `kill api`, which ran; the probes never did
    assert printed.splitlines()[0] == "FAIL: t"
    assert "http://api:8080/?token=***" in printed and "s3cr3t" not in printed


def load_image_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_request_log_is_bounded_per_path_and_says_since_when_it_is_complete(monkeypatch):
    service = load_image_module("evidence_target_service", TOOLBOX.parent / "target" / "service.py")
    monkeypatch.setattr(service.RequestLog, "PER_KIND", 3)
    log = service.RequestLog()
    log.since = "2026-01-01T09:00:00.000+00:00"  # the process started before these requests
    for second in range(5):
        at = f"2026-01-01T10:00:0{second}.000+00:00"
        log.add(at=at, method="GET", path="/health", status=200, ms=1.0, client="10.0.0.2")
    log.add(
        at="2026-01-01T10:00:09.000+00:00",
        method="GET",
        path="/",
        status=200,
        ms=1.0,
        client="10.0.0.2",
    )

    health = log.read("/health")
    assert [e["time"][17:19] for e in health["requests"]] == ["02", "03", "04"]
    assert health["since"] == "2026-01-01T10:00:02.000+00:00"  # older ones were dropped
    assert log.read("/")["since"] == log.since  # nothing dropped there
    assert len(log.read()["requests"]) == 4


def test_the_fault_records_are_bounded_and_keep_the_platforms_answer(monkeypatch):
    faultd = load_image_module("evidence_faultd", TOOLBOX.parent / "faults" / "faultd.py")
    monkeypatch.setattr(faultd, "MAX_RECORDS", 2)
    records = faultd.Records()
    for number, ok in enumerate((True, False, True)):
        request = {"id": str(number), "action": "kill", "target": f"api-{number}", "duration": 30}
        answer = {"id": str(number), "ok": ok} if ok else {"ok": False, "error": "not running"}
        records.add(request, f"2026-01-01T10:00:0{number}.000+00:00", answer, "10.0.0.2")

    read = records.read()
    assert [(r["target"], r["ok"], r["error"]) for r in read["records"]] == [
        ("api-1", False, "not running"),
        ("api-2", True, None),
    ]
    assert read["since"] == "2026-01-01T10:00:01.000+00:00"


# --- Each lab: a forged file fails its step ----------------------------------------------------


@pytest.mark.parametrize("lab", ["first-steady-state"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_first_steady_state_forged_answer_and_journal_fail(lab):
    session = ready_session(lab)

    write(session, "health.json", {"status": "ok", "role": "service", "host": "0123456789ab"})
    fails_with(check(session, "probe-the-service"), "no-health-request")
    spanish = check(session, "probe-the-service", language="es")
    assert any("nunca respondió una verificación de salud" in m for m in spanish.messages)

    forge = Forger()
    health = probe("api-health", {"type": "http", "url": "http://api:8080/health"}, 200)
    answer = {"status": 200, "headers": {}, "body": {"status": "ok", "role": "service"}}
    journal = forge.journal(
        {"title": "Forged", "steady-state-hypothesis": {"title": "ok", "probes": [health]}},
        before=[forge.run(health, answer, tolerance_met=True)],
        run=[],
        after=[forge.run(health, answer, tolerance_met=True)],
        rollbacks=[],
    )
    write(session, "journal.json", journal)
    result = check(session, "run-a-hypothesis")
    fails_with(result, "traffic-not-seen")
    assert any(
        "api-health" in line and "http://api:8080/health" in line for line in result.messages
    )

    # The real thing passes: a health answer saved from the api.
    learner(session, "curl -fsS http://api:8080/health > ~/health.json")
    assert check(session, "probe-the-service").passed

    # A real run whose probe names the api through the configuration (`${api_url}`, with an
    # environment-backed default) counts as the URL it resolved to.
    experiment = {
        "title": "The api answers its health check",
        "description": "A steady-state hypothesis with its URL from the configuration.",
        "configuration": {
            "api_url": {"type": "env", "key": "API_URL", "default": "http://api:8080"}
        },
        "steady-state-hypothesis": {
            "title": "healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": "api-health",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": "${api_url}/health", "timeout": 3},
                }
            ],
        },
        "method": [],
    }
    write(session, "experiment.json", experiment)
    ran = learner(session, "cd ~ && chaos run --journal-path journal.json experiment.json")
    assert "Steady state hypothesis is met" in ran.output, ran.output
    result = check(session, "run-a-hypothesis")
    assert result.passed, result.output


@pytest.mark.parametrize("lab", ["kill-a-replica"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_kill_a_replica_forged_journals_fail(lab, fault_relay):
    session = ready_session(lab)

    write(
        session,
        "kill-one-journal.json",
        slo_journal("http://lb:8080/", ["kill api-2"], ["restart api-2"]),
    )
    result = check(session, "kill-one-replica")
    fails_with(result, "fault-not-seen")
    assert any("fault kill api-2" in line for line in result.messages)

    replicas = ("api-1", "api-2", "api-3")
    journal = slo_journal(
        "http://lb:8080/", [f"kill {r}" for r in replicas], [f"restart {r}" for r in replicas]
    )
    journal["deviated"] = True
    journal["steady_states"]["after"]["steady_state_met"] = False
    write(session, "kill-all-journal.json", journal)
    fails_with(check(session, "kill-every-replica"), "fault-not-seen")

    # A real kill and restart, run by hand at the journal's times, but no probe of it ever went
    # through the load balancer (the replicas' logs show no request relayed then): still forged.
    ran = learner(
        session,
        "date -u +%FT%T.%6N+00:00; fault kill api-2 >/dev/null; "
        "fault restart api-2 >/dev/null; date -u +%FT%T.%6N+00:00",
    ).output.split()
    journal = slo_journal("http://lb:8080/", ["kill api-2"], ["restart api-2"])
    journal["run"][0].update(start=ran[0], end=ran[-1])
    journal["rollbacks"][0].update(start=ran[0], end=ran[-1])
    journal["start"] = iso(datetime.fromisoformat(ran[0]) - timedelta(seconds=1))
    write(session, "kill-one-journal.json", journal)
    result = check(session, "kill-one-replica")
    fails_with(result, "traffic-not-seen")
    assert any("quotes-meet-the-slo" in line for line in result.messages)

    # The guardrail's real solve passes; the same journal moved to other times does not.
    solve = session.lab.steps.get(key="add-a-guardrail").solve_script
    learner(session, solve, timeout=240)
    assert check(session, "add-a-guardrail").passed
    learner(
        session,
        "python3 - <<'PY'\n"
        "import json, re\n"
        "from datetime import datetime, timedelta\n"
        "path = '/home/learner/guardrail-journal.json'\n"
        "text = open(path).read()\n"
        "def later(match):\n"
        "    moment = datetime.fromisoformat(match.group(1)) + timedelta(minutes=7)\n"
        "    return '\"' + moment.isoformat() + '\"'\n"
        'text = re.sub(r\'"(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[^"]*)"\', later, text)\n'
        "open(path, 'w').write(text)\n"
        "PY",
    )
    fails_with(check(session, "add-a-guardrail"), "fault-not-seen")

    # Two replicas left dead by hand before the learner's real experiment kills the third: the
    # hypothesis deviates, and the check names the lab's state, not the experiment.
    learner(session, "fault kill api-1 && fault kill api-3")
    solve = session.lab.steps.get(key="kill-one-replica").solve_script
    # chaos run exits non-zero: it deviated
    learner(
        session, f"cat > /tmp/kill-one.sh <<'SH'\n{solve}\nSH\nbash /tmp/kill-one.sh || true", 240
    )
    result = check(session, "kill-one-replica")
    fails_with(result, "already-down")
    assert any("api-1 was already down" in line for line in result.messages), result.messages
    spanish = check(session, "kill-one-replica", language="es")
    assert any("api-1 ya estaba caído" in line for line in spanish.messages)


@pytest.mark.parametrize("lab", ["resource-pressure"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_resource_pressure_forged_journals_fail(lab, fault_relay):
    session = ready_session(lab)
    refused = learner(
        session,
        "for method in PUT POST PATCH DELETE; do curl -s -o /dev/null -w '%{http_code} ' "
        "-X $method --data '{}' http://faults:7000/v1/records; done",
    ).output.split()
    assert len(refused) == 4 and all(code in ("404", "405", "501") for code in refused), refused

    write(
        session,
        "memory-journal.json",
        slo_journal("http://api:8080/", ["stress api 30 memory"], ["unstress api"]),
    )
    fails_with(check(session, "memory-pressure"), "fault-not-seen")

    cpu = slo_journal("http://api:8080/", ["stress api 60"], ["unstress api"])
    cpu.update(status="interrupted", duration=9.0)
    safeguard = probe("api-slo", process("slo", "http://api:8080/ --requests 5"))
    cpu["experiment"]["controls"] = [
        {
            "name": "safeguards",
            "provider": {
                "type": "python",
                "module": "chaosaddons.controls.safeguards",
                "arguments": {"probes": [{**safeguard, "frequency": 1}]},
            },
        }
    ]
    write(session, "cpu-journal.json", cpu)
    fails_with(check(session, "abort-on-the-slo"), "fault-not-seen")

    # Dated yesterday, before any record of this lab began: refused all the same.
    yesterday = json.dumps(cpu).replace(datetime.now(UTC).date().isoformat(), "2026-01-01")
    write(session, "cpu-journal.json", json.loads(yesterday))
    result = check(session, "abort-on-the-slo")
    fails_with(result, "fault-not-seen")
    assert any("before this lab started" in line for line in result.messages)

    # Real faults, run by hand, at the journal's times; its probes never ran: still forged.
    stressed = learner(
        session,
        "date -u +%FT%T.%6N+00:00; fault stress api 5 memory >/dev/null; "
        "fault unstress api >/dev/null; date -u +%FT%T.%6N+00:00",
    ).output.split()
    started, ended = stressed[0], stressed[-1]
    journal = slo_journal("http://api:8080/", ["stress api 5 memory"], ["unstress api"])
    journal["run"][0].update(start=started, end=ended)
    journal["rollbacks"][0].update(start=started, end=ended)
    journal["start"] = iso(datetime.fromisoformat(started) - timedelta(seconds=1))
    write(session, "memory-journal.json", journal)
    result = check(session, "memory-pressure")
    fails_with(result, "traffic-not-seen")
    assert any("quotes-meet-the-slo" in line for line in result.messages)

    # Real probes too, run by hand at the journal's times, but the journal raises what they
    # achieved into an objective that was met: the api's own log says it was not.
    measured = learner(
        session,
        "date -u +%FT%T.%6N+00:00; slo http://api:8080/ --requests 10 >/dev/null; "
        "date -u +%FT%T.%6N+00:00",
    ).output.split()
    for state in ("before", "after"):
        (probe_run,) = journal["steady_states"][state]["probes"]
        probe_run.update(start=measured[0], end=measured[-1])
        probe_run["activity"]["provider"]["arguments"] = "http://api:8080/ -n 10 --p95 0.001"
    journal["end"] = iso(datetime.fromisoformat(measured[-1]) + timedelta(seconds=1))
    write(session, "memory-journal.json", journal)
    result = check(session, "memory-pressure")
    fails_with(result, "traffic-not-seen")
    assert any("met its objective" in line and "p95" in line for line in result.messages)


@pytest.mark.parametrize("lab", ["latency-and-timeouts"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_latency_forged_figures_answers_and_journals_fail(lab):
    session = ready_session(lab)
    # The records a check reads can be read by the learner, never written.
    refused = learner(
        session,
        "for method in PUT POST PATCH DELETE; do for url in http://api:8080/requests "
        "http://proxy:8474/events; do curl -s -o /dev/null -w '%{http_code} ' -X $method "
        "-H 'Content-Type: application/json' --data '{\"events\": []}' $url; done; done",
    ).output.split()
    assert len(refused) == 8 and all(code in ("404", "405", "501") for code in refused), refused

    write(
        session,
        "slo-baseline.json",
        {
            "url": "http://api:8080/api/quote",
            "requests": 20,
            "ok": 20,
            "success_percent": 100.0,
            "p50_ms": 3.0,
            "p95_ms": 6.0,
            "max_ms": 8.0,
            "errors": {},
            "objective": {"success_percent": 99.0, "p95_ms": None},
            "met": True,
        },
    )
    fails_with(check(session, "measure-the-slo"), "no-measurement")
    learner(session, "slo http://api:8080/api/quote --json > ~/slo-baseline.json")
    assert check(session, "measure-the-slo").passed

    write(
        session,
        "slow-quote.json",
        {"error": "dependency unavailable", "detail": "timed out", "attempts": 1, "ms": 2004},
    )
    fails_with(check(session, "feel-the-latency"), "no-slow-request")

    forge = Forger()
    slo = probe("quotes-meet-the-slo", process("slo", "http://api:8080/api/quote --p95 1000"))
    toxic = {
        "type": "action",
        "name": "slow-dependency",
        "provider": {
            "type": "python",
            "module": "chaostoxi.toxic.actions",
            "func": "create_toxic",
            "arguments": {
                "for_proxy": "dependency",
                "toxic_name": "slow",
                "toxic_type": "latency",
                "toxicity": 0.5,
                "attributes": {"latency": 3000},
            },
        },
    }
    remove = {
        "type": "action",
        "name": "remove-slow",
        "provider": {
            "type": "python",
            "module": "chaostoxi.toxic.actions",
            "func": "delete_toxic",
            "arguments": {"for_proxy": "dependency", "toxic_name": "slow"},
        },
    }
    missed = {"status": 1, "stdout": "NOT MET: 14/20 ok (70.0%)\n", "stderr": ""}
    journal = forge.journal(
        {"title": "Forged", "steady-state-hypothesis": {"title": "slo", "probes": [slo]}},
        before=[forge.run(slo, met(), tolerance_met=True)],
        run=[forge.run(toxic, True)],
        after=[forge.run(slo, missed, tolerance_met=False)],
        rollbacks=[forge.run(remove, True)],
        deviated=True,
    )
    journal["steady_states"]["after"]["steady_state_met"] = False
    write(session, "journal-no-timeout.json", journal)
    result = check(session, "break-the-slo")
    fails_with(result, "toxic-not-seen")
    assert any("slow" in line and "dependency" in line for line in result.messages)

    config = {"dependency_timeout_ms": 300, "retries": 1, "retry_backoff_ms": 50}
    learner(session, f"curl -fsS -X PUT --data {shlex.quote(json.dumps(config))} api:8080/config")
    journal.update(deviated=False)
    journal["steady_states"]["after"].update(steady_state_met=True)
    journal["steady_states"]["after"]["probes"][0]["output"] = met()
    write(session, "journal-with-timeout.json", journal)
    fails_with(check(session, "keep-the-slo"), "toxic-not-seen")


@pytest.mark.parametrize("lab", ["gitops-reconcile"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_gitops_reconcile_forged_status_fails(lab):
    session = ready_session(lab)
    learner(session, "git clone -q git://git/platform.git ~/platform")
    head = learner(session, "git -C ~/platform rev-parse HEAD").output.strip()

    write(session, "status.json", {"revision": head, "synced": True})
    fails_with(check(session, "clone-the-desired-state"), "status-not-reported")
    forged = json.loads(learner(session, "curl -fsS http://reconciler:9100/status").output)
    forged["last_sync"] = iso(datetime.now(UTC) - timedelta(hours=1))
    write(session, "status.json", forged)
    fails_with(check(session, "clone-the-desired-state"), "status-not-reported")

    learner(session, "curl -fsS http://reconciler:9100/status > ~/status.json")
    assert check(session, "clone-the-desired-state").passed


@pytest.mark.parametrize("lab", ["chaos-meets-gitops"], indirect=True)
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_chaos_meets_gitops_forged_journals_fail(lab, fault_relay):
    session = ready_session(lab)

    # web really goes down (paused) and the reconciler really restores it; the journal says it
    # was killed then, which the platform never did.
    paused = learner(session, "date -u +%FT%T.%6N+00:00; fault pause web >/dev/null").output
    paused_at = paused.split()[0]
    learner(
        session,
        "for _ in $(seq 60); do curl -fsS http://reconciler:9100/events "
        '| jq -e \'any(.[]; .kind == "restored" and .app == "web")\' >/dev/null && exit 0; '
        "sleep 1; done; exit 1",
    )
    web = probe("web-answers", {"type": "http", "url": "http://web:8080/health"}, 200)
    forge = Forger()
    kill = action("kill-web", process("fault", "kill web"))
    answer = {"status": 200, "headers": {}, "body": {"status": "ok"}}
    journal = forge.journal(
        {"title": "Forged", "steady-state-hypothesis": {"title": "web", "probes": [web]}},
        before=[forge.run(web, answer, tolerance_met=True)],
        run=[forge.run(kill, said("fault: killed web"))],
        after=[forge.run(web, answer, tolerance_met=True)],
        rollbacks=[],
    )
    journal["run"][0].update(start=paused_at, end=paused_at)
    journal["start"] = iso(datetime.fromisoformat(paused_at) - timedelta(seconds=30))
    write(session, "web-journal.json", journal)
    result = check(session, "prove-it-with-an-experiment")
    fails_with(result, "fault-not-seen")
    assert any("fault kill web" in line for line in result.messages)

    learner(session, "rm ~/web-journal.json")

    # A real kill of web, restored by the reconciler; the journal's probes of web after it never
    # reached web (the reconciler's own health checks of web do not count): still forged.
    killed_at = learner(session, "date -u +%FT%T.%6N+00:00; fault kill web >/dev/null").output
    learner(
        session,
        "for _ in $(seq 90); do curl -fsS http://reconciler:9100/events | jq -e "
        '\'[.[] | select(.kind == "restored" and .app == "web")] | length >= 2\' '
        ">/dev/null && exit 0; sleep 1; done; exit 1",
        timeout=120,
    )
    time.sleep(5)  # the forged probes come after web's restart: its new log covers them
    forge = Forger()
    journal = forge.journal(
        {"title": "Forged", "steady-state-hypothesis": {"title": "web", "probes": [web]}},
        before=[forge.run(web, answer, tolerance_met=True)],
        run=[forge.run(kill, said("fault: killed web"))],
        after=[forge.run(web, answer, tolerance_met=True)],
        rollbacks=[],
    )
    killed_at = killed_at.split()[0]
    journal["run"][0].update(start=killed_at, end=killed_at)
    journal["steady_states"]["before"]["probes"][0].update(start=killed_at, end=killed_at)
    journal["start"] = iso(datetime.fromisoformat(killed_at) - timedelta(seconds=1))
    write(session, "web-journal.json", journal)
    result = check(session, "prove-it-with-an-experiment")
    fails_with(result, "traffic-not-seen")
    assert any("web-answers" in line for line in result.messages)
    learner(session, "rm ~/web-journal.json")
    cover = slo_journal("http://api:8080/", ["kill reconciler"], ["restart reconciler"])
    write(session, "cover-journal.json", cover)
    fails_with(check(session, "cover-the-agent"), "fault-not-seen")
