#!/usr/bin/env bash
# Declaring web again is all it takes: the reconciler applies its config. Wait to see it.
set -euo pipefail
for _ in $(seq 40); do
    curl -s --max-time 2 http://web:8080/config | jq -e '.delay_ms == 0' >/dev/null && exit 0
    sleep 0.5
done
exit 1
