"""Certifications as code: read, validated and applied by sync_content with courses and labs."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from academy.certifications.content import domain_shares, position_limit
from academy.certifications.models import Certification, Domain, Item, Option
from academy.contentfiles import ContentError
from academy.contentsync import content_read, content_sync
from tests.certifications.content_tree import (
    CERTIFICATION_YAML,
    DEMO_ITEMS,
    item_yaml,
    write_demo_certification,
)
from tests.content_tree import write_demo_course

pytestmark = pytest.mark.django_db

CERT = "certifications/demo-practitioner/certification.yaml"
ALPHA = "certifications/demo-practitioner/items/alpha.yaml"
BETA = "certifications/demo-practitioner/items/beta.yaml"


@pytest.fixture
def demo(tmp_path):
    write_demo_course(tmp_path)
    write_demo_certification(tmp_path)
    return tmp_path


def _snapshot() -> list:
    rows = []
    for model in (Certification, Domain, Item, Option):
        for row in model.objects.order_by("pk"):
            rows.append(tuple((k, v) for k, v in sorted(vars(row).items()) if k != "_state"))
    return rows


def _write(root, relative: str, text: str) -> None:
    (root / relative).write_text(text, encoding="utf-8")


def _items(*items: str) -> str:
    return "".join(items)


def test_demo_certification_syncs(demo):
    report = content_sync(root=demo)

    assert report.created["certifications"] == 1
    assert report.created["domains"] == 2
    assert report.created["items"] == 9
    assert report.created["options"] == 27
    certification = Certification.objects.get(key="demo-practitioner")
    assert (certification.slug_en, certification.slug_es) == (
        "demo-practitioner",
        "profesional-demo",
    )
    assert (certification.questions, certification.minutes, certification.pass_mark) == (3, 10, 70)
    assert (certification.attempts_count, certification.attempts_days) == (3, 30)
    assert (certification.cooldown_hours, certification.validity_months) == (24, 24)
    assert certification.prerequisites == {"courses": ["demo-course"]}
    assert list(certification.domains.values_list("key", "weight")) == [
        ("alpha", 60),
        ("beta", 40),
    ]
    scenario = Item.objects.get(key="alpha-04")
    assert (scenario.kind, scenario.domain.key) == ("scenario", "alpha")
    assert scenario.lesson_ref == "demo-course/first-lesson"
    assert scenario.scenario_es == "El sistema funciona."
    assert Item.objects.get(key="alpha-01").scenario_en == ""
    multiple = Item.objects.get(key="beta-03")
    assert list(multiple.options.filter(is_correct=True).values_list("key", flat=True)) == [
        "b",
        "c",
    ]
    with translation.override("es"):
        assert certification.title == "Profesional demo"
        assert multiple.options.get(key="a").text == "Opción a"


def test_second_sync_changes_nothing_and_says_so(demo):
    call_command("sync_content", path=demo, stdout=StringIO())
    before = _snapshot()
    out = StringIO()

    call_command("sync_content", path=demo, stdout=out)

    assert "1 certification(s) with 9 item(s)" in out.getvalue()
    assert "Nothing to do" in out.getvalue()
    assert _snapshot() == before


def test_edit_updates_only_what_changed(demo):
    content_sync(root=demo)
    text = (demo / BETA).read_text().replace("What about beta-01?", "What now about beta-01?")
    _write(demo, BETA, text)

    report = content_sync(root=demo)

    assert report.updated == {"certifications": 1, "items": 1}  # the item and the pool's hash
    assert Item.objects.get(key="beta-01").prompt_en == "What now about beta-01?"


def test_removed_item_and_certification_are_retired(demo, tmp_path_factory):
    content_sync(root=demo)
    original = (demo / ALPHA).read_text()
    _write(demo, ALPHA, original + item_yaml("alpha-07", correct=(2,)))
    content_sync(root=demo)
    _write(demo, ALPHA, original)

    report = content_sync(root=demo)

    assert report.retired == {"items": 1}
    assert not Item.objects.published().filter(key="alpha-07").exists()
    assert Item.objects.filter(key="alpha-07").exists()  # attempts that drew it keep it

    empty = tmp_path_factory.mktemp("empty")
    write_demo_course(empty)
    report = content_sync(root=empty)
    assert report.retired == {"certifications": 1}
    assert not Certification.objects.published().exists()

    report = content_sync(root=demo)
    assert Certification.objects.published().filter(key="demo-practitioner").exists()
    assert report.updated == {"certifications": 1}


def test_removed_option_is_deleted_and_counted(demo):
    content_sync(root=demo)
    old = item_yaml("beta-03", kind="multiple", correct=(1, 2))
    new = item_yaml("beta-03", kind="multiple", correct=(1, 2), options=4)
    _replace(BETA, old, new)(demo)
    content_sync(root=demo)
    _replace(BETA, new, old)(demo)

    report = content_sync(root=demo)

    assert report.retired == {"options": 1}
    assert report.updated == {"certifications": 1, "items": 1}
    assert Item.objects.get(key="beta-03").options.count() == 3


def _replace(relative, old, new):
    def change(root):
        text = (root / relative).read_text()
        assert old in text, old
        _write(root, relative, text.replace(old, new))

    return change


def _weights(alpha: int, beta: int):
    def change(root):
        _replace(CERT, "weight: 60", f"weight: {alpha}")(root)
        _replace(CERT, "weight: 40", f"weight: {beta}")(root)

    return change


def _rewrite(relative, text):
    return lambda root: _write(root, relative, text)


ALPHA_ALL_CORRECT_FIRST = _items(
    *(item_yaml(f"alpha-0{n}", correct=(0,)) for n in range(1, 6)),
    item_yaml("alpha-06", kind="multiple", correct=(0, 1)),
)
ALPHA_CORRECT_LONGEST = _items(
    *(
        item_yaml(f"alpha-0{n}", correct=(n % 3,), option_text="Option").replace(
            f"en: Option {'abc'[n % 3]}", f"en: The longest option {'abc'[n % 3]}"
        )
        for n in range(1, 7)
    )
)


BROKEN = {
    "missing-field": (
        _replace(CERT, "cooldown_hours: 24\n", ""),
        "demo-practitioner/certification.yaml:1: certification: 'cooldown_hours' is missing",
    ),
    "wrong-type": (
        _replace(CERT, "questions: 3", "questions: three"),
        "certification.yaml:5: certification: 'questions' must be a whole number 1-200",
    ),
    "unknown-field": (
        _replace(CERT, "pass_mark: 70", "passmark: 70"),
        "certification.yaml:7: certification: unknown field 'passmark'",
    ),
    "no-spanish": (
        _replace(
            ALPHA, 'prompt: {en: "What about alpha-02?", es: "¿Y alpha-02?"}', "prompt: {en: X}"
        ),
        "items/alpha.yaml:13: item 'alpha-02': 'prompt' has no es "
        "(a certification needs both languages)",
    ),
    "no-english": (
        _replace(CERT, "title: {en: Demo Practitioner, es:", "title: {es:"),
        "certification.yaml:3: certification: 'title' has no English text",
    ),
    "weights": (
        _replace(CERT, "weight: 40", "weight: 30"),
        "certification.yaml:13: certification: the domains' weights add up to 90, not 100",
    ),
    "domain-without-items": (
        lambda root: (root / BETA).unlink(),
        "certification.yaml:17: domain 'beta' has no items/beta.yaml",
    ),
    "items-without-domain": (
        lambda root: _write(root, ALPHA.replace("alpha", "gamma"), DEMO_ITEMS["beta"][0]),
        "items/gamma.yaml: gamma.yaml names no domain of certification.yaml",
    ),
    "item-key-repeats": (
        _replace(BETA, "- key: beta-02", "- key: alpha-01"),
        "items/beta.yaml:10: item 'alpha-01': the key is already used in alpha.yaml",
    ),
    "option-key-repeats": (
        _replace(
            ALPHA,
            "{key: c, correct: true, text: {en: Option c",
            "{key: b, correct: true, text: {en: Option c",
        ),
        "items/alpha.yaml:26: item 'alpha-03', option 3: key 'b' repeats",
    ),
    "unknown-kind": (
        _replace(ALPHA, "kind: multiple", "kind: essay"),
        "items/alpha.yaml:39: item 'alpha-05': 'kind' must be one of",
    ),
    "single-with-two-correct": (
        _replace(
            ALPHA,
            "{key: b, text: {en: Option b, es: Opción b}}",
            "{key: b, correct: true, text: {en: Option b, es: Opción b}}",
        ),
        "items/alpha.yaml:5: item 'alpha-01': a single item needs exactly one correct option",
    ),
    "multiple-with-one-correct": (
        _replace(
            BETA,
            item_yaml("beta-03", kind="multiple", correct=(1, 2)),
            item_yaml("beta-03", kind="multiple", correct=(1,)),
        ),
        "items/beta.yaml:24: item 'beta-03': a multiple item needs at least two correct "
        "options and one wrong one",
    ),
    "multiple-all-correct": (
        _replace(
            BETA,
            item_yaml("beta-03", kind="multiple", correct=(1, 2)),
            item_yaml("beta-03", kind="multiple", correct=(0, 1, 2)),
        ),
        "items/beta.yaml:24: item 'beta-03': a multiple item needs at least two correct",
    ),
    "scenario-without-text": (
        _replace(ALPHA, "  scenario: {en: The system runs., es: El sistema funciona.}\n", ""),
        "items/alpha.yaml:28: item 'alpha-04': 'scenario' is missing",
    ),
    "single-with-scenario": (
        _replace(ALPHA, "kind: scenario", "kind: single"),
        "items/alpha.yaml:31: item 'alpha-04': only a scenario item has one",
    ),
    "too-few-options": (
        _replace(BETA, item_yaml("beta-01", correct=(2,)), item_yaml("beta-01", options=2)),
        "items/beta.yaml:5: item 'beta-01': 'options' must be a list of 3 to 6",
    ),
    "unknown-lesson": (
        _replace(ALPHA, "lesson: demo-course/second-lesson", "lesson: demo-course/ghost"),
        "items/alpha.yaml:49: item 'alpha-06': no lesson 'demo-course/ghost'",
    ),
    "lesson-not-text": (
        _replace(ALPHA, "lesson: demo-course/second-lesson", "lesson: [demo-course]"),
        "items/alpha.yaml:49: item 'alpha-06': no lesson ['demo-course']",
    ),
    "unknown-prerequisite": (
        _replace(CERT, "courses: [demo-course]", "courses: [ghost-course]"),
        "certification.yaml:12: prerequisites: no course has the key 'ghost-course'",
    ),
    "pool-too-small": (
        _replace(CERT, "questions: 3", "questions: 4"),
        "certification.yaml:1: certification: the pool holds 9 items; drawing 4 questions "
        "needs at least 12",
    ),
    "domain-pool-too-small": (
        _weights(30, 70),
        # 30/70 of 3 questions: 0.9 and 2.1, so beta gets 2 and needs 6 items; it has 3.
        "items/beta.yaml:1: domain 'beta': 3 items; its share of 2 of the 3 questions "
        "needs at least 6",
    ),
    "correct-is-longest": (
        _rewrite(ALPHA, ALPHA_CORRECT_LONGEST),
        "certification.yaml:1: certification: in 6 of 8 single and scenario items the correct "
        "option is the longest in English; at most 40 % may be",
    ),
    "correct-always-first": (
        _rewrite(ALPHA, ALPHA_ALL_CORRECT_FIRST),
        "certification.yaml:1: certification: among the 7 single and scenario items with 3 "
        "options, option 1 is the correct one in 5; at most 3 may be",
    ),
}


@pytest.mark.parametrize(("change", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_certification_is_reported_and_nothing_is_applied(demo, change, expected):
    content_sync(root=demo)
    before = _snapshot()
    # A valid edit next to the broken one, which must not be applied either.
    _replace(CERT, "minutes: 10", "minutes: 15")(demo)
    change(demo)
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was applied"):
        call_command("sync_content", path=demo, stdout=StringIO(), stderr=err)

    assert expected in err.getvalue()
    assert _snapshot() == before


def test_every_problem_is_reported_at_once(demo):
    _replace(CERT, "weight: 40", "weight: 30")(demo)
    _replace(BETA, "kind: multiple", "kind: essay")(demo)

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo)

    assert {problem.path.name for problem in caught.value.problems} == {
        "certification.yaml",
        "beta.yaml",
    }


@pytest.mark.parametrize(
    ("questions", "weights", "shares"),
    [
        (3, [60, 40], [2, 1]),
        (3, [30, 70], [1, 2]),
        (20, [25, 25, 20, 15, 15], [5, 5, 4, 3, 3]),
        (10, [34, 33, 33], [4, 3, 3]),  # 3.4, 3.3, 3.3: the one left goes to the largest
        (3, [50, 50], [2, 1]),  # a tie goes to the domain listed first
        (40, [17, 17, 17, 17, 16, 16], [7, 7, 7, 7, 6, 6]),
    ],
)
def test_domain_shares_use_the_largest_remainder(questions, weights, shares):
    assert domain_shares(questions, weights) == shares
    assert sum(shares) == questions


@pytest.mark.parametrize(
    ("items", "positions", "limit"),
    [
        (20, 4, 8),  # 20 x (25 % + 15 %) = 8
        (7, 3, 3),  # 7 x 48.3 % = 3.38, rounded down
        (1, 4, 1),  # a single item: an even spread is all there is
        (2, 3, 1),  # 2 x 48.3 % = 0.97, but one each is as even as two items get
        (10, 5, 3),  # 10 x 35 % = 3.5
    ],
)
def test_position_limit(items, positions, limit):
    assert position_limit(items, positions) == limit


def test_real_content_passes_the_check():
    out = StringIO()

    call_command("sync_content", path=settings.CONTENT_DIR, check=True, stdout=out)

    assert "certification(s)" in out.getvalue()
    keys = {spec.key for spec in content_read(root=settings.CONTENT_DIR).certifications}
    assert {"chaos-engineering-practitioner", "gitops-practitioner"} <= keys


def test_demo_yaml_is_what_the_docstring_says():
    # The demo's numbers are chosen to sit inside every rule; keep them honest.
    assert "questions: 3" in CERTIFICATION_YAML
    assert domain_shares(3, [60, 40]) == [2, 1]
    assert position_limit(7, 3) == 3


def test_admin_shows_the_synced_certification(demo, admin_client):
    content_sync(root=demo)
    certification = Certification.objects.get()
    item = Item.objects.get(key="alpha-04")

    pages = [
        "/admin/certifications/certification/",
        f"/admin/certifications/certification/{certification.pk}/change/",
        "/admin/certifications/item/",
        f"/admin/certifications/item/{item.pk}/change/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    assert "The system runs." in admin_client.get(pages[3]).content.decode()


# --- Practical tasks (tasks/<task>/, the lab format plus a domain) ---------------------------

TASK_DIR = "certifications/demo-practitioner/tasks/tiny-task"
TASK_YAML = """\
order: 1
difficulty: beginner
duration_minutes: 10
domain: {domain}
slug: {{en: tiny-task, es: tarea-minima}}
title: {{en: Tiny task, es: Tarea mínima}}
summary: {{en: A task for tests., es: Una tarea para pruebas.}}
shell: toolbox
containers:
  - name: toolbox
    image: toolbox
steps:
  - key: make-a-file
"""


def _write_task(root, *, domain: str = "beta", check: bool = True):
    steps = root / TASK_DIR / "steps"
    steps.mkdir(parents=True, exist_ok=True)
    _write(root, f"{TASK_DIR}/lab.yaml", TASK_YAML.format(domain=domain))
    _write(root, f"{TASK_DIR}/steps/make-a-file.en.md", "---\ntitle: Make a file\n---\n\nDo.\n")
    _write(
        root, f"{TASK_DIR}/steps/make-a-file.es.md", "---\ntitle: Crea un archivo\n---\n\nHaz.\n"
    )
    if check:
        _write(root, f"{TASK_DIR}/steps/make-a-file.check.sh", "test -f /home/learner/done\n")
    _write(root, f"{TASK_DIR}/steps/make-a-file.solve.sh", "touch ~/done\n")


def test_task_syncs_as_an_exam_only_lab_in_its_domain_and_is_retired(demo, tmp_path_factory):
    from academy.certifications.models import CertificationTask
    from labs.models import Lab

    _write_task(demo)
    content_sync(root=demo)

    task = CertificationTask.objects.get()
    assert task.lab.key == "demo-practitioner--tiny-task"
    assert task.lab.exam_only and task.domain.key == "beta" and task.retired_at is None
    assert task.certification.key == "demo-practitioner"
    assert task.lab.steps.get().solve_script == "touch ~/done\n"  # kept for the self-test
    assert content_sync(root=demo).changed is False

    import shutil

    shutil.rmtree(demo / TASK_DIR)
    report = content_sync(root=demo)
    assert report.retired == {"practical tasks": 1, "labs": 1}
    assert CertificationTask.objects.get().retired_at is not None
    assert not Lab.objects.published().exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda root: _write_task(root, domain="gamma"),
            "tasks/tiny-task/lab.yaml:4: task: unknown domain 'gamma' (the certification's "
            "domains: alpha, beta)",
        ),
        (
            lambda root: _write_task(root, check=False),
            "tasks/tiny-task/lab.yaml:13: make-a-file.check.sh does not exist",
        ),
        (
            lambda root: _write_task(root, domain="''"),
            "tasks/tiny-task/lab.yaml:4: task: 'domain' must name a domain of the certification",
        ),
    ],
    ids=["unknown-domain", "missing-check", "empty-domain"],
)
def test_broken_task_is_reported_and_nothing_is_applied(demo, change, expected):
    from academy.certifications.models import CertificationTask
    from labs.models import Lab

    content_sync(root=demo)
    before = _snapshot()
    _replace(CERT, "minutes: 10", "minutes: 15")(demo)  # a valid edit, not applied either
    change(demo)
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was applied"):
        call_command("sync_content", path=demo, stdout=StringIO(), stderr=err)

    assert expected in err.getvalue()
    assert _snapshot() == before
    assert not CertificationTask.objects.exists() and not Lab.objects.exists()


def test_a_lab_outside_a_certification_has_no_domain(demo):
    from tests.labs_tree import write_tiny_lab

    lab = write_tiny_lab(demo)
    text = (lab / "lab.yaml").read_text().replace("shell: toolbox", "domain: alpha\nshell: toolbox")
    (lab / "lab.yaml").write_text(text)

    with pytest.raises(ContentError) as caught:
        content_sync(root=demo)

    messages = [problem.message for problem in caught.value.problems]
    assert messages == ["lab: only a certification's task has a 'domain'"]


def test_shipped_certifications_have_two_practical_tasks_or_more():
    content = content_read(root=settings.CONTENT_DIR)
    for spec in content.certifications:
        assert len(spec.tasks) >= 2, spec.key
        domains = {domain.key for domain in spec.domains}
        assert {task.domain for task in spec.tasks} <= domains
    exam_only = {lab.key for lab in content.labs if lab.exam_only}
    assert exam_only == {task.lab_key for spec in content.certifications for task in spec.tasks}
