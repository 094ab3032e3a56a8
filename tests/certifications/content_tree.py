"""A small certification on disk, beside the demo course of tests/content_tree.py.

Three questions per attempt over two domains weighted 60/40: the largest remainder gives
"alpha" 2 questions and "beta" 1, so the pool needs 6 and 3 items (9 in all), which it has.
Among its 7 single and scenario items (3 options each) no correct option is the longest, and
the key sits at positions 1, 2, 3, 1, 2, 3, 2: at most 3 in one place, the limit for 7 items.
"""

from pathlib import Path

CERTIFICATION_YAML = """\
order: 1
slug: {en: demo-practitioner, es: profesional-demo}
title: {en: Demo Practitioner, es: Profesional demo}
summary: {en: A certification for tests., es: Una certificación para pruebas.}
questions: 3
minutes: 10
pass_mark: 70
cooldown_hours: 24
attempts: {count: 3, days: 30}
validity_months: 24
prerequisites:
  courses: [demo-course]
domains:
  - key: alpha
    weight: 60
    title: {en: Alpha, es: Alfa}
  - key: beta
    weight: 40
    title: {en: Beta, es: Beta}
"""


def item_yaml(
    key: str,
    *,
    kind: str = "single",
    correct: tuple[int, ...] = (0,),
    options: int = 3,
    lesson: str = "demo-course/first-lesson",
    option_text: str = "Option",
) -> str:
    """One item, 9 lines with 3 options (10 for a scenario); option keys a, b, c, ..."""
    lines = [f"- key: {key}", f"  kind: {kind}", f"  lesson: {lesson}"]
    if kind == "scenario":
        lines.append("  scenario: {en: The system runs., es: El sistema funciona.}")
    lines += [f'  prompt: {{en: "What about {key}?", es: "¿Y {key}?"}}', "  options:"]
    for index in range(options):
        letter = "abcdef"[index]
        mark = " correct: true," if index in correct else ""
        text = f"{{en: {option_text} {letter}, es: Opción {letter}}}"
        lines.append(f"    - {{key: {letter},{mark} text: {text}}}")
    lines.append("  explanation: {en: Because., es: Porque sí.}")
    return "\n".join(lines) + "\n"


DEMO_ITEMS = {
    "alpha": [
        item_yaml("alpha-01", correct=(0,)),
        item_yaml("alpha-02", correct=(1,)),
        item_yaml("alpha-03", correct=(2,)),
        item_yaml("alpha-04", kind="scenario", correct=(0,)),
        item_yaml("alpha-05", kind="multiple", correct=(0, 1)),
        item_yaml("alpha-06", correct=(1,), lesson="demo-course/second-lesson"),
    ],
    "beta": [
        item_yaml("beta-01", correct=(2,)),
        item_yaml("beta-02", kind="scenario", correct=(1,)),
        item_yaml("beta-03", kind="multiple", correct=(1, 2)),
    ],
}


def write_demo_certification(root: Path) -> Path:
    """A valid certification drawing on the demo course; returns its folder."""
    folder = root / "certifications" / "demo-practitioner"
    (folder / "items").mkdir(parents=True)
    (folder / "certification.yaml").write_text(CERTIFICATION_YAML, encoding="utf-8")
    for domain, items in DEMO_ITEMS.items():
        (folder / "items" / f"{domain}.yaml").write_text("".join(items), encoding="utf-8")
    return folder
