#!/usr/bin/env bash
# Runs as root in the toolbox before the learner arrives: wait until HAProxy sees all three
# replicas up, so that the first measurement is the real steady state.
set -euo pipefail
for _ in $(seq 1 100); do
    up="$(curl -fsS --max-time 1 http://lb:9000/servers 2>/dev/null \
        | jq '[.servers[] | select(.backend == "api" and .status == "UP")] | length' || echo 0)"
    [ "$up" = 3 ] && exit 0
    sleep 0.2
done
echo "the load balancer does not see three healthy replicas" >&2
exit 1
