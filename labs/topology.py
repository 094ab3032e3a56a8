"""A lab's topology as a diagram: its containers, the session network, who calls whom, the
faults sidecar and what it can reach; with a session, each container's live state; with the
chaos coverage, which parts the experiments broke and watched.

Edges are inferred from what the lab already declares, so that lab.yaml needs no extra field:

* an env value that names another container in a URL or a ``host:port`` (a service's
  ``DEPENDENCY_URL``, a reconciler's ``REPO_URL``, the proxy's ``TOXIPROXY_CONFIG`` upstream);
  a target service without ``DEPENDENCY_URL`` calls the image's default, ``dependency``;
* a reconciler's ``APPS``: the containers it reconciles;
* a load balancer's backends, from the ``server`` lines of the lb image's seed haproxy.cfg.

The web process reads only rows: live state comes from the session's state and its recorded
problem (labs.services.health), never from Docker. Faults are not recorded by the platform
(labs.faults only logs them), so whether one is active is reported as unknown (None).

Positions are in SVG user units; the template draws them (labs/templates/labs/_topology.html).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from labs.content import FAULTS_CONTAINER, IMAGES_DIR
from labs.models import Lab, LabSession

if TYPE_CHECKING:
    from labs.journal import Coverage

NODE_W = 176
NODE_H = 72
COL_GAP = 64  # between columns: room for the arrows and the faults gutter
ROW_GAP = 20
PAD = 18  # inside the network band
BAND_TOP = 40  # the band's label sits above the first row
MARGIN = 8  # around the band
GUTTER = 16  # the faults line runs this far left of a column
BUS_GAP = 26  # from the lowest container down to the faults bus
ROLE_CHAR = 6.6  # about the width of a character of a role (12px) and a status (13px) line
STATUS_CHAR = 6.9
MAX_NAME = 20  # characters of a container name drawn in a node (the full name in its title)

# Container states on the session page (labs/static/js/topology.js follows them live).
STATES = {
    "starting": pgettext_lazy("a container's state", "Starting"),
    "running": pgettext_lazy("a container's state", "Running"),
    "down": pgettext_lazy("a container's state", "Down"),
    "stopped": pgettext_lazy("a container's state", "Stopped"),
}
STATE_ICONS = {"starting": "…", "running": "✓", "down": "✕", "stopped": "■"}

# Chaos coverage of a part (labs.journal.PartCoverage.state).
COVERAGE_STATES = {
    "faulted-and-observed": _("Faulted and observed"),
    "faulted": _("Faulted, not observed"),
    "observed": _("Observed, not faulted"),
    "not-exercised": _("Not exercised"),
}

EDGE_KINDS = ("calls", "forwards", "balances", "pulls", "reconciles")
# Translators: sentences of a lab diagram's text alternative; names are container names.
EDGE_SENTENCES = {
    "calls": _("%(source)s calls %(target)s."),
    "forwards": _("%(source)s forwards requests to %(target)s."),
    "balances": _("%(source)s balances requests across %(target)s."),
    "pulls": _("%(source)s pulls the desired state from %(target)s."),
    "reconciles": _("%(source)s reconciles %(target)s."),
}

ROLES = {
    "shell": pgettext_lazy("a container's role", "Your terminal"),
    "faults": pgettext_lazy("a container's role", "Faults sidecar"),
    "lb": pgettext_lazy("a container's role", "Load balancer"),
    "proxy": pgettext_lazy("a container's role", "Latency proxy"),
    "git-server": pgettext_lazy("a container's role", "Git server"),
    "reconciler": pgettext_lazy("a container's role", "Reconciler"),
    "dependency": pgettext_lazy("a container's role", "Dependency"),
    "service": pgettext_lazy("a container's role", "Service"),
    "toolbox": pgettext_lazy("a container's role", "Toolbox"),
    "container": pgettext_lazy("a container's role", "Container"),
}

# host:port, or scheme://host with or without a port.
_ADDRESS = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://(?P<url_host>[A-Za-z0-9][A-Za-z0-9_.-]*))"
    r"|(?P<host>[A-Za-z0-9][A-Za-z0-9_.-]*):\d{1,5}\b"
)
_HAPROXY_SERVER = re.compile(r"^\s*server\s+\S+\s+([A-Za-z0-9][A-Za-z0-9_.-]*):\d+", re.M)
TARGET_DEFAULT_DEPENDENCY = "dependency"  # labs/images/target/service.py's DEPENDENCY_URL


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # one of EDGE_KINDS

    @property
    def sentence(self) -> str:
        return str(EDGE_SENTENCES[self.kind] % {"source": self.source, "target": self.target})


@dataclass
class Node:
    name: str
    kind: str  # a key of ROLES
    column: int = 0
    x: float = 0
    y: float = 0
    fault_target: bool = False
    memory_mb: float | None = None  # the container's limits, as lab.yaml sets them
    cpus: float | None = None
    state: str = ""  # a key of STATES, with a session
    fault_active: bool | None = None
    coverage: str = ""  # a key of COVERAGE_STATES, for a part of the lab in the coverage picture
    faulted_by: tuple[str, ...] = ()
    observed_by: tuple[str, ...] = ()

    @property
    def role(self) -> str:
        return str(ROLES[self.kind])

    @property
    def role_squeeze(self) -> int | None:
        """The width to squeeze the role into when it would run into the corner mark."""
        room = NODE_W - 24 - (22 if self.fault_target else 0)
        return room if len(self.role) * ROLE_CHAR > room else None

    @property
    def coverage_squeeze(self) -> int | None:
        room = NODE_W - 12 - self.coverage_indent
        return room if len(self.coverage_label) * STATUS_CHAR > room else None

    @property
    def coverage_indent(self) -> int:
        return 50 if self.coverage == "faulted-and-observed" else 32

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= MAX_NAME else self.name[: MAX_NAME - 1] + "…"

    @property
    def state_label(self) -> str:
        return str(STATES[self.state]) if self.state else ""

    @property
    def state_icon(self) -> str:
        return STATE_ICONS.get(self.state, "")

    @property
    def coverage_label(self) -> str:
        return str(COVERAGE_STATES[self.coverage]) if self.coverage else ""

    @property
    def is_platform(self) -> bool:
        return self.kind == "faults"

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2

    @property
    def cy(self) -> float:
        return self.y + NODE_H / 2

    @property
    def right(self) -> float:
        return self.x + NODE_W

    @property
    def bottom(self) -> float:
        return self.y + NODE_H


@dataclass
class Wire:
    """A drawn line: an edge between two containers, or a piece of the faults sidecar's reach."""

    path: str
    kind: str
    title: str = ""


@dataclass
class Diagram:
    lab: Lab
    nodes: list[Node]
    edges: list[Edge]
    width: float = 0
    height: float = 0
    band: tuple[float, float, float, float] = (0, 0, 0, 0)  # x, y, width, height
    wires: list[Wire] = field(default_factory=list)
    fault_wires: list[Wire] = field(default_factory=list)
    live: bool = False
    coverage: bool = False

    @property
    def node_width(self) -> int:
        return NODE_W

    @property
    def node_height(self) -> int:
        return NODE_H

    @property
    def containers(self) -> list[Node]:
        return [node for node in self.nodes if not node.is_platform]

    @property
    def faults(self) -> Node | None:
        return next((node for node in self.nodes if node.is_platform), None)

    @property
    def fault_targets(self) -> list[Node]:
        return [node for node in self.nodes if node.fault_target]

    @property
    def shell(self) -> Node | None:
        return next((node for node in self.nodes if node.kind == "shell"), None)

    @property
    def fault_target_names(self) -> str:
        return ", ".join(node.name for node in self.fault_targets)

    @property
    def sentences(self) -> list[str]:
        return [edge.sentence for edge in self.edges]

    @property
    def dom_id(self) -> str:
        return f"topology-{'coverage' if self.coverage else 'lab'}-{self.lab.pk}"


# --- Reading the lab ----------------------------------------------------------------------------


@cache
def lb_backends() -> tuple[str, ...]:
    """The hosts that the lb image's seed configuration balances across."""
    try:
        text = (IMAGES_DIR / "lb" / "haproxy.cfg").read_text()
    except OSError:
        return ()
    return tuple(_HAPROXY_SERVER.findall(text))


def _hosts(text: str) -> list[str]:
    return [m.group("url_host") or m.group("host") for m in _ADDRESS.finditer(text)]


def _node_kind(container: dict[str, Any], shell: str) -> str:
    env = container.get("env") or {}
    image, role = container.get("image"), env.get("ROLE", "")
    if container["name"] == shell:
        return "shell"
    if image in ("lb", "proxy", "toolbox"):
        return str(image)
    if image == "gitops":
        return role if role in ("git-server", "reconciler") else "container"
    if image == "target":
        return "dependency" if role == "dependency" else "service"
    return "container"


def topology_edges(lab: Lab) -> list[Edge]:
    """Who calls whom among the lab's containers, inferred from lab.yaml (see the module)."""
    names = {c["name"] for c in lab.topology}
    found: dict[tuple[str, str], str] = {}

    def add(source: str, target: str, kind: str) -> None:
        if target in names and target != source and target != lab.shell_container:
            found.setdefault((source, target), kind)

    for container in lab.topology:
        name, env = container["name"], dict(container.get("env") or {})
        if name == lab.shell_container:
            continue  # the learner's terminal reaches everything; the band says so
        kind = _node_kind(container, lab.shell_container)
        if kind == "lb":
            for host in lb_backends():
                add(name, host, "balances")
        if kind == "service" and "DEPENDENCY_URL" not in env:
            add(name, TARGET_DEFAULT_DEPENDENCY, "calls")
        if kind == "reconciler":
            for app in env.get("APPS", "").split(","):
                add(name, app.strip(), "reconciles")
        for key, value in env.items():
            if key in ("APPS", "SEED_APPS"):
                continue
            if key == "TOXIPROXY_CONFIG":
                for host in _proxy_upstreams(value):
                    add(name, host, "forwards")
                continue
            for host in _hosts(value):
                add(name, host, "pulls" if key == "REPO_URL" else "calls")
    return [Edge(source, target, kind) for (source, target), kind in found.items()]


def _proxy_upstreams(value: str) -> list[str]:
    try:
        proxies = json.loads(value)
    except ValueError:
        return _hosts(value)
    if not isinstance(proxies, list):
        return []
    return [
        host
        for proxy in proxies
        if isinstance(proxy, dict)
        for host in _hosts(str(proxy.get("upstream", "")))
    ]


# --- Layout -------------------------------------------------------------------------------------


def _columns(names: list[str], shell: str, edges: list[Edge]) -> dict[str, int]:
    """Column 0: the shell; then the longest chain of calls reaching a container (bounded, so
    a cycle ends)."""
    column = {name: 1 for name in names}
    column[shell] = 0
    for _round in range(len(names)):
        changed = False
        for edge in edges:
            wanted = column[edge.source] + 1
            if column[edge.target] < wanted <= len(names):
                column[edge.target] = wanted
                changed = True
        if not changed:
            break
    return column


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    bend = max(24.0, (x2 - x1) / 2)
    return f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}"


def topology_diagram(
    *, lab: Lab, session: LabSession | None = None, coverage: Coverage | None = None
) -> Diagram:
    """The diagram of ``lab``; with ``session``, its containers' live state; with ``coverage``
    (labs.journal.Coverage), each part marked faulted, observed, both or not exercised."""
    names = [c["name"] for c in lab.topology]
    edges = topology_edges(lab)
    column = _columns(names, lab.shell_container, edges)
    nodes = {
        c["name"]: Node(
            name=c["name"],
            kind=_node_kind(c, lab.shell_container),
            column=column[c["name"]],
            fault_target=lab.faults_enabled and c["name"] != lab.shell_container,
            memory_mb=c.get("memory_mb"),
            cpus=c.get("cpus"),
        )
        for c in lab.topology
    }
    order = {name: i for i, name in enumerate(names)}
    by_column: dict[int, list[Node]] = {}
    for node in nodes.values():
        by_column.setdefault(node.column, []).append(node)
    # Placed column by column; within one, near the callers already placed (their mean row).
    rows: dict[str, float] = {}
    for index in sorted(by_column):

        def key(node: Node) -> tuple[float, int]:
            callers = [rows[e.source] for e in edges if e.target == node.name and e.source in rows]
            return (sum(callers) / len(callers) if callers else order[node.name], order[node.name])

        by_column[index].sort(key=key)
        for row, node in enumerate(by_column[index]):
            rows[node.name] = row
    tallest = max(len(column_nodes) for column_nodes in by_column.values())
    stack_height = tallest * NODE_H + (tallest - 1) * ROW_GAP
    left = MARGIN + PAD
    top = MARGIN + BAND_TOP
    for index, column_nodes in by_column.items():
        height = len(column_nodes) * NODE_H + (len(column_nodes) - 1) * ROW_GAP
        for row, node in enumerate(column_nodes):
            node.x = left + index * (NODE_W + COL_GAP)
            node.y = top + (stack_height - height) / 2 + row * (NODE_H + ROW_GAP)
    columns = max(by_column) + 1
    width = 2 * (MARGIN + PAD) + columns * NODE_W + (columns - 1) * COL_GAP
    bottom: float = top + stack_height
    diagram = Diagram(lab=lab, nodes=list(nodes.values()), edges=edges)

    for edge in edges:
        source, target = nodes[edge.source], nodes[edge.target]
        if target.column > source.column:
            path = _curve(source.right, source.cy, target.x, target.cy)
        else:  # a call back to an earlier column (or within one): over the top
            lift = min(source.y, target.y) - 14
            path = (
                f"M{source.cx:g},{source.y:g} C{source.cx:g},{lift:g} "
                f"{target.cx:g},{lift:g} {target.cx:g},{target.y:g}"
            )
        diagram.wires.append(Wire(path=path, kind=edge.kind, title=edge.sentence))

    if lab.faults_enabled:
        faults = Node(name=FAULTS_CONTAINER, kind="faults", column=-1)
        targets = [n for n in nodes.values() if n.fault_target]
        bus_y = bottom + BUS_GAP
        # Under the containers it reaches, in line with the nearest column.
        centre = sum(n.cx for n in targets) / len(targets) if targets else width / 2
        faults.x = min(
            (left + index * (NODE_W + COL_GAP) for index in range(columns)),
            key=lambda x: abs(x + NODE_W / 2 - centre),
        )
        faults.y = bus_y + BUS_GAP
        xs = [faults.cx]
        for index in sorted({n.column for n in targets}):
            in_column = [n for n in targets if n.column == index]
            gutter = in_column[0].x - GUTTER
            xs.append(gutter)
            highest = min(n.bottom - 14 for n in in_column)
            diagram.fault_wires.append(Wire(path=f"M{gutter:g},{bus_y:g} V{highest:g}", kind="bus"))
            for node in in_column:
                stub_y = node.bottom - 14
                diagram.fault_wires.append(
                    Wire(path=f"M{gutter:g},{stub_y:g} H{node.x:g}", kind="reach", title=node.name)
                )
        diagram.fault_wires.append(Wire(path=f"M{min(xs):g},{bus_y:g} H{max(xs):g}", kind="bus"))
        diagram.fault_wires.append(Wire(path=f"M{faults.cx:g},{bus_y:g} V{faults.y:g}", kind="bus"))
        diagram.nodes.append(faults)
        bottom = faults.bottom
    diagram.width = width
    diagram.height = bottom + PAD + MARGIN
    diagram.band = (MARGIN, MARGIN, width - 2 * MARGIN, diagram.height - 2 * MARGIN)

    if session is not None:
        diagram.live = True
        states = {row["name"]: row for row in session_containers(session=session)}
        for node in diagram.nodes:
            live = states.get(node.name)
            if live:
                node.state, node.fault_active = live["state"], live["fault_active"]
    if coverage is not None:
        diagram.coverage = True
        parts = {part.name: part for part in coverage.parts}
        for node in diagram.nodes:
            part = parts.get(node.name.lower())
            if part is not None:
                node.coverage = part.state
                node.faulted_by, node.observed_by = part.faulted_by, part.observed_by
    return diagram


# --- Live state ---------------------------------------------------------------------------------

_STARTING = {LabSession.State.REQUESTED, LabSession.State.PROVISIONING}
_RUNNING = {LabSession.State.READY, LabSession.State.CHECKING, LabSession.State.COMPLETED}


def session_containers(*, session: LabSession) -> list[dict[str, Any]]:
    """Each container of the session and its state, for the status JSON the session page polls:
    [{"name", "state" (starting, running, down, stopped), "state_label", "fault_active"}].

    From the row only (the web process never asks Docker): a session being built is starting,
    a running one is running except the container its recorded problem names (down, or starting
    while it is being restored), an ended one is stopped. ``fault_active`` is None: the platform
    keeps no record of the faults it ran (labs.faults logs them).
    """
    lab = session.lab
    names = [c["name"] for c in lab.topology]
    if lab.faults_enabled:
        names.append(FAULTS_CONTAINER)
    problem = session.problem or {}
    broken = problem.get("container") if session.state in _RUNNING else None
    rows = []
    for name in names:
        if session.state in _STARTING:
            state = "starting"
        elif session.state in _RUNNING:
            state = "running"
            if name == broken:
                state = "starting" if problem.get("restoring") else "down"
        else:
            state = "stopped"
        rows.append(
            {
                "name": name,
                "state": state,
                "state_label": str(STATES[state]),
                "icon": STATE_ICONS[state],
                "fault_active": None,
            }
        )
    return rows
