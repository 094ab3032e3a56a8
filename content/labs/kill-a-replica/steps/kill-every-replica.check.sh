#!/usr/bin/env bash
# Passes when an experiment killed all three replicas and deviated (the journal says
# "deviated": true; its status stays "completed", since the experiment itself ran to the end),
# and its rollbacks brought all of them back (HAProxy sees them up again).
journal=/home/learner/kill-all-journal.json
q() { jq -e -L /usr/local/lib/academy "include \"journal\"; $1" "$journal" >/dev/null 2>&1; }
[ -s "$journal" ] || { echo "FAIL: no-journal"; exit 1; }
q '(method_faults | targets("kill")) == ["api-1", "api-2", "api-3"]' \
    || { echo "FAIL: not-all-killed"; exit 1; }
q '.deviated == true and .steady_states.before.steady_state_met
   and (.steady_states.after.steady_state_met | not)' || { echo "FAIL: not-deviated"; exit 1; }
q '(rollback_faults | targets("restart")) == ["api-1", "api-2", "api-3"]' \
    || { echo "FAIL: no-rollback"; exit 1; }
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the replicas behind the load balancer.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness lb=api-1,api-2,api-3 || exit 1
# The rollbacks have just run: HAProxy needs two good health checks per replica.
for _ in $(seq 1 40); do
    up="$(curl -fsS --max-time 1 http://lb:9000/servers 2>/dev/null \
        | jq '[.servers[] | select(.backend == "api" and .status == "UP")] | length' || echo 0)"
    [ "$up" = 3 ] && { echo "every replica died, the hypothesis deviated, all are back"; exit 0; }
    sleep 0.5
done
echo "FAIL: replicas-down"
exit 1
