#!/usr/bin/env bash
# The experiment of the first part already restarts the replica in its rollbacks: wait until
# the load balancer sees it up again.
set -euo pipefail
for _ in $(seq 1 40); do
    up="$(curl -fsS --max-time 1 http://lb:9000/servers \
        | jq '[.servers[] | select(.status == "UP")] | length' || echo 0)"
    [ "$up" = 3 ] && exit 0
    sleep 0.5
done
exit 1
