# Helpers for check scripts that read Chaos Toolkit journals: `jq -L /usr/local/lib/academy
# 'include "journal"; ...' journal.json`. They look at what *ran* (the journal's run and
# rollbacks), not only at what the experiment declared.

# The learner's `fault ACTION NAME` (process provider) or POST to the faults sidecar (HTTP
# provider), as {action, target}, for each of these run entries that succeeded.
def fault_calls:
  map(
    select(.status == "succeeded" and .activity.type == "action")
    | . as $run
    | .activity.provider
    | if .type == "process" and ((.path // "") | tostring | test("(^|/)fault$")) then
        select(($run.output.status // 1) == 0)
        | (.arguments // "") | (if type == "array" then join(" ") else tostring end)
        | capture("^\\s*(?<action>[a-z]+)\\s+(?<target>[a-z0-9-]+)")
      elif .type == "http" and ((.url // "") | test("^http://faults:7000/v1/faults")) then
        select(($run.output.status // 0) == 200)
        | {action: .arguments.action, target: .arguments.target}
      else empty end
  );

def method_faults: (.run // []) | fault_calls;
def rollback_faults: (.rollbacks // []) | fault_calls;

# Targets of the faults of one kind, sorted and unique.
def targets(action): map(select(.action == action) | .target) | unique;

# Probes of the steady-state hypothesis, as declared.
def hypothesis_probes: .experiment["steady-state-hypothesis"].probes // [];

# A probe's command line (process provider) or URL (HTTP provider), as one string.
def probe_call:
  .provider
  | if .type == "process" then
      "\(.path) \((.arguments // "") | if type == "array" then join(" ") else tostring end)"
    else (.url // "") end;

# The longest pause (s) after or before any activity of the method.
def longest_pause:
  [.experiment.method[]? | .pauses? // {} | .before // 0, .after // 0] | max // 0;
