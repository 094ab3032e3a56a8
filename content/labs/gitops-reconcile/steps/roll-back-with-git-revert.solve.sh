#!/usr/bin/env bash
set -euo pipefail
cd ~/platform
git pull --quiet

wait_until_applied() {  # the reconciler runs HEAD and web matches it
    local head
    head="$(git rev-parse HEAD)"
    for _ in $(seq 80); do
        curl -s --max-time 2 http://reconciler:9100/status \
            | jq -e --arg head "$head" '.revision == $head and .synced' >/dev/null && return 0
        sleep 0.5
    done
    echo "the reconciler did not apply $head" >&2
    return 1
}

slo http://web:8080/ --requests 10 --p95 300
sed -i 's/^  delay_ms: .*/  delay_ms: 800/' apps/web.yaml
git commit -am "web: add a warm-up delay"
git push
wait_until_applied
if slo http://web:8080/ --requests 5 --p95 300; then
    echo "the slow change should break the SLO" >&2
    exit 1
fi
git revert --no-edit HEAD
git push
wait_until_applied
slo http://web:8080/ --requests 10 --p95 300
