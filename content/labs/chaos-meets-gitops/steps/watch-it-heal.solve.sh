#!/usr/bin/env bash
set -euo pipefail
curl -s http://reconciler:9100/status | jq '{revision, synced}'
fault kill web
for _ in $(seq 90); do
    if curl -s --max-time 2 http://reconciler:9100/status \
            | jq -e '.synced and .apps.web.last_restored != null' >/dev/null; then
        curl -s http://reconciler:9100/events \
            | jq -c '.[] | select(.app == "web") | {time, kind, message}'
        exit 0
    fi
    sleep 0.5
done
echo "the reconciler did not restore web" >&2
exit 1
