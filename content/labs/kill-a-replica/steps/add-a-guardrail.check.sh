#!/usr/bin/env bash
# Passes when HAProxy runs with retries that go to another replica, and an experiment that
# measures right after killing a replica (no waiting for health checks) held.
config="$(curl -fsS --max-time 3 http://lb:9000/config)" || { echo "FAIL: no-retries"; exit 1; }
active="$(sed -e 's/#.*//' <<<"$config")"
if ! grep -Eq '^\s*option\s+redispatch\b' <<<"$active" \
        || ! grep -Eq '^\s*retries\s+[1-9]' <<<"$active"; then
    echo "FAIL: no-retries"
    exit 1
fi
journal=/home/learner/guardrail-journal.json
q() { jq -e -L /usr/local/lib/academy "include \"journal\"; $1" "$journal" >/dev/null 2>&1; }
[ -s "$journal" ] || { echo "FAIL: no-journal"; exit 1; }
q '(method_faults | targets("kill")) as $k | ($k | length) >= 1
   and all($k[]; test("^api-[123]$"))' || { echo "FAIL: no-kill"; exit 1; }
q 'longest_pause <= 1' || { echo "FAIL: waited"; exit 1; }
q '.status == "completed" and .steady_states.before.steady_state_met
   and .steady_states.after.steady_state_met' || {
    # A replica an earlier run left dead (not this experiment) is then what broke the hypothesis.
    python3 -I -m evidence down-before "$journal" --targets api-1,api-2,api-3 --key already-down \
        || exit 1
    echo "FAIL: not-completed"
    exit 1
}
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the replicas behind the load balancer.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness lb=api-1,api-2,api-3 || exit 1
echo "with retries and redispatch, users saw no error even right after a replica died"
