"""Lab diagrams (labs.topology, labs/_topology.html): every real lab and exam task draws the
containers its lab.yaml declares, with the calls inferred from it; the session's live state
comes from the row alone; the coverage picture marks each part."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from labs.journal import Coverage, PartCoverage
from labs.models import Lab, LabSession
from labs.selectors import session_status
from labs.topology import NODE_H, NODE_W, Edge, session_containers, topology_diagram
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
State = LabSession.State
CONTENT = Path(settings.CONTENT_DIR)
LAB_FILES = sorted(CONTENT.glob("labs/*/lab.yaml")) + sorted(
    CONTENT.glob("certifications/*/tasks/*/lab.yaml")
)


@pytest.fixture
def real_labs() -> dict[Path, Lab]:
    """Every lab and exam task of content/ as a Lab row, by the path of its lab.yaml. Built from
    the file rather than by a whole content sync: quicker, and only the labs are under test."""
    labs = {}
    for number, path in enumerate(LAB_FILES):
        data = yaml.safe_load(path.read_text())
        labs[path] = _lab(
            key=f"lab-{number}",
            title=data["title"]["en"],
            topology=data["containers"],
            shell_container=data.get("shell") or data["containers"][0]["name"],
            faults_enabled=bool(data.get("faults")),
        )
    return labs


def _svg_nodes(html: str) -> set[str]:
    return set(re.findall(r'<g class="topo-node[^"]*" data-container="([^"]+)"', html))


def test_six_labs_and_four_exam_tasks_are_covered():
    assert len(LAB_FILES) == 10


@pytest.mark.parametrize("path", LAB_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_lab_draws_the_containers_of_its_lab_yaml(real_labs, path, language):
    declared = yaml.safe_load(path.read_text())
    names = {c["name"] for c in declared["containers"]}
    expected = names | ({"faults"} if declared.get("faults") else set())
    lab = real_labs[path]

    with translation.override(language):
        html = render_to_string("labs/_topology.html", {"lab": lab})

    assert _svg_nodes(html) == expected
    assert 'role="img"' in html and f"topology-lab-{lab.pk}-desc" in html
    # The text alternative lists every container, and the hidden list the same facts.
    facts = set(re.findall(r'data-container-fact="([^"]+)"', html))
    assert facts == expected
    diagram = topology_diagram(lab=lab)
    # Nothing overlaps; everything sits inside the drawing and the network band.
    boxes = [(n.x, n.y) for n in diagram.nodes]
    for i, (x1, y1) in enumerate(boxes):
        assert x1 > 0 and x1 + NODE_W < diagram.width and y1 + NODE_H < diagram.height
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_W or abs(y1 - y2) >= NODE_H
    # The shell stands alone on the left.
    shell = next(n for n in diagram.nodes if n.name == declared.get("shell", "toolbox"))
    assert shell.kind == "shell" and shell.x == min(n.x for n in diagram.nodes)
    # Every edge joins two declared containers, and goes left to right.
    for edge in diagram.edges:
        assert {edge.source, edge.target} <= names
    if declared.get("faults"):
        assert {n.name for n in diagram.fault_targets} == names - {shell.name}


def test_calls_are_inferred_from_what_lab_yaml_already_says(real_labs):
    def edges(folder: str) -> set[Edge]:
        lab = next(lab for path, lab in real_labs.items() if path.parent.name == folder)
        return set(topology_diagram(lab=lab).edges)

    # The proxy sits between its caller and the dependency (DEPENDENCY_URL, TOXIPROXY_CONFIG).
    assert edges("latency-and-timeouts") == {
        Edge("api", "proxy", "calls"),
        Edge("proxy", "dependency", "forwards"),
    }
    assert edges("first-steady-state") == {Edge("api", "dependency", "calls")}
    # The lb's backends come from the lb image's seed haproxy.cfg.
    assert edges("kill-a-replica") == {Edge("lb", f"api-{n}", "balances") for n in (1, 2, 3)}
    assert edges("chaos-meets-gitops") == {
        Edge("reconciler", "git", "pulls"),
        Edge("reconciler", "web", "reconciles"),
        Edge("reconciler", "api", "reconciles"),
        Edge("api", "web", "calls"),
    }
    assert edges("resource-pressure") == set()  # DEPENDENCY_URL: '' calls nobody


def test_layers_put_the_proxy_between_caller_and_dependency(real_labs):
    lab = next(lab for path, lab in real_labs.items() if path.parent.name == "latency-and-timeouts")
    x = {n.name: n.x for n in topology_diagram(lab=lab).nodes}
    assert x["toolbox"] < x["api"] < x["proxy"] < x["dependency"]


def _lab(**fields) -> Lab:
    values = {
        "key": "t",
        "slug": "t",
        "title": "T",
        "summary": "S",
        "difficulty": "beginner",
        "duration_minutes": 10,
        "shell_container": "toolbox",
        **fields,
    }
    return Lab.objects.create(**values)


def test_hostile_names_and_cycles_are_drawn_escaped_and_bounded():
    # A container that names itself, a cycle, an unknown host and markup in an env value.
    topology = [
        {"name": "toolbox", "image": "toolbox", "env": {"X": "http://a:1"}},
        {"name": "a", "image": "target", "env": {"DEPENDENCY_URL": "http://b:8080/<script>"}},
        {"name": "b", "image": "target", "env": {"DEPENDENCY_URL": "http://a:8080/"}},
        {"name": "c", "image": "target", "env": {"DEPENDENCY_URL": "http://c:1 http://evil:2"}},
    ]
    lab = _lab(topology=topology, title='<b onmouseover="x">T</b>')
    diagram = topology_diagram(lab=lab)
    assert {(e.source, e.target) for e in diagram.edges} == {("a", "b"), ("b", "a")}
    assert all(0 <= n.column <= len(topology) for n in diagram.nodes)

    html = render_to_string("labs/_topology.html", {"lab": lab})
    assert "<b onmouseover" not in html and "&lt;b onmouseover" in html
    assert _svg_nodes(html) == {"toolbox", "a", "b", "c"}


def test_a_long_container_name_is_shortened_in_the_box_and_whole_in_the_text():
    name = "a-very-long-container-name-that-does-not-fit"
    lab = _lab(topology=[{"name": "toolbox", "image": "toolbox"}, {"name": name, "image": "lb"}])
    html = render_to_string("labs/_topology.html", {"lab": lab})
    assert ">a-very-long-contain…<" in html
    assert f'data-container-fact="{name}"' in html


@pytest.mark.parametrize(
    ("state", "problem", "expected"),
    [
        (State.REQUESTED, {}, {"toolbox": "starting", "api": "starting", "faults": "starting"}),
        (State.PROVISIONING, {}, {"toolbox": "starting", "api": "starting", "faults": "starting"}),
        (State.READY, {}, {"toolbox": "running", "api": "running", "faults": "running"}),
        (
            State.READY,
            {"container": "api", "reason": "oom"},
            {"toolbox": "running", "api": "down", "faults": "running"},
        ),
        (
            State.CHECKING,
            {"container": "api", "reason": "exited", "restoring": True},
            {"toolbox": "running", "api": "starting", "faults": "running"},
        ),
        # An ended session's stale problem does not make anything "down".
        (
            State.EXPIRED,
            {"container": "api"},
            {"toolbox": "stopped", "api": "stopped", "faults": "stopped"},
        ),
        (State.DESTROYED, {}, {"toolbox": "stopped", "api": "stopped", "faults": "stopped"}),
        (State.FAILED, {}, {"toolbox": "stopped", "api": "stopped", "faults": "stopped"}),
    ],
)
def test_live_state_comes_from_the_session_row(state, problem, expected):
    lab = _lab(
        topology=[{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}],
        faults_enabled=True,
    )
    session = LabSession.objects.create(lab=lab, user=UserFactory(), state=state, problem=problem)

    rows = session_containers(session=session)

    assert {row["name"]: row["state"] for row in rows} == expected
    assert all(row["fault_active"] is None for row in rows)  # the platform keeps no record
    assert session_status(session=session)["containers"] == rows


def test_a_forged_problem_naming_no_container_changes_nothing():
    lab = _lab(
        topology=[{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}]
    )
    session = LabSession.objects.create(
        lab=lab, user=UserFactory(), state=State.READY, problem={"container": "<img src=x>"}
    )
    assert {row["state"] for row in session_containers(session=session)} == {"running"}


def test_live_diagram_shows_state_in_words_and_icons_in_both_languages():
    lab = _lab(
        topology=[{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}]
    )
    session = LabSession.objects.create(
        lab=lab, user=UserFactory(), state=State.READY, problem={"container": "api"}
    )
    for language, down in (("en", "Down"), ("es", None)):
        with translation.override(language):
            html = render_to_string("labs/_topology.html", {"lab": lab, "session": session})
        assert "data-topology-live" in html and "js/topology.js" in html
        api = re.search(r'<g class="([^"]*)" data-container="api"', html).group(1)
        assert "topo-state-down" in api
        assert "✕" in html
        if down:
            assert f"<tspan data-container-label>{down}</tspan>" in html


def test_coverage_picture_marks_each_part_and_not_the_shell_or_the_sidecar():
    lab = _lab(
        topology=[
            {"name": "toolbox", "image": "toolbox"},
            {"name": "lb", "image": "lb"},
            {"name": "api-1", "image": "target"},
            {"name": "api-2", "image": "target"},
            {"name": "api-3", "image": "target"},
        ],
        faults_enabled=True,
    )
    coverage = Coverage(
        parts=(
            PartCoverage("lb", (), ("lb-healthy",)),
            PartCoverage("api-1", ("kill-api-1",), ("lb-healthy",)),
            PartCoverage("api-2", ("pause-api-2",), ()),
            PartCoverage("api-3", (), ()),
        )
    )
    html = render_to_string("labs/_topology.html", {"lab": lab, "topology_coverage": coverage})
    marked = dict(re.findall(r'data-container="([^"]+)"[^>]*data-coverage="([^"]+)"', html))
    assert marked == {
        "lb": "observed",
        "api-1": "faulted-and-observed",
        "api-2": "faulted",
        "api-3": "not-exercised",
    }
    assert "data-topology-live" not in html  # the picture is of the journals, not live
    assert "topology-coverage" in html and "Faulted by: kill-api-1." in html
    for label in ("Faulted and observed", "Faulted, not observed", "Observed, not faulted"):
        assert label in html  # the legend, in words


def test_lab_page_shows_the_diagram(client):
    lab = _lab(
        topology=[{"name": "toolbox", "image": "toolbox"}, {"name": "api", "image": "target"}]
    )
    Lab.objects.filter(pk=lab.pk).update(slug_en="t", slug_es="t")
    html = client.get("/en/labs/t/").content.decode()
    assert 'class="topology-svg"' in html and _svg_nodes(html) == {"toolbox", "api"}
    assert "css/diagrams.css" in html and "js/topology.js" not in html
