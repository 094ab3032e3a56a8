"""The lab runtime: the only code that talks to Docker.

Sandboxes are created, used and destroyed through these functions; what they return is plain
data the database can keep (ids and labels). Every Docker label key starts with ``academy.``.

    sandbox = sandbox_create(labels={"academy.session": "42"}, containers=[
        ContainerSpec(name="toolbox", image="academy/toolbox:latest"),
    ])
    result = sandbox_exec(container_id=sandbox.containers["toolbox"], command=["id"],
                          user="learner", timeout=10)
    sandbox_destroy(labels={"academy.session": "42"})

Interactive shells (the browser terminal) go through ``terminal_open``, which returns a
``Terminal``: a raw byte stream to a process with a TTY.
"""

from labs.runtime.attach import AttachedStream, container_attach
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
    ContainerState,
    LabelledResource,
    Sandbox,
    Tmpfs,
    container_start,
    container_states,
    sandbox_create,
    sandbox_destroy,
    sandbox_list,
)
from labs.runtime.terminal import MAX_TERMINAL_SIZE, Terminal, terminal_open

__all__ = [
    "CONTAINER_LABEL",
    "LABEL_PREFIX",
    "MAX_TERMINAL_SIZE",
    "SANDBOX_LABEL",
    "Action",
    "AttachedStream",
    "ContainerSpec",
    "ContainerState",
    "ExecResult",
    "LabelledResource",
    "RuntimeFailure",
    "RuntimeUnavailable",
    "Sandbox",
    "Terminal",
    "Tmpfs",
    "container_action",
    "container_attach",
    "container_start",
    "container_states",
    "engine_ping",
    "sandbox_create",
    "sandbox_destroy",
    "sandbox_exec",
    "sandbox_list",
    "sandbox_put_files",
    "terminal_open",
]
