#!/usr/bin/env bash
set -euo pipefail
cat > ~/agent-down.json <<'JSON'
{
  "title": "With the reconciler down, web keeps serving but drift is not healed",
  "description": "Kill the agent, change web by hand, and look: nothing puts it back until the agent returns.",
  "tags": ["gitops", "reconciler", "kill", "drift"],
  "steady-state-hypothesis": {
    "title": "web meets its SLO",
    "probes": [
      {
        "type": "probe",
        "name": "web-meets-its-slo",
        "tolerance": 0,
        "provider": {"type": "process", "path": "slo",
                     "arguments": "http://web:8080/ --requests 10 --p95 300"}
      }
    ]
  },
  "method": [
    {
      "type": "probe",
      "name": "what-the-agent-applied",
      "provider": {"type": "http", "url": "http://reconciler:9100/status", "timeout": 5}
    },
    {
      "type": "action",
      "name": "kill-the-reconciler",
      "provider": {"type": "process", "path": "fault", "arguments": "kill reconciler"}
    },
    {
      "type": "action",
      "name": "change-web-by-hand",
      "provider": {
        "type": "http",
        "url": "http://web:8080/config",
        "method": "PUT",
        "headers": {"Content-Type": "application/json"},
        "arguments": {"message": "changed while the agent is down"},
        "timeout": 5
      },
      "pauses": {"after": 10}
    },
    {
      "type": "probe",
      "name": "web-config-10-s-later",
      "provider": {"type": "http", "url": "http://web:8080/config", "timeout": 5}
    }
  ],
  "rollbacks": [
    {
      "type": "action",
      "name": "restart-the-reconciler",
      "provider": {"type": "process", "path": "fault", "arguments": "restart reconciler"},
      "pauses": {"after": 5}
    }
  ]
}
JSON
cd ~ && chaos run --journal-path ~/agent-down-journal.json ~/agent-down.json
jq '.run[] | select(.activity.name == "web-config-10-s-later") | .output.body.message' ~/agent-down-journal.json
# The platform carried out both faults: the kill in the method, the restart in the rollbacks.
jq -e '[.run[], .rollbacks[] | select(.activity.provider.path == "fault") | .output.status]
       | length == 2 and all(. == 0)' ~/agent-down-journal.json
for _ in $(seq 60); do
    if curl -s --max-time 2 http://reconciler:9100/status | jq -e '.synced' >/dev/null; then
        curl -s http://reconciler:9100/events | jq -c '.[] | {time, kind, message}'
        exit 0
    fi
    sleep 0.5
done
echo "the reconciler did not come back in sync" >&2
exit 1
