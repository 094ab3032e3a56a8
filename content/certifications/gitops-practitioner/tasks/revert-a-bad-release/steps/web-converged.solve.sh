#!/usr/bin/env bash
# Once the revert is on main, the reconciler applies it: wait for that, then measure.
set -euo pipefail
head="$(git -C ~/platform rev-parse HEAD)"
for _ in $(seq 80); do
    curl -s --max-time 2 http://reconciler:9100/status \
        | jq -e --arg head "$head" '.revision == $head and .synced' >/dev/null && break
    sleep 0.5
done
slo http://web:8080/ --requests 20 --p95 300
