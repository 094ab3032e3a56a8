#!/usr/bin/env bash
# Passes when an experiment killed exactly one replica, measured the load balancer before and
# after, held (status completed) and restarted the replica in its rollbacks.
journal=/home/learner/kill-one-journal.json
q() { jq -e -L /usr/local/lib/academy "include \"journal\"; $1" "$journal" >/dev/null 2>&1; }
[ -s "$journal" ] || { echo "FAIL: no-journal"; exit 1; }
q '[hypothesis_probes[] | probe_call | select(test("http://lb:8080"))] | length > 0' \
    || { echo "FAIL: no-slo-probe"; exit 1; }
q '(method_faults | targets("kill")) as $k | ($k | length) == 1 and ($k[0] | test("^api-[123]$"))' \
    || { echo "FAIL: no-kill"; exit 1; }
q '.status == "completed" and .steady_states.before.steady_state_met
   and .steady_states.after.steady_state_met' || {
    # A replica an earlier run left dead (not this experiment) is then what broke the hypothesis.
    python3 -I -m evidence down-before "$journal" --targets api-1,api-2,api-3 --key already-down \
        || exit 1
    echo "FAIL: not-completed"
    exit 1
}
q '(method_faults | targets("kill")) as $k | (rollback_faults | targets("restart")) as $r
   | ($k - $r) == []' || { echo "FAIL: no-rollback"; exit 1; }
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the replicas behind the load balancer.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness lb=api-1,api-2,api-3 || exit 1
echo "one replica died, the load balancer routed around it and the hypothesis held"
