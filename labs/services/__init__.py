"""The lab engine's entry points, one module per job.

Web views, the CLI, websocket consumers and Celery tasks call these and nothing else. Docker is
reached only through labs.runtime. Every function can run twice (a Celery task may) without
doing harm: each reads the session's state under a row lock and does nothing when the state
says it is done.

- access: is a session running, and who may act on it (the one rule, used everywhere)
- state: the state machine's transitions, labels, and enqueueing work on commit
- provisioning: start, queue, warm pool, provision, extend, stop
- grading: run a check, store the verdict
- results: collect the learner's journals, caps, the Results data
- housekeeping: the reaper
- health: running sandboxes compared with the engine, problems recorded, restore
- limits: rate limits, live-session and terminal limits, one check in flight
"""

from labs.services.access import (
    RUNNING_STATES,
    LabSessionError,
    problem_text,
    session_is_running,
    session_may_act,
    session_refusal,
)
from labs.services.grading import (
    CheckRequest,
    Verdict,
    lab_session_check,
    lab_session_check_request,
    lab_session_grade_all,
    lab_session_solve,
)
from labs.services.health import (
    lab_session_diagnose,
    lab_session_restore,
    lab_session_restore_request,
    lab_sessions_watch,
    sandbox_diagnose,
)
from labs.services.housekeeping import lab_results_trim, lab_sessions_reap
from labs.services.limits import LabRateLimited
from labs.services.provisioning import (
    container_specs,
    lab_session_end,
    lab_session_extend,
    lab_session_provision,
    lab_session_start,
    lab_session_start_for_exam,
    lab_session_stop,
    lab_sessions_schedule,
    pool_refill,
    queue_position,
)
from labs.services.results import (
    JOURNAL_MAX_BYTES,
    JOURNAL_MAX_FILES,
    JOURNAL_MAX_TOTAL_BYTES,
    JournalsUnreadable,
    lab_session_journals_collect,
    lab_session_journals_store,
    lab_session_results_refresh,
    lab_session_results_request,
)
from labs.services.state import lab_instance, session_labels

__all__ = [
    "JOURNAL_MAX_BYTES",
    "JOURNAL_MAX_FILES",
    "JOURNAL_MAX_TOTAL_BYTES",
    "RUNNING_STATES",
    "CheckRequest",
    "JournalsUnreadable",
    "LabRateLimited",
    "LabSessionError",
    "Verdict",
    "container_specs",
    "lab_instance",
    "lab_results_trim",
    "lab_session_check",
    "lab_session_check_request",
    "lab_session_diagnose",
    "lab_session_end",
    "lab_session_extend",
    "lab_session_grade_all",
    "lab_session_journals_collect",
    "lab_session_journals_store",
    "lab_session_provision",
    "lab_session_restore",
    "lab_session_restore_request",
    "lab_session_results_refresh",
    "lab_session_results_request",
    "lab_session_solve",
    "lab_session_start",
    "lab_session_start_for_exam",
    "lab_session_stop",
    "lab_sessions_reap",
    "lab_sessions_schedule",
    "lab_sessions_watch",
    "pool_refill",
    "problem_text",
    "queue_position",
    "sandbox_diagnose",
    "session_is_running",
    "session_labels",
    "session_may_act",
    "session_refusal",
]
