#!/usr/bin/env bash
# Passes when an experiment held the api's memory under stress, its latency hypothesis held
# before and after, and a rollback ended the stress.
journal=/home/learner/memory-journal.json
q() { jq -e -L /usr/local/lib/academy "include \"journal\"; $1" "$journal" >/dev/null 2>&1; }
[ -s "$journal" ] || { echo "FAIL: no-journal"; exit 1; }
q '[hypothesis_probes[] | probe_call | select(test("http://api:8080") and test("--p95"))]
   | length > 0' || { echo "FAIL: no-slo-probe"; exit 1; }
q '[.run[] | select(.status == "succeeded" and .activity.type == "action"
    and (.output.stdout // "" | test("stressing api.s memory")))] | length > 0' \
    || { echo "FAIL: no-memory-stress"; exit 1; }
q '.status == "completed" and .steady_states.before.steady_state_met
   and .steady_states.after.steady_state_met' || { echo "FAIL: not-completed"; exit 1; }
q 'rollback_faults | targets("unstress") == ["api"]' || { echo "FAIL: no-rollback"; exit 1; }
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the api.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness api || exit 1
echo "the api kept its latency objective while 60% of its memory was taken"
