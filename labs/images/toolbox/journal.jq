# Helpers for check scripts that read Chaos Toolkit journals: `jq -L /usr/local/lib/academy
# 'include "journal"; ...' journal.json`. They look at what *ran* (the journal's run and
# rollbacks), not only at what the experiment declared.

# Chaos Toolkit's substitution, as `chaos run` did it (chaostoolkit-lib's `substitute`): `$$`
# is `$`, `$name` and `${name}` take the value of the experiment's configuration, else of the
# first scope of its secrets that has it. Configuration `{"type": "env", "key", "default"}`
# counts as its default: the journal does not record the shell's environment (a name with no
# default, or from Vault or a dynamic probe, stays as written). One pass; values are cut at 256
# characters so that a hostile journal cannot blow up. What it returns may hold a secret: match
# on it, never print it.
def ctk_variables:
  (.experiment // {}) as $e
  | ($e.configuration // {} | if type == "object" then . else {} end) as $c
  | [$c | to_entries[]
     | select(.value | type != "object" or (has("type") | not)
              or (.type == "env" and has("default")) or (.type | IN("env", "probe", "vault") | not))
     | .value |= (if type == "object" and .type == "env" then .default else . end)]
    | from_entries as $config
  | [$e.secrets // {} | if type == "object" then .[] else empty end
     | select(type == "object" and (has("type") | not))]
  | reduce .[] as $scope ({};
      ([$scope | to_entries[]
        | select(.value | type != "object" or ((.type // "") | IN("env", "vault") | not))]
       | from_entries) + .)
  | with_entries(select(.key as $k | $c | has($k) | not))
  | . + $config
  | map_values(tostring | .[0:256]);

def ctk_substitute($v):
  if type == "string" then
    gsub("\\$(?<x>\\$|[_A-Za-z][_A-Za-z0-9]*|\\{[_A-Za-z][_A-Za-z0-9]*\\})";
         if .x == "$" then "$"
         else (.x | ltrimstr("{") | rtrimstr("}")) as $n
              | if $v | has($n) then $v[$n] else "$" + .x end
         end)
  elif type == "object" then map_values(ctk_substitute($v))
  elif type == "array" then map(ctk_substitute($v))
  else . end;

# An activity with what Chaos Toolkit substitutes in its provider substituted.
def ctk_activity($v):
  if (.provider | type) == "object" then
    .provider |= (if has("url") then .url |= ctk_substitute($v) else . end
                  | if has("arguments") then .arguments |= ctk_substitute($v) else . end)
  else . end;

# The learner's `fault ACTION NAME` (process provider) or POST to the faults sidecar (HTTP
# provider), as {action, target}, for each of these run entries that succeeded.
def fault_calls($v):
  map(
    select(.status == "succeeded" and .activity.type == "action")
    | .activity |= ctk_activity($v)
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
def fault_calls: fault_calls({});

def method_faults: ctk_variables as $v | (.run // []) | fault_calls($v);
def rollback_faults: ctk_variables as $v | (.rollbacks // []) | fault_calls($v);

# Targets of the faults of one kind, sorted and unique.
def targets(action): map(select(.action == action) | .target) | unique;

# Probes of the steady-state hypothesis, as declared, with placeholders substituted.
def hypothesis_probes:
  ctk_variables as $v | (.experiment["steady-state-hypothesis"].probes // []) | map(ctk_activity($v));

# A probe's command line (process provider) or URL (HTTP provider), as one string.
def probe_call:
  .provider
  | if .type == "process" then
      "\(.path) \((.arguments // "") | if type == "array" then join(" ") else tostring end)"
    else (.url // "") end;

# The longest pause (s) after or before any activity of the method.
def longest_pause:
  [.experiment.method[]? | .pauses? // {} | .before // 0, .after // 0] | max // 0;
