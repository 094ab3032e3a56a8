#!/usr/bin/env bash
set -euo pipefail
cat > ~/kill-web.json <<'JSON'
{
  "title": "The reconciler brings web back within 15 s after it is killed",
  "description": "web is declared running in git. When its container dies, the reconciler asks the platform to restart it.",
  "tags": ["gitops", "web", "kill"],
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
      "type": "action",
      "name": "kill-web",
      "provider": {
        "type": "http",
        "url": "http://faults:7000/v1/faults",
        "method": "POST",
        "headers": {"Content-Type": "application/json"},
        "arguments": {"action": "kill", "target": "web"},
        "timeout": 30
      },
      "pauses": {"after": 15}
    }
  ]
}
JSON
cd ~ && chaos run --journal-path ~/kill-web-journal.json ~/kill-web.json
jq '{status, deviated, kill: (.run[] | select(.activity.name == "kill-web") | {start, status, answer: .output.status})}' ~/kill-web-journal.json
curl -s http://reconciler:9100/events | jq -c '.[] | select(.app == "web") | {time, kind}'
