#!/usr/bin/env bash
# Passes when a safeguards control stopped a CPU stress experiment (status "interrupted"), the
# rollbacks still ran and ended the stress, and the api meets its objective again.
journal=/home/learner/cpu-journal.json
q() { jq -e -L /usr/local/lib/academy "include \"journal\"; $1" "$journal" >/dev/null 2>&1; }
[ -s "$journal" ] || { echo "FAIL: no-journal"; exit 1; }
q 'ctk_variables as $v
   | [(.experiment.controls // [])[] | select(.provider.module == "chaosaddons.controls.safeguards")
      | .provider.arguments.probes[]? | select((.frequency // 0) > 0) | ctk_activity($v)
      | select(probe_call | test("http://api:8080"))] | length > 0' \
    || { echo "FAIL: no-safeguard"; exit 1; }
q '[.run[] | select(.status == "succeeded" and .activity.type == "action"
    and (.output.stdout // "" | test("stressing api.s CPU")))] | length > 0' \
    || { echo "FAIL: no-cpu-stress"; exit 1; }
# Interrupted, and early: the stress was set for 60 s.
q '.status == "interrupted" and .duration < 20' || { echo "FAIL: not-interrupted"; exit 1; }
q 'rollback_faults | targets("unstress") == ["api"]' || { echo "FAIL: no-rollback"; exit 1; }
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the api.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness api || exit 1
slo http://api:8080/ --requests 50 --interval 0.02 --p95 50 >/dev/null || { echo "FAIL: still-stressed"; exit 1; }
echo "the safeguard stopped the experiment when the SLO broke, and the rollbacks cleaned up"
