#!/usr/bin/env bash
set -euo pipefail
curl -s -X PUT http://web:8080/config -H 'Content-Type: application/json' \
     -d '{"message": "hotfix by hand", "delay_ms": 200}'
for _ in $(seq 60); do
    if curl -s --max-time 2 http://reconciler:9100/events \
            | jq -e 'any(.[]; .kind == "drift-corrected" and .app == "web")' >/dev/null; then
        curl -s http://reconciler:9100/events | jq '.[] | select(.kind == "drift-corrected")'
        curl -s http://web:8080/config
        exit 0
    fi
    sleep 0.5
done
echo "the reconciler never corrected the drift" >&2
exit 1
