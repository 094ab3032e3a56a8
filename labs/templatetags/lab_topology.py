"""{% topology_for %}: the diagram model of a lab (labs.topology) for labs/_topology.html, so
that any page with a ``lab`` or a ``session`` in its context can include the diagram."""

from django import template

from labs.journal import Coverage
from labs.models import Lab, LabSession
from labs.topology import Diagram, topology_diagram

register = template.Library()


@register.simple_tag
def topology_for(
    lab: object = None, session: object = None, coverage: object = None
) -> Diagram | None:
    """With ``coverage`` (labs.journal.Coverage): the coverage picture, without live state;
    else with ``session``: its containers' live state; else the lab's static diagram."""
    lab = lab or getattr(session, "lab", None)
    if not isinstance(lab, Lab) or not lab.topology:
        return None
    if isinstance(coverage, Coverage):  # not an unset template variable
        return topology_diagram(lab=lab, coverage=coverage)
    return topology_diagram(lab=lab, session=session if isinstance(session, LabSession) else None)
