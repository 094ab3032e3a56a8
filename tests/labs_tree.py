"""Small lab content trees for tests of the lab engine."""

from pathlib import Path

LAB_YAML = """\
order: 1
difficulty: beginner
duration_minutes: 10
slug: {{en: tiny-lab, es: laboratorio-minimo}}
title: {{en: Tiny lab, es: Laboratorio mínimo}}
summary: {{en: A lab for tests., es: Un laboratorio para pruebas.}}
shell: toolbox
containers:
  - name: toolbox
    image: toolbox
    memory_mb: 128
    pids: 64
{setup}steps:
  - key: make-a-file
    messages:
      missing:
        en: The file ~/done does not exist.
        es: El archivo ~/done no existe.
"""


def write_tiny_lab(root: Path, *, setup: str = "", check: str | None = None) -> Path:
    """A one-container, one-step lab: create ~/done. ``setup`` is a setup script's body."""
    lab = root / "labs" / "tiny-lab"
    steps = lab / "steps"
    steps.mkdir(parents=True)
    (lab / "lab.yaml").write_text(
        LAB_YAML.format(setup="setup: setup.sh\n" if setup else ""), encoding="utf-8"
    )
    if setup:
        (lab / "setup.sh").write_text(f"#!/usr/bin/env bash\n{setup}\n", encoding="utf-8")
    (steps / "make-a-file.en.md").write_text(
        "---\ntitle: Make a file\n---\n\nRun `touch ~/done`.\n"
    )
    (steps / "make-a-file.es.md").write_text(
        "---\ntitle: Crea un archivo\n---\n\nEjecuta `touch ~/done`.\n"
    )
    (steps / "make-a-file.check.sh").write_text(
        check or 'test -f /home/learner/done || { echo "FAIL: missing"; exit 1; }\n'
    )
    (steps / "make-a-file.solve.sh").write_text("touch ~/done\n")
    (root / "courses").mkdir(exist_ok=True)
    return lab


FAULTS_LAB_YAML = """\
order: 2
difficulty: beginner
duration_minutes: 10
slug: {en: faults-lab, es: laboratorio-de-fallos}
title: {en: Faults lab, es: Laboratorio de fallos}
summary: {en: A lab with platform faults., es: Un laboratorio con fallos de la plataforma.}
shell: toolbox
faults: true
containers:
  - name: toolbox
    image: toolbox
    memory_mb: 128
    pids: 64
  - name: api
    image: target
    memory_mb: 64
    pids: 32
steps:
  - key: kill-the-api
    messages:
      alive:
        en: The api still answers.
        es: La api todavía responde.
"""


def write_faults_lab(root: Path) -> Path:
    """A lab with ``faults: true``: a toolbox and an api; the platform adds its sidecar."""
    lab = root / "labs" / "faults-lab"
    steps = lab / "steps"
    steps.mkdir(parents=True)
    (lab / "lab.yaml").write_text(FAULTS_LAB_YAML, encoding="utf-8")
    (steps / "kill-the-api.en.md").write_text("---\ntitle: Kill the api\n---\n\n`fault kill api`\n")
    (steps / "kill-the-api.es.md").write_text("---\ntitle: Mata la api\n---\n\n`fault kill api`\n")
    (steps / "kill-the-api.check.sh").write_text(
        "curl -fsS --max-time 2 http://api:8080/health && { echo 'FAIL: alive'; exit 1; } || true\n"
    )
    (steps / "kill-the-api.solve.sh").write_text("fault kill api\n")
    (root / "courses").mkdir(exist_ok=True)
    return lab
