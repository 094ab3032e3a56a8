"""The lab runtime: the only code that talks to Docker.

Sandboxes are created, used and destroyed through these functions; what they return is plain
data the database can keep (ids and labels). Every Docker label key starts with ``academy.``.

    sandbox = sandbox_create(labels={"academy.session": "42"}, containers=[
        ContainerSpec(name="toolbox", image="academy/toolbox:latest"),
    ])
    result = sandbox_exec(container_id=sandbox.containers["toolbox"], command=["id"],
                          user="learner", timeout=10)
    sandbox_destroy(labels={"academy.session": "42"})
"""

from labs.runtime.engine import (
    LABEL_PREFIX,
    SANDBOX_LABEL,
    RuntimeFailure,
    RuntimeUnavailable,
    engine_ping,
)
from labs.runtime.execution import (
    Action,
    ExecResult,
    container_action,
    sandbox_exec,
    sandbox_put_files,
)
from labs.runtime.sandbox import (
    CONTAINER_LABEL,
    ContainerSpec,
    LabelledResource,
    Sandbox,
    Tmpfs,
    sandbox_create,
    sandbox_destroy,
    sandbox_list,
)

__all__ = [
    "CONTAINER_LABEL",
    "LABEL_PREFIX",
    "SANDBOX_LABEL",
    "Action",
    "ContainerSpec",
    "ExecResult",
    "LabelledResource",
    "RuntimeFailure",
    "RuntimeUnavailable",
    "Sandbox",
    "Tmpfs",
    "container_action",
    "engine_ping",
    "sandbox_create",
    "sandbox_destroy",
    "sandbox_exec",
    "sandbox_list",
    "sandbox_put_files",
]
