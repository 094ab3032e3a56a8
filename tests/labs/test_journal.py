"""Chaos Toolkit journals: the timeline and coverage of labs.journal, and their collection from
a learner's real sandbox.

The journals in tests/labs/journals/*.json were written by real `chaos run` runs of the
experiments in tests/labs/journals/experiments/, with the Chaos Toolkit of the lab toolbox image
(chaostoolkit 1.19.0, chaostoolkit-lib 1.44.0): see tests/labs/journals/make.py, which made
them and makes them again (`.venv/bin/python -m tests.labs.journals.make`).
test_a_fresh_run_in_the_toolbox_image_reads_like_the_checked_in_one runs some again.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from academy.courses.services import content_sync
from labs import runtime, services
from labs.content import FAULTS_CONTAINER
from labs.journal import (
    FAULTS_SIDECAR,
    MAX_PROXIES,
    MAX_RESOLVED,
    MAX_TEXT,
    MAX_VARIABLES,
    SECRET_MASK,
    LearnerProxy,
    Variables,
    chaos_coverage,
    fault_targets,
    journal_compact,
    journal_entries,
    journal_timeline,
    journal_variables,
    learner_proxies,
    looks_like_journal,
    probe_targets,
    substitute,
)
from labs.models import Lab, LabSession
from labs.services import results
from tests.factories import UserFactory
from tests.labs.journals import make
from tests.labs_tree import write_faults_lab

JOURNALS = Path(__file__).parent / "journals"
NAMES = make.experiment_names()


def journal(name: str) -> dict:
    return json.loads((JOURNALS / f"{name}.json").read_text())


def names_in(lane) -> list[str]:
    return [activity.name for activity in lane.activities]


# --- Reading and compacting --------------------------------------------------------------------


def test_every_experiment_has_its_journal_and_each_one_is_a_journal():
    assert len(NAMES) >= 9
    for name in NAMES:
        assert looks_like_journal(journal(name)), name
        assert journal(name)["chaoslib-version"] == "1.44.0"


def test_experiments_and_other_json_are_not_journals():
    experiment = json.loads((JOURNALS / "experiments" / "kill-deviated.json").read_text())
    assert not looks_like_journal(experiment)
    assert not looks_like_journal({"status": "ok", "role": "service"})  # a saved /health answer
    assert not looks_like_journal([journal("kill-deviated")])
    assert not looks_like_journal({**journal("kill-deviated"), "experiment": "a title"})
    without_runs = {
        k: v for k, v in journal("kill-deviated").items() if k not in ("run", "steady_states")
    }
    assert not looks_like_journal(without_runs)


@pytest.mark.parametrize("name", NAMES)
def test_a_compacted_journal_draws_the_same_timeline(name):
    raw = journal(name)

    compact = journal_compact(raw)

    assert looks_like_journal(compact)
    assert journal_timeline(compact) == journal_timeline(raw)
    assert journal_compact(compact) == compact  # compacting again changes nothing
    text = json.dumps(compact)
    assert len(text) <= len(json.dumps(raw))
    assert '"headers"' not in text and "Traceback" not in text


def test_compacting_drops_credentials_and_cuts_long_outputs():
    raw = journal("kill-deviated")
    provider = raw["run"][0]["activity"]["provider"]
    provider["headers"]["Authorization"] = "Bearer s3cr3t"
    provider["secrets"] = ["faults"]
    raw["run"][0]["output"]["body"] = {"quote": "x" * 5000}

    compact = journal_compact(raw)

    text = json.dumps(compact)
    assert "s3cr3t" not in text and "secrets" not in text
    assert len(compact["run"][0]["output"]["body"]["quote"]) == MAX_TEXT
    after = compact["steady_states"]["after"]["probes"][0]
    assert after["exception"].startswith("failed to connect to http://api:8080/health")


# --- Timeline ----------------------------------------------------------------------------------


def test_timeline_of_a_fault_the_system_tolerated():
    timeline = journal_timeline(journal("tolerated-latency"))

    assert timeline.title == "The api tolerates 100 ms of injected latency"
    assert (timeline.status, timeline.display_status, timeline.deviated) == (
        "completed",
        "completed",
        False,
    )
    assert timeline.outcome == "held" and timeline.fault
    assert timeline.before_met is True and timeline.after_met is True
    assert [lane.phase for lane in timeline.lanes] == ["before", "during", "after", "rollbacks"]
    assert names_in(timeline.lane("before")) == ["api-is-healthy", "api-meets-the-slo"]
    assert [a.mark for a in timeline.lane("before").activities] == ["met", "met"]
    inject, read = timeline.lane("during").activities
    assert (inject.name, inject.kind, inject.mark) == (
        "inject-latency-in-the-api",
        "action",
        "action",
    )
    assert inject.call == "PUT http://api:8080/faults" and inject.output == "HTTP 200"
    assert (read.kind, read.mark, read.tolerance_met) == ("probe", "probe", None)
    assert read.start >= inject.end + 1  # the action's pause after it
    slo = timeline.lane("after").activities[1]
    assert slo.call == "slo http://api:8080/ --requests 10 --p95 1000"
    assert slo.output.startswith("exit 0: MET: 10/10 ok") and slo.tolerance == "0"
    assert names_in(timeline.lane("rollbacks")) == ["remove-the-latency"]
    # One time axis: every activity in order, within the run, placed within the picture.
    starts = [a.start for a in timeline.activities]
    assert starts == sorted(starts) and starts[0] >= 0
    assert all(a.end <= timeline.duration + 0.01 for a in timeline.activities)
    assert all(0 <= a.left <= 100 and 0 <= a.left + a.width <= 100.001 for a in timeline.activities)
    assert timeline.ticks[0].seconds == 0 and timeline.ticks[-1].seconds <= timeline.duration
    assert 3 <= len(timeline.ticks) <= 7


def test_timeline_of_a_kill_the_system_did_not_survive():
    timeline = journal_timeline(journal("kill-deviated"))

    # The probe could not even connect: Chaos Toolkit says "failed" and deviated.
    assert (timeline.status, timeline.deviated, timeline.display_status) == (
        "failed",
        True,
        "deviated",
    )
    assert timeline.outcome == "deviated" and timeline.fault
    (kill,) = timeline.lane("during").activities
    assert kill.call == "POST http://faults:7000/v1/faults"
    (probe,) = timeline.lane("after").activities  # the first failure ends the check
    assert (probe.status, probe.tolerance_met, probe.mark) == ("failed", False, "not-met")
    assert probe.output == "failed to connect to http://api:8080/health: Connection refused"
    (restart,) = timeline.lane("rollbacks").activities  # --rollback-strategy always
    assert restart.call == "fault restart api" and restart.start >= probe.end


def test_timeline_of_a_deviation_the_probe_measured():
    timeline = journal_timeline(journal("error-rate-deviated"))

    assert (timeline.status, timeline.deviated, timeline.outcome) == (
        "completed",
        True,
        "deviated",
    )
    (quote,) = timeline.lane("after").activities
    assert (quote.status, quote.mark, quote.output) == ("succeeded", "not-met", "HTTP 500")
    measure = timeline.lane("during").activities[-1]
    assert measure.mark == "probe"  # a probe of the method has no tolerance
    # A run of a fifth of a second gets an axis in hundredths.
    assert [tick.seconds for tick in timeline.ticks] == [0, 0.05, 0.1, 0.15, 0.2]
    assert {tick.decimals for tick in timeline.ticks} == {2}
    assert measure.output.startswith("exit 1: NOT MET: 0/5 ok")


def test_timeline_when_the_hypothesis_does_not_hold_to_begin_with():
    timeline = journal_timeline(journal("not-met-before"))

    assert (timeline.status, timeline.deviated) == ("completed", False)
    assert timeline.outcome == "not-met-before" and timeline.before_met is False
    # Chaos Toolkit stops at the first probe out of tolerance, and runs nothing else.
    assert names_in(timeline.lane("before")) == ["site-meets-the-slo"]
    assert [lane.ran for lane in timeline.lanes] == [True, False, False, False]


def test_timeline_of_a_run_a_safeguard_interrupted():
    timeline = journal_timeline(journal("interrupted-by-safeguard"))

    assert (timeline.display_status, timeline.outcome) == ("interrupted", "interrupted")
    kill, wait = timeline.lane("during").activities
    assert kill.mark == "action" and kill.output == "exit 0: fault: killed api"
    assert (wait.status, wait.mark) == ("", "unfinished")  # cut short: no status in the journal
    assert not timeline.lane("after").ran and not timeline.lane("rollbacks").ran


def test_timeline_of_an_aborted_run():
    timeline = journal_timeline(journal("aborted"))

    assert (timeline.display_status, timeline.outcome) == ("aborted", "aborted")
    assert names_in(timeline.lane("during")) == ["pause-the-api"]
    assert not timeline.lane("after").ran
    assert names_in(timeline.lane("rollbacks")) == ["resume-the-api"]


def test_continuous_checks_run_beside_the_method_on_a_row_of_their_own():
    timeline = journal_timeline(journal("continuous-pause"))

    assert timeline.outcome == "held-with-dips" and timeline.during_met is False
    during = timeline.lane("during")
    checks = [a for a in during.activities if a.iteration is not None]
    method = [a for a in during.activities if a.iteration is None]
    assert [a.iteration for a in checks] == [1, 2]
    assert [a.mark for a in checks] == ["met", "not-met"]  # the api was paused
    assert [a.name for a in method] == ["pause-the-api", "wait-while-paused", "resume-the-api"]
    assert {a.row for a in method} == {0} and {a.row for a in checks} == {1}
    assert during.rows == 2 and timeline.lane("before").rows == 1


def test_an_experiment_with_no_hypothesis_only_explores():
    timeline = journal_timeline(journal("exploration"))

    assert timeline.outcome == "no-hypothesis"
    assert [lane.ran for lane in timeline.lanes] == [False, True, False, False]
    assert timeline.lane("during").activities[1].output.startswith("exit 28: curl: (28)")


def test_the_latest_run_comes_first():
    stored = {
        f"runs/{name}.json": {
            "modified": None,
            "size": 1,
            "journal": journal_compact(journal(name)),
        }
        for name in NAMES
    }

    entries = journal_entries(stored)

    starts = [entry.timeline.start for entry in entries]
    assert starts == sorted(starts, reverse=True)
    assert {entry.path for entry in entries} == set(stored)


# --- Coverage ----------------------------------------------------------------------------------


TOPOLOGY = ["toolbox", "lb", "api", "dependency", "proxy", "faults"]


def test_coverage_of_the_real_journals():
    coverage = chaos_coverage(TOPOLOGY, "toolbox", [journal(name) for name in NAMES])

    parts = {part.name: part for part in coverage.parts}
    assert list(parts) == ["lb", "api", "dependency", "proxy"]  # not the shell, not the sidecar
    assert parts["api"].state == "faulted-and-observed"
    assert set(parts["api"].faulted_by) == {
        "kill-the-api",  # POST to the faults sidecar
        "inject-latency-in-the-api",  # PUT /faults
        "make-every-api-request-fail",
        "pause-the-api",  # `fault pause api`
    }
    assert "api-meets-the-slo" in parts["api"].observed_by  # `slo http://api:8080/`
    assert parts["dependency"].state == "faulted"
    # `fault stress dependency 5`, and a Toxiproxy toxic on the proxy named after it.
    assert set(parts["dependency"].faulted_by) == {
        "stress-the-dependency",
        "slow-down-the-dependency",
    }
    assert parts["lb"].state == "observed"
    assert parts["lb"].observed_by == ("site-meets-the-slo",)
    assert parts["proxy"].state == "not-exercised"
    assert (coverage.total, coverage.faulted, coverage.observed, coverage.not_exercised) == (
        4,
        2,
        2,
        1,
    )


def test_rollbacks_and_actions_that_did_not_work_fault_nothing():
    killed = journal("kill-deviated")
    coverage = chaos_coverage(TOPOLOGY, "toolbox", [killed])
    # The rollback `fault restart api` mends: only the kill counts.
    assert coverage.parts[1].faulted_by == ("kill-the-api",)

    refused = copy.deepcopy(killed)
    refused["run"][0]["output"]["status"] = 403  # the sidecar refused the target
    failed = copy.deepcopy(journal("interrupted-by-safeguard"))
    failed["run"][0]["output"]["status"] = 1  # `fault kill api` exited 1
    cut_short = copy.deepcopy(killed)
    del cut_short["run"][0]["status"]

    for broken in (refused, failed, cut_short):
        api = chaos_coverage(TOPOLOGY, "toolbox", [broken]).parts[1]
        assert api.name == "api" and not api.faulted


def test_the_faults_sidecar_name_matches_the_platforms():
    assert FAULTS_SIDECAR == FAULTS_CONTAINER


NAMES_ALIKE = ["api", "api-1", "db", "lb"]


def activity(kind: str, **provider) -> dict:
    return {"type": kind, "name": "x", "provider": provider}


@pytest.mark.parametrize(
    ("provider", "observed"),
    [
        ({"type": "http", "url": "http://api-1:8080/health"}, {"api-1"}),
        ({"type": "http", "url": "http://API:8080/"}, {"api"}),
        ({"type": "http", "url": "http://lb.example.org/"}, set()),
        ({"type": "http", "url": "http://apiary:8080/"}, set()),
        ({"type": "process", "path": "slo", "arguments": "http://lb:8080/ --requests 30"}, {"lb"}),
        ({"type": "process", "path": "curl", "arguments": ["-fsS", "http://db:5432/api"]}, {"db"}),
        ({"type": "process", "path": "nc", "arguments": "-z db 5432"}, {"db"}),
        ({"type": "process", "path": "nc", "arguments": "-z db:5432"}, {"db"}),
        ({"type": "process", "path": "grep", "arguments": "-c api-1-errors log.txt"}, set()),
        ({"type": "process", "path": "jq", "arguments": ".api.status result.json"}, set()),
        (
            {
                "type": "process",
                "path": "bash",
                "arguments": ["-c", "curl -s http://api:8080/ | jq ."],
            },
            {"api"},
        ),
        (
            {
                "type": "python",
                "module": "chaostoxi.proxy.probes",
                "func": "proxy_exist",
                "arguments": {"proxy_name": "db"},
            },
            {"db"},
        ),
        (
            {"type": "python", "module": "m", "func": "f", "arguments": {"url": "http://lb:80/x"}},
            {"lb"},
        ),
    ],
)
def test_probes_observe_containers_named_as_hosts_or_whole_words(provider, observed):
    assert probe_targets({"type": "probe", "provider": provider}, NAMES_ALIKE) == observed


@pytest.mark.parametrize(
    ("provider", "faulted"),
    [
        ({"type": "process", "path": "fault", "arguments": "kill api-1"}, {"api-1"}),
        (
            {
                "type": "process",
                "path": "/usr/local/bin/fault",
                "arguments": ["stress", "db", "20"],
            },
            {"db"},
        ),
        ({"type": "process", "path": "fault", "arguments": "unpause api"}, set()),
        ({"type": "process", "path": "fault", "arguments": "kill apiary"}, set()),
        (
            {"type": "process", "path": "bash", "arguments": ["-c", "fault pause lb && sleep 5"]},
            {"lb"},
        ),
        ({"type": "process", "path": "bash", "arguments": ["-c", "defaultfault kill lb"]}, set()),
        (
            {
                "type": "http",
                "url": "http://faults:7000/v1/faults",
                "method": "POST",
                "arguments": {"action": "restart", "target": "db"},
            },
            {"db"},
        ),
        (
            {
                "type": "http",
                "url": "http://faults:7000/v1/faults",
                "method": "POST",
                "arguments": '{"action": "kill", "target": "api"}',
            },
            {"api"},
        ),
        (
            {
                "type": "http",
                "url": "http://faults:7000/v1/faults",
                "method": "POST",
                "arguments": {"action": "unpause", "target": "db"},
            },
            set(),
        ),
        ({"type": "http", "url": "http://faults:7000/v1/targets", "method": "GET"}, set()),
        (
            {"type": "http", "url": "http://lb:9000/config", "method": "PUT", "arguments": "cfg"},
            {"lb"},
        ),
        (
            {
                "type": "http",
                "url": "http://api:8080/faults",
                "method": "PUT",
                "arguments": {"delay_ms": 300},
            },
            {"api"},
        ),
        (
            {
                "type": "http",
                "url": "http://api:8080/faults",
                "method": "PUT",
                "arguments": {"delay_ms": 0, "error_rate": 0},
            },
            set(),
        ),
        ({"type": "http", "url": "http://api:8080/config", "method": "GET"}, set()),
        (
            {
                "type": "python",
                "module": "chaostoxi.toxic.actions",
                "func": "create_latency_toxic",
                "arguments": {"for_proxy": "db-proxy", "toxic_name": "slow", "latency": 300},
            },
            {"db"},
        ),
        (
            {
                "type": "python",
                "module": "chaostoxi.proxy.actions",
                "func": "disable_proxy",
                "arguments": {"proxy_name": "db"},
            },
            {"db"},
        ),
        (
            {
                "type": "python",
                "module": "chaostoxi.toxic.actions",
                "func": "delete_toxic",
                "arguments": {"for_proxy": "db", "toxic_name": "slow"},
            },
            set(),
        ),
    ],
)
def test_actions_fault_the_containers_their_provider_targets(provider, faulted):
    assert fault_targets({"type": "action", "provider": provider}, NAMES_ALIKE) == faulted


def test_configuration_values_stand_in_for_their_names():
    probe = activity("probe", type="http", url="http://${host}:8080/health")
    action = activity(
        "action", type="python", module="chaostoxi.toxic.actions", func="create_toxic"
    )
    action["provider"]["arguments"] = {
        "for_proxy": "db",
        "toxic_name": "t",
        "toxic_type": "latency",
    }

    assert probe_targets(probe, NAMES_ALIKE, {"host": "api-1"}) == {"api-1"}
    assert probe_targets(probe, NAMES_ALIKE) == set()
    assert fault_targets(action, NAMES_ALIKE) == {"db"}


# --- Configuration, secrets and the learner's own proxies ------------------------------------


def variables_of(configuration=None, secrets=None) -> Variables:
    experiment: dict = {}
    if configuration is not None:
        experiment["configuration"] = configuration
    if secrets is not None:
        experiment["secrets"] = secrets
    return journal_variables({"experiment": experiment})


CONFIGURATION = {
    "front_url": {"type": "env", "key": "FRONT_URL", "default": "http://api:8080"},
    "unset": {"type": "env", "key": "NOT_IN_THE_JOURNAL"},
    "dynamic": {"type": "probe", "name": "p", "provider": {"type": "python"}},
    "host": "api-1",
    "port": 8080,
    "shared": "from-the-configuration",
}
SECRETS = {
    "first": {"token": "s3cr3t-t0ken", "shared": "never-used"},
    "second": {"token": "shadowed", "user": "jane", "env_one": {"type": "env", "key": "T"}},
}


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("${front_url}/health", "http://api:8080/health"),  # env-backed: its default
        ("http://$host:${port}/", "http://api-1:8080/"),  # $name and ${name}
        ("http://${HOST}:8080/", "http://${HOST}:8080/"),  # names are case-sensitive
        ("${port}", 8080),  # only ${name}: the value's own type
        ("$port", "8080"),
        ("cost: $$5 and $${host}", "cost: $5 and ${host}"),  # $$ is a dollar
        ("${unset}/health", "${unset}/health"),  # from the environment, no default: as written
        ("${dynamic}", "${dynamic}"),  # a dynamic configuration probe: unknown
        ("${nobody} $ 5 ${front-url}", "${nobody} $ 5 ${front-url}"),  # not names: as written
        ("?t=${token}", "?t=***"),  # a secret, masked; the first scope that has it wins
        ("${shared}", "from-the-configuration"),  # the configuration before the secrets
        ("${env_one}", "${env_one}"),  # a secret from the environment: unknown
    ],
)
def test_placeholders_are_substituted_as_chaos_toolkit_does(text, resolved):
    variables = variables_of(CONFIGURATION, SECRETS)

    assert substitute(text, variables) == resolved


def test_secrets_are_masked_unless_asked_and_substitution_is_one_pass():
    variables = variables_of({"a": "${b}", "b": "x"}, SECRETS)

    assert substitute("${token}", variables, mask=False) == "s3cr3t-t0ken"
    assert substitute("u=$user", variables) == f"u={SECRET_MASK}"
    assert substitute("${a}", variables) == "${b}"  # what it put in is not substituted again
    assert substitute({"k": ["${b}", {"${b}": "$b"}]}, variables) == {"k": ["x", {"${b}": "x"}]}


def test_hostile_configuration_cannot_blow_up_substitution():
    huge = {"v": "x" * 100_000, "nested": {"deep": [[["y" * 50_000]]]}}
    many = {f"k{n}": "http://api:8080/" for n in range(5_000)}
    scopes = {f"s{n}": {f"n{n}-{m}": "x" for m in range(200)} for n in range(200)}
    scopes |= {"s": ["not", "a", "scope"], "t": "nor this"}
    variables = variables_of({**huge, **many}, scopes)

    text = substitute("${v}" * 10_000 + "$nested" * 10_000, variables)

    assert len(variables.values) <= 2 * MAX_VARIABLES and len(variables.secrets) <= MAX_VARIABLES
    assert isinstance(text, str) and len(text) <= MAX_RESOLVED
    assert len(substitute("${v}", variables)) <= MAX_RESOLVED
    deep: object = "${v}"
    for _ in range(200):
        deep = [deep]
    assert substitute(deep, variables) is not None  # nesting is cut, not followed
    for broken in ({"configuration": "x", "secrets": 3}, {"configuration": {1: 2}}, {}):
        assert journal_variables({"experiment": broken}).values == {}


def placeholder_journal(**secrets) -> dict:
    """The tolerated-latency journal as if its probe had been written with configuration
    placeholders (chaos run records the experiment as declared, see the docker test below)."""
    raw = json.dumps(journal("tolerated-latency"))
    raw = raw.replace('"http://api:8080/health"', '"${front_url}/health?key=${token}"')
    raw = raw.replace('"http://api:8080/faults"', '"http://${api_host}:8080/faults"')
    raw = raw.replace('"http://api:8080/ --requests 10', '"http://$api_host:8080/ --requests 10')
    data = json.loads(raw)
    data["experiment"]["configuration"] = {
        "front_url": {"type": "env", "key": "FRONT_URL", "default": "http://api:8080"},
        "api_host": "api",
    }
    data["experiment"]["secrets"] = {"keys": {"token": "s3cr3t-t0ken", **secrets}}
    return data


def test_the_results_show_and_count_the_url_a_placeholder_stood_for():
    raw = placeholder_journal()
    before = journal("tolerated-latency")

    for data in (raw, journal_compact(raw)):
        timeline = journal_timeline(data)
        calls = [activity.call for activity in timeline.lane("before").activities]
        assert calls == ["GET http://api:8080/health?key=***", *calls[1:]]
        assert calls[1].startswith("slo http://api:8080/ --requests 10")
        coverage = chaos_coverage(TOPOLOGY, "toolbox", [data])
        wanted = chaos_coverage(TOPOLOGY, "toolbox", [before])
        assert coverage == wanted
        assert coverage.parts[1].name == "api" and coverage.parts[1].state == "faulted-and-observed"


def test_no_secret_reaches_the_stored_journal_or_the_timeline():
    raw = placeholder_journal(front="http://api:8080/hidden-path")
    raw["experiment"]["title"] = "The api, asked with s3cr3t-t0ken"  # chaos run substitutes it
    raw["steady_states"]["before"]["probes"][0]["output"]["body"] = "you said s3cr3t-t0ken"
    after = raw["steady_states"]["after"]["probes"][0]
    after["activity"]["provider"]["url"] = "${front}"
    after["exception"] = [
        "Traceback (most recent call last):\n",
        "chaoslib.exceptions.ActivityFailed: failed to connect to "
        "http://api:8080/hidden-path?key=s3cr3t-t0ken\n",
    ]

    compact = journal_compact(raw)

    text = json.dumps(compact)
    assert "s3cr3t" not in text and "hidden-path" not in text and '"secrets"' not in text
    assert compact["substituted"] is True and journal_compact(compact) == compact
    timeline = journal_timeline(raw)
    assert timeline == journal_timeline(compact)
    shown = json.dumps([dataclasses.asdict(activity) for activity in timeline.activities])
    assert "s3cr3t" not in shown + timeline.title and SECRET_MASK in timeline.title
    assert "hidden-path" not in shown
    probe = timeline.lane("after").activities[0]
    assert (probe.call, probe.output) == ("GET ***", "failed to connect to ***?key=***")
    # The probe whose whole URL was a secret still observes the api, from the stored journal.
    only_after = copy.deepcopy(compact)
    only_after["steady_states"]["before"] = None
    only_after["run"] = []
    parts = chaos_coverage(["toolbox", "api"], "toolbox", [only_after]).parts
    assert set(parts[0].observed_by) == {"api-is-healthy", "api-meets-the-slo"}
    only_after["steady_states"]["after"]["probes"][0]["activity"]["provider"]["hidden_hosts"] = []
    parts = chaos_coverage(["toolbox", "api"], "toolbox", [only_after]).parts
    assert parts[0].observed_by == ("api-meets-the-slo",)


def test_a_placeholder_the_journal_cannot_resolve_is_shown_as_written_and_counts_for_nothing():
    raw = placeholder_journal()
    raw["experiment"]["configuration"]["front_url"] = {"type": "env", "key": "FRONT_URL"}
    raw["run"] = []

    timeline = journal_timeline(journal_compact(raw))

    assert timeline.lane("before").activities[0].call == "GET ${front_url}/health?key=***"
    api = chaos_coverage(["toolbox", "api"], "toolbox", [raw]).parts[0]
    assert api.observed_by == ("api-meets-the-slo",)  # the slo probe, not the unresolved one


def run(activity: dict, output: object = True, status: str = "succeeded") -> dict:
    return {"activity": activity, "status": status, "output": output}


def learner_journal(*runs: dict, probes: tuple = (), start: str = "2026-01-01T10:00:00") -> dict:
    return {
        "experiment": {"title": "t", "configuration": {"toxiproxy_host": "proxy"}},
        "status": "completed",
        "start": start,
        "steady_states": {"before": {"steady_state_met": True, "probes": list(probes)}},
        "run": list(runs),
    }


CREATE_PROXY = activity(
    "action",
    type="python",
    module="chaostoxi.proxy.actions",
    func="create_proxy",
    arguments={
        "proxy_name": "mine",
        "upstream_host": "api",
        "upstream_port": 8080,
        "listen_port": 9999,
    },
)
THROUGH_IT = activity("probe", type="http", url="http://proxy:9999/health")
TOXIC_ON_IT = activity(
    "action",
    type="python",
    module="chaostoxi.toxic.actions",
    func="create_latency_toxic",
    arguments={"for_proxy": "mine", "toxic_name": "slow", "latency": 500},
)


def test_a_proxy_the_learner_creates_stands_for_the_part_behind_it():
    created = learner_journal(
        run(CREATE_PROXY), run(TOXIC_ON_IT), probes=(run(THROUGH_IT, {"status": 200}),)
    )

    proxies = learner_proxies([created], TOPOLOGY)
    parts = {part.name: part for part in chaos_coverage(TOPOLOGY, "toolbox", [created]).parts}

    assert proxies == {"mine": LearnerProxy("mine", "api", 9999, "proxy")}
    assert parts["api"].faulted_by == ("x",) and parts["api"].observed_by == ("x",)
    assert parts["proxy"].observed_by == ("x",)  # the probe went through the proxy container
    # A proxy made in one run serves the next ones; the compacted journals say the same.
    later = learner_journal(run(TOXIC_ON_IT), start="2026-01-01T11:00:00")
    stored = [journal_compact(created), journal_compact(later)]
    assert chaos_coverage(TOPOLOGY, "toolbox", stored).parts[1].faulted


@pytest.mark.parametrize(
    "create",
    [
        activity(
            "action",
            type="http",
            url="http://proxy:8474/proxies",
            method="POST",
            arguments={"name": "mine", "listen": "0.0.0.0:9999", "upstream": "api:8080"},
        ),
        activity(
            "action",
            type="process",
            path="curl",
            arguments=[
                "-sS",
                "-X",
                "POST",
                "http://proxy:8474/populate",
                "-d",
                '[{"name": "mine", "listen": "0.0.0.0:9999", "upstream": "api:8080"}]',
            ],
        ),
        activity(
            "action",
            type="process",
            path="/bin/bash",
            arguments=[
                "-c",
                "curl -s http://proxy:8474/proxies --data "
                """'{"name":"mine","listen":"0.0.0.0:9999","upstream":"${up}"}' | jq .""",
            ],
        ),
    ],
)
def test_proxies_made_with_toxiproxys_http_api_count_too(create):
    toxic = activity(
        "action",
        type="process",
        path="curl",
        arguments="-X POST http://proxy:8474/proxies/mine/toxics --data "
        """'{"type": "latency", "attributes": {"latency": 900}}'""",
    )
    probe = activity("probe", type="process", path="slo", arguments="proxy:9999/health")
    made = {"status": 201, "body": {}} if create["provider"]["type"] == "http" else {"status": 0}
    created = learner_journal(
        run(create, made),
        run(toxic, {"status": 0, "stdout": "{}", "stderr": ""}),
        probes=(run(probe, {"status": 0, "stdout": "", "stderr": ""}),),
    )
    created["experiment"]["configuration"]["up"] = "api:8080"

    api = chaos_coverage(TOPOLOGY, "toolbox", [created]).parts[1]

    assert api.name == "api" and api.state == "faulted-and-observed"


def test_proxies_that_were_not_made_or_lead_nowhere_count_for_nothing():
    failed = learner_journal(run(CREATE_PROXY, output=None, status="failed"), run(TOXIC_ON_IT))
    elsewhere = copy.deepcopy(CREATE_PROXY)
    elsewhere["provider"]["arguments"]["upstream_host"] = "example.org"
    outside = learner_journal(run(elsewhere), run(TOXIC_ON_IT))
    moved = copy.deepcopy(CREATE_PROXY)
    moved["provider"]["func"] = "modify_proxy"
    moved["provider"]["arguments"] = {"proxy_name": "mine", "upstream_address": "example.org:80"}
    away = learner_journal(run(CREATE_PROXY), run(moved), run(TOXIC_ON_IT))
    any_port = copy.deepcopy(CREATE_PROXY)
    any_port["provider"]["arguments"]["listen_port"] = 0
    unknown_port = learner_journal(run(any_port), probes=(run(THROUGH_IT, {"status": 200}),))

    for data in (failed, outside, away, unknown_port):
        api = chaos_coverage(TOPOLOGY, "toolbox", [data]).parts[1]
        assert api.name == "api" and api.state == "not-exercised", data["run"]
    assert learner_proxies([unknown_port], TOPOLOGY)["mine"].listen_port is None
    many = [
        run(
            {
                **CREATE_PROXY,
                "provider": {
                    **CREATE_PROXY["provider"],
                    "arguments": {**CREATE_PROXY["provider"]["arguments"], "proxy_name": f"p{n}"},
                },
            }
        )
        for n in range(MAX_PROXIES + 20)
    ]
    assert len(learner_proxies([learner_journal(*many)], TOPOLOGY)) == MAX_PROXIES


def test_a_toxic_added_with_the_http_api_faults_the_part_behind_the_lab_proxy():
    toxic = activity(
        "action",
        type="http",
        url="http://proxy:8474/proxies/dependency/toxics",
        method="POST",
        arguments={"type": "latency", "toxicity": 0.5, "attributes": {"latency": 1500}},
    )
    removal = activity(
        "action", type="http", url="http://proxy:8474/proxies/dependency/toxics/x", method="DELETE"
    )

    assert fault_targets(toxic, TOPOLOGY) == {"dependency"}
    assert fault_targets(removal, TOPOLOGY) == set()


TOOLBOX = Path(__file__).resolve().parents[2] / "labs" / "images" / "toolbox"


def jq(program: str, data: dict) -> object:
    """A jq program with the toolbox's journal.jq, as checks run it."""
    done = subprocess.run(
        ["jq", "-c", "-L", str(TOOLBOX), f'include "journal"; {program}'],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def labcheck():
    spec = importlib.util.spec_from_file_location("labcheck", TOOLBOX / "labcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_journal() -> dict:
    """A kill-deviated journal whose target, URLs and sidecar come from configuration."""
    raw = json.dumps(journal("kill-deviated"))
    raw = raw.replace('"http://api:8080/health"', '"${front_url}/health"')
    raw = raw.replace('"target": "api"', '"target": "${victim}"')
    raw = raw.replace('"http://faults:7000/v1/faults"', '"http://$sidecar/v1/faults"')
    data = json.loads(raw)
    data["experiment"]["configuration"] = {
        "front_url": {"type": "env", "key": "FRONT", "default": "http://api:8080"},
        "victim": "api",
        "unset": {"type": "env", "key": "UNSET"},
    }
    data["experiment"]["secrets"] = {"s": {"sidecar": "faults:7000", "victim": "not-this"}}
    return data


def test_the_checks_jq_helpers_read_a_journal_as_it_ran():
    data = check_journal()
    assert "${front_url}" in json.dumps(data["experiment"])

    assert jq("[hypothesis_probes[] | probe_call]", data) == [
        "http://api:8080/health",
        "slo http://api:8080/ --requests 5",
    ]
    assert jq('method_faults | targets("kill")', data) == ["api"]
    assert jq('method_faults | targets("kill")', journal("kill-deviated")) == ["api"]
    data["experiment"]["configuration"]["victim"] = {"type": "env", "key": "VICTIM"}
    assert jq('method_faults | targets("kill")', data) == ["${victim}"]  # not the secret's
    hostile = {
        "experiment": {"configuration": {"v": "x" * 100_000}},
        "run": [],
        "rollbacks": [],
    }
    hostile["experiment"]["steady-state-hypothesis"] = {
        "probes": [{"provider": {"type": "http", "url": "${v}" * 2_000}}]
    }
    assert len(jq("hypothesis_probes[0] | probe_call", hostile)) == 256 * 2_000


def test_the_checks_python_helpers_read_a_journal_as_it_ran(tmp_path):
    checks = labcheck()
    (tmp_path / "kill.json").write_text(json.dumps(check_journal()))
    (tmp_path / "notes.json").write_text('{"not": "a journal"}')

    (found,) = checks.journals(tmp_path)

    assert [(action, target) for action, target, _ in checks.fault_calls(found["run"])] == [
        ("kill", "api")
    ]
    probe = found["experiment"]["steady-state-hypothesis"]["probes"][0]
    assert probe["provider"]["url"] == "http://api:8080/health"
    ran = found["steady_states"]["before"]["probes"][0]["activity"]["provider"]["url"]
    assert ran == "http://api:8080/health"
    names = checks.variables(check_journal())
    assert checks.substitute("$$${unset}-${victim}-$sidecar", names) == "$${unset}-api-faults:7000"
    assert checks.substitute("${v}" * 1_000, {"v": "x" * 10_000}) == "x" * 256 * 1_000
    shown = checks.substituted(check_journal(), mask_secrets=True)
    assert shown["run"][0]["activity"]["provider"]["url"] == "http://***/v1/faults"
    assert "not-this" not in json.dumps(shown["run"])  # the configuration's victim wins


def test_the_checks_python_helpers_never_follow_a_learners_link(tmp_path):
    """Checks run as root: a journal that is a link to a file the learner may not read, a FIFO
    or a huge file is skipped, never read through."""
    checks = labcheck()
    secret = tmp_path.parent / f"{tmp_path.name}-root-only.json"
    secret.write_text(json.dumps(check_journal()))
    (tmp_path / "linked.json").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "huge.json").write_text(" " * (checks.LEARNER_FILE_MAX_BYTES + 1))
    (tmp_path / "real.json").write_text(json.dumps(check_journal()))

    assert len(checks.journals(tmp_path)) == 1  # real.json only
    with pytest.raises(OSError):
        checks.read_learner_file(tmp_path / "linked.json", home=tmp_path)
    with pytest.raises(ValueError):
        checks.read_learner_file(tmp_path / "huge.json", home=tmp_path)


# --- Against the real toolbox image ------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.parametrize(
    "name", ["kill-deviated", "error-rate-deviated", "interrupted-by-safeguard"]
)
def test_a_fresh_run_in_the_toolbox_image_reads_like_the_checked_in_one(name, lab_images):
    fresh = make.run_experiment(name, image=lab_images["toolbox"])

    kept = journal_timeline(journal(name))
    timeline = journal_timeline(fresh)
    assert (timeline.outcome, timeline.display_status) == (kept.outcome, kept.display_status)
    assert [names_in(lane) for lane in timeline.lanes] == [names_in(lane) for lane in kept.lanes]
    assert [[a.mark for a in lane.activities] for lane in timeline.lanes] == [
        [a.mark for a in lane.activities] for lane in kept.lanes
    ]


SUBSTITUTED_EXPERIMENT = {
    "title": "The api answers at ${front_url}",
    "description": "Configuration and secrets in the providers, as learners write them.",
    "configuration": {
        "front_url": {"type": "env", "key": "ACADEMY_FRONT_URL", "default": "http://api:8080"},
        "api_host": "api",
    },
    "secrets": {"api": {"token": "s3cr3t-t0ken"}},
    "steady-state-hypothesis": {
        "title": "The api is healthy",
        "probes": [
            {
                "type": "probe",
                "name": "api-is-healthy",
                "tolerance": 200,
                "provider": {
                    "type": "http",
                    "url": "${front_url}/health?token=${token}",
                    "timeout": 3,
                },
            },
            {
                "type": "probe",
                "name": "api-answers-by-name",
                "tolerance": 0,
                "provider": {
                    "type": "process",
                    "path": "curl",
                    "arguments": "-fsS -o /dev/null http://$api_host:8080/health",
                },
            },
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "slow-down-the-api",
            "provider": {
                "type": "http",
                "url": "http://${api_host}:8080/faults",
                "method": "PUT",
                "headers": {"Content-Type": "application/json"},
                "arguments": {"delay_ms": 50},
            },
        }
    ],
}


@pytest.mark.docker
def test_a_real_run_with_configuration_and_secrets_is_shown_and_counted_as_it_ran(
    lab_images, tmp_path, monkeypatch
):
    (tmp_path / "substituted.json").write_text(json.dumps(SUBSTITUTED_EXPERIMENT))
    monkeypatch.setattr(make, "EXPERIMENTS", tmp_path)

    ran = make.run_experiment("substituted", image=lab_images["toolbox"])

    # chaos run keeps the experiment as declared, placeholders and secrets included.
    assert ran["status"] == "completed" and ran["steady_states"]["before"]["steady_state_met"]
    probe = ran["steady_states"]["before"]["probes"][0]
    assert probe["activity"]["provider"]["url"] == "${front_url}/health?token=${token}"
    assert probe["output"]["status"] == 200  # it did reach the api
    compact = journal_compact(ran)
    assert "s3cr3t" not in json.dumps(compact)
    timeline = journal_timeline(compact)
    assert [activity.call for activity in timeline.lane("before").activities] == [
        "GET http://api:8080/health?token=***",
        "curl -fsS -o /dev/null http://api:8080/health",
    ]
    assert timeline.lane("during").activities[0].call == "PUT http://api:8080/faults"
    api = chaos_coverage(["toolbox", "api"], "toolbox", [compact]).parts[0]
    assert api.faulted_by == ("slow-down-the-api",)
    assert api.observed_by == ("api-is-healthy", "api-answers-by-name")


# --- Collection from a learner's sandbox -------------------------------------------------------


EXPERIMENT = {
    "title": "The api tolerates 50 ms of latency",
    "description": "Latency inside the api, with the api still healthy.",
    "steady-state-hypothesis": {
        "title": "The api answers",
        "probes": [
            {
                "type": "probe",
                "name": "api-is-healthy",
                "tolerance": 200,
                "provider": {"type": "http", "url": "http://api:8080/health", "timeout": 3},
            }
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "slow-down-the-api",
            "provider": {
                "type": "http",
                "url": "http://api:8080/faults",
                "method": "PUT",
                "headers": {"Content-Type": "application/json"},
                "arguments": {"delay_ms": 50},
            },
        }
    ],
    "rollbacks": [
        {
            "type": "action",
            "name": "remove-the-latency",
            "provider": {
                "type": "http",
                "url": "http://api:8080/faults",
                "method": "PUT",
                "headers": {"Content-Type": "application/json"},
                "arguments": {"delay_ms": 0},
            },
        }
    ],
}


@pytest.fixture
def faults_lab(tmp_path, lab_images) -> Lab:
    write_faults_lab(tmp_path)
    content_sync(root=tmp_path)
    return Lab.objects.get(key="faults-lab")


def ready_session(lab: Lab) -> LabSession:
    session = services.lab_session_start(user=UserFactory(), lab=lab)
    deadline = time.monotonic() + 90
    while session.state != LabSession.State.READY:
        assert time.monotonic() < deadline, f"session {session.pk} is {session.state}"
        assert session.state in ("requested", "provisioning"), session.error
        time.sleep(0.2)
        session.refresh_from_db()
    return session


def learner(session: LabSession, script: str, timeout: float = 60) -> runtime.ExecResult:
    """What the learner types in the terminal (a login shell, as the browser terminal runs)."""
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-lc", script],
        user="learner",
        workdir="/home/learner",
        timeout=timeout,
    )


def as_root(session: LabSession, script: str) -> runtime.ExecResult:
    return runtime.sandbox_exec(
        container_id=session.sandbox["containers"]["toolbox"],
        command=["bash", "-c", script],
        user="root",
        timeout=30,
    )


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_check_collects_the_learners_journals_and_nothing_else(lab_worker, faults_lab):
    session = ready_session(faults_lab)
    try:
        experiment = json.dumps(EXPERIMENT)
        ran = learner(
            session,
            f"cat > experiment.json <<'JSON'\n{experiment}\nJSON\n"
            "chaos run experiment.json && mkdir -p runs/today && "
            "chaos run --journal-path runs/today/second.json experiment.json",
        )
        assert ran.exit_code == 0, ran.output
        # Not journals, or not the learner's to show: all skipped without a word.
        noise = learner(
            session,
            "echo '{broken' > broken.json; echo '[1, 2]' > list.json; "
            "mkdir -p a/b/c/d && cp journal.json a/b/c/d/too-deep.json; "
            "cp journal.json a/b/c/deep.json; "
            "ln -s /tmp/secret.json secret.json; ln -s /tmp secret-folder; "
            "python3 -c \"import json; j = json.load(open('journal.json')); "
            "j['run'][0]['output'] = 'x' * 300000; json.dump(j, open('huge.json', 'w'))\"",
        )
        assert noise.exit_code == 0, noise.output
        root = as_root(
            session, "cp /home/learner/journal.json /tmp/secret.json && chmod 600 /tmp/secret.json"
        )
        assert root.exit_code == 0, root.output

        step = faults_lab.steps.get()
        result = services.lab_session_check(session=session, step=step)  # the api still answers

        session.refresh_from_db()
        assert not result.passed
        assert set(session.journals) == {
            "journal.json",
            "runs/today/second.json",
            "a/b/c/deep.json",
        }
        assert session.journals_collected_at is not None
        stored = session.journals["runs/today/second.json"]
        assert stored["size"] > 1000 and stored["modified"]
        timeline = journal_timeline(stored["journal"])
        assert (timeline.outcome, timeline.title) == ("held", EXPERIMENT["title"])
        assert [a.name for a in timeline.activities] == [
            "api-is-healthy",
            "slow-down-the-api",
            "api-is-healthy",
            "remove-the-latency",
        ]
        assert "headers" not in json.dumps(stored["journal"])
        (api,) = chaos_coverage(
            [c["name"] for c in faults_lab.topology],
            faults_lab.shell_container,
            [item["journal"] for item in session.journals.values()],
        ).parts
        assert (api.name, api.state) == ("api", "faulted-and-observed")

        # The learner runs again and deletes one: a refresh, through the worker, shows that.
        before = session.journals_collected_at
        again = learner(
            session,
            "rm journal.json a/b/c/deep.json && chaos run --journal-path last.json experiment.json",
        )
        assert again.exit_code == 0, again.output
        from labs import tasks

        tasks.refresh_results.apply_async((session.pk,), queue=lab_worker.queue)
        deadline = time.monotonic() + 60
        while session.journals_collected_at == before:
            assert time.monotonic() < deadline, "the worker never read the journals again"
            time.sleep(0.2)
            session.refresh_from_db()
        assert set(session.journals) == {"last.json", "runs/today/second.json"}
        assert journal_entries(session.journals)[0].path == "last.json"  # the newest run
    finally:
        services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_at_most_twenty_journals_are_kept_the_newest(lab_worker, faults_lab, monkeypatch):
    session = ready_session(faults_lab)
    try:
        experiment = json.dumps(EXPERIMENT)
        # 24 journals, with times one minute apart: the 20 newest are kept. They arrive in more
        # than one page of the collector, each page within what an exec's output keeps.
        ran = learner(
            session,
            f"cat > experiment.json <<'JSON'\n{experiment}\nJSON\n"
            "chaos run experiment.json && mkdir -p many && "
            "python3 -c \"import json; j = json.load(open('journal.json')); "
            "body = __import__('os').urandom(3000).hex(); "
            "j['run'][0]['output'] = {'status': 200, 'body': body}; "
            "json.dump(j, open('big.json', 'w'))\" && rm journal.json && "
            "for n in $(seq 10 33); do cp big.json many/run-$n.json; "
            'touch -d "2026-01-01 10:$n" many/run-$n.json; done; rm big.json',
        )
        assert ran.exit_code == 0, ran.output

        pages = []
        real_page = results._collector_page

        def counted_page(container_id, start):
            pages.append(start)
            return real_page(container_id, start)

        monkeypatch.setattr(results, "_collector_page", counted_page)
        collected = services.lab_session_journals_collect(session=session)

        assert len(pages) >= 2 and pages[0] == 0  # more than one exec's output could hold
        assert set(collected) == {f"many/run-{n}.json" for n in range(14, 34)}
        assert collected["many/run-33.json"]["modified"].startswith("2026-01-01T10:33")
    finally:
        services.lab_session_stop(session=session)


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_shell_that_cannot_be_read_never_fails_a_check(lab_worker, faults_lab, monkeypatch):
    session = ready_session(faults_lab)
    try:
        monkeypatch.setattr(results, "COLLECTOR", "/nonexistent/collect_journals.py")
        step = faults_lab.steps.get()

        result = services.lab_session_check(session=session, step=step)

        session.refresh_from_db()
        assert result.exit_code is not None and not result.passed
        assert session.journals == {} and session.journals_collected_at is None
        assert services.lab_session_results_refresh(session=session) is False
    finally:
        services.lab_session_stop(session=session)
