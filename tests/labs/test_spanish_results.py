"""A Spanish learner's experiments, and so their Results, read in Spanish (issue 12, item 5).

The Spanish steps have the learner write the same Chaos Toolkit experiments as the English
ones, with Spanish titles, descriptions and activity names. Checks and coverage read what an
experiment does (providers, arguments, tolerances, pauses), never what it is called, so:

- each Spanish experiment is the English one with only its free text changed, and that text
  is Spanish (no test here can miss a step: every heredoc of every step is compared);
- each English step writes exactly what its solve script writes, so `lab selftest` (which runs
  the solves) proves the checks against the very experiment both languages write;
- on the real engine, a learner who runs the English experiment and then, after switching
  language, the Spanish one passes the check each time, and the Spanish Results page shows the
  Spanish titles and names with the platform's own words in Spanish.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from labs.models import LabSession
from labs.runtime import sandbox_exec
from labs.services import lab_session_check
from tests.conftest import database_env

CONTENT = Path(settings.CONTENT_DIR)
HEREDOC = re.compile(r"cat > (\S+) <<'JSON'\n(.*?)\nJSON\n", re.S)
FENCE = re.compile(r"```bash\n(.*?)```", re.S)

# Words that mark English free text; none is a Spanish word.
ENGLISH = {
    "the", "when", "and", "of", "is", "its", "with", "every", "still", "get", "gets", "after",
    "by", "users", "requests", "keeps", "brings", "kill", "restart", "meets", "stays", "answers",
    "health", "read", "quote", "quotes", "down", "hand", "later", "under", "pressure", "stress",
    "hold", "end", "slow", "some", "remove", "abort", "safeguard", "what", "applied",
}  # fmt: skip


def experiments(path: Path) -> dict[str, dict]:
    """The experiment files a step or a solve script writes: file name -> parsed JSON."""
    return {name: json.loads(body) for name, body in HEREDOC.findall(path.read_text())}


def steps_with_experiments() -> list[Path]:
    found = []
    for english in sorted(CONTENT.glob("**/steps/*.en.md")):
        if experiments(english) or experiments(english.with_name(_sibling(english, ".es.md"))):
            found.append(english)
    return found


def _sibling(english: Path, suffix: str) -> str:
    return english.name.removesuffix(".en.md") + suffix


def _activities(experiment: dict):
    """Every activity, wherever it sits: hypothesis, method, rollbacks, safeguard probes."""
    yield from (experiment.get("steady-state-hypothesis") or {}).get("probes") or []
    yield from experiment.get("method") or []
    yield from experiment.get("rollbacks") or []
    for control in experiment.get("controls") or []:
        yield control
        yield from ((control.get("provider") or {}).get("arguments") or {}).get("probes") or []


def free_text(experiment: dict) -> list[tuple[str, str]]:
    """(where, text) of everything the learner may word as they like."""
    texts = [(key, experiment[key]) for key in ("title", "description") if key in experiment]
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    if "title" in hypothesis:
        texts.append(("hypothesis title", hypothesis["title"]))
    for activity in _activities(experiment):
        texts.append(("name", activity["name"]))
        provider = activity.get("provider") or {}
        message = (provider.get("arguments") or {}) if provider.get("type") == "http" else {}
        if str(provider.get("url", "")).endswith("/config") and "message" in message:
            texts.append(("config message", message["message"]))
    return texts


def without_free_text(experiment: dict) -> dict:
    """The experiment as checks and coverage read it: free text blanked, the rest as it is."""
    copy = json.loads(json.dumps(experiment))
    for key in ("title", "description"):
        copy.pop(key, None)
    (copy.get("steady-state-hypothesis") or {}).pop("title", None)
    for activity in _activities(copy):
        activity.pop("name", None)
        provider = activity.get("provider") or {}
        if str(provider.get("url", "")).endswith("/config"):
            (provider.get("arguments") or {}).pop("message", None)
    return copy


STEPS = steps_with_experiments()


def test_the_labs_have_steps_that_write_experiments():
    # Guards the parametrisation below: a changed heredoc style would silently test nothing.
    assert len(STEPS) >= 9, [str(step) for step in STEPS]


@pytest.mark.parametrize("english", STEPS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_english_step_writes_what_its_solve_script_runs(english):
    solve = english.with_name(_sibling(english, ".solve.sh"))
    assert experiments(english) == experiments(solve)


@pytest.mark.parametrize("english", STEPS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_spanish_step_writes_the_same_experiment_in_spanish(english):
    spanish = english.with_name(_sibling(english, ".es.md"))
    en, es = experiments(english), experiments(spanish)
    assert sorted(es) == sorted(en), f"{spanish}: writes other files than {english}"
    for name in en:
        assert without_free_text(es[name]) == without_free_text(en[name]), (
            f"{spanish} {name}: the experiment does something else than the English one"
        )
        english_texts, spanish_texts = free_text(en[name]), free_text(es[name])
        assert [where for where, _ in spanish_texts] == [where for where, _ in english_texts]
        for (where, en_text), (_, es_text) in zip(english_texts, spanish_texts, strict=True):
            assert es_text != en_text, f"{spanish} {name}: {where} {es_text!r} is not translated"
            prose = re.sub(r"/\S*", "", es_text.lower())  # a path such as /health is code
            words = set(re.findall(r"[a-záéíóúñü]+", prose))
            assert not words & ENGLISH, f"{spanish} {name}: {where} {es_text!r} reads English"


def test_the_spanish_prose_names_the_activities_its_experiment_declares():
    """A step that quotes an activity name (a jq filter, the text) quotes the Spanish one."""
    for english in STEPS:
        spanish = english.with_name(_sibling(english, ".es.md"))
        text = spanish.read_text()
        english_names = {
            activity["name"]
            for experiment in experiments(english).values()
            for activity in _activities(experiment)
        }
        for name in english_names:
            assert f"`{name}`" not in text and f'== "{name}"' not in text
            assert f"'{name}'" not in text, f"{spanish}: quotes the English name {name}"


def test_the_hostile_comparison_sees_a_changed_provider():
    """The comparison is not blind: a Spanish step that changed what a probe calls is caught."""
    english = CONTENT / "labs/first-steady-state/steps/run-a-hypothesis.en.md"
    spanish = CONTENT / "labs/first-steady-state/steps/run-a-hypothesis.es.md"
    es = experiments(spanish)["~/experiment.json"]
    es["steady-state-hypothesis"]["probes"][0]["provider"]["url"] = "http://api:8080/"
    en = experiments(english)["~/experiment.json"]
    assert without_free_text(es) != without_free_text(en)


def spanish_solve(english: Path) -> str:
    """The step's solve script as a Spanish learner would run it: each experiment it writes
    replaced by the Spanish step's, and each English activity name it quotes by the Spanish."""
    solve = english.with_name(_sibling(english, ".solve.sh")).read_text()
    spanish_step = english.with_name(_sibling(english, ".es.md")).read_text()
    spanish = dict(HEREDOC.findall(spanish_step))
    names = {}
    for path, body in HEREDOC.findall(english.read_text()):
        pairs = zip(
            _activities(json.loads(body)), _activities(json.loads(spanish[path])), strict=True
        )
        names.update({en["name"]: es["name"] for en, es in pairs})
    pieces = []
    for piece in HEREDOC.split(solve)[::3]:  # the text between the heredocs
        for en_name, es_name in names.items():
            piece = piece.replace(f'"{en_name}"', f'"{es_name}"')
        pieces.append(piece)
    written = [
        f"cat > {path} <<'JSON'\n{spanish[path]}\nJSON\n" for path, _ in HEREDOC.findall(solve)
    ]
    script = pieces[0]
    for heredoc, piece in zip(written, pieces[1:], strict=True):
        script += heredoc + piece
    return script


def test_the_spanish_solve_writes_the_spanish_experiments():
    english = CONTENT / "labs/chaos-meets-gitops/steps/prove-it-with-an-experiment.en.md"
    script = spanish_solve(english)
    assert '"title": "El reconciliador trae web de vuelta' in script
    assert '.activity.name == "matar-web"' in script and 'kill-web"' not in script
    assert "chaos run --journal-path ~/kill-web-journal.json ~/kill-web.json" in script


# --- On the real engine -----------------------------------------------------------------------


def _learner(container_id: str, script: str):
    return sandbox_exec(
        container_id=container_id,
        command=["bash", "-c", script],
        user="learner",
        timeout=120,
        workdir="/home/learner",
    )


@pytest.fixture
def first_steady_state(lab_worker, lab_images, real_content):
    """A first-steady-state session, started as `manage.py lab start` starts one."""
    env = {**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "lab", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    started = manage("start", "first-steady-state", "--user", "spanish-results")
    assert started.returncode == 0, started.stdout + started.stderr
    session = LabSession.objects.get(pk=int(started.stdout.strip().splitlines()[-1]))
    try:
        yield session
    finally:
        manage("stop", str(session.pk))


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_a_learner_who_switches_to_spanish_passes_and_reads_spanish_results(
    first_steady_state, client
):
    session = first_steady_state
    toolbox = session.sandbox["containers"][session.lab.shell_container]
    step = session.lab.steps.get(key="run-a-hypothesis")
    owner = get_user_model().objects.get(username="spanish-results")
    client.force_login(owner)

    # First as an English learner: the step's own commands, then the check in English.
    english_step = CONTENT / "labs/first-steady-state/steps/run-a-hypothesis.en.md"
    for block in FENCE.findall(english_step.read_text()):
        result = _learner(toolbox, block)
        assert result.exit_code == 0, result.output
    assert lab_session_check(session=session, step=step, language="en").passed

    # Then the same learner switches to Spanish and follows the Spanish step.
    spanish_step = CONTENT / "labs/first-steady-state/steps/run-a-hypothesis.es.md"
    for block in FENCE.findall(spanish_step.read_text()):
        result = _learner(toolbox, block)
        assert result.exit_code == 0, result.output
    check = lab_session_check(session=session, step=step, language="es")
    assert check.passed, check.output

    with translation.override("es"):
        url = reverse("labs:results", kwargs={"session_id": session.pk})
    assert url.startswith("/es/")
    page = client.get(url).content.decode()
    # The learner's words, in Spanish: title, activity names.
    assert "La api sigue sana" in page
    assert "salud-de-la-api" in page and "leer-una-cita" in page
    assert "The api stays healthy" not in page and "api-health" not in page
    # The platform's words, in Spanish: status, phases, verdict.
    assert "Completado" in page or "Completed" not in page
    for english in ("Hypothesis before", "Hypothesis after", "Method", "Tolerance met"):
        assert english not in page, english
