#!/usr/bin/env bash
set -euo pipefail
cat > ~/kill-all.json <<'JSON'
{
  "title": "Users still get quotes when every replica dies",
  "description": "A hypothesis we expect to fail: no replica, no answer.",
  "steady-state-hypothesis": {
    "title": "30 requests in a row through the load balancer all succeed",
    "probes": [
      {
        "type": "probe",
        "name": "quotes-meet-the-slo",
        "tolerance": 0,
        "provider": {"type": "process", "path": "slo", "arguments": "http://lb:8080/ --requests 30"}
      }
    ]
  },
  "method": [
    {"type": "action", "name": "kill-api-1",
     "provider": {"type": "process", "path": "fault", "arguments": "kill api-1"}},
    {"type": "action", "name": "kill-api-2",
     "provider": {"type": "process", "path": "fault", "arguments": "kill api-2"}},
    {"type": "action", "name": "kill-api-3",
     "provider": {"type": "process", "path": "fault", "arguments": "kill api-3"},
     "pauses": {"after": 5}}
  ],
  "rollbacks": [
    {"type": "action", "name": "restart-api-1",
     "provider": {"type": "process", "path": "fault", "arguments": "restart api-1"}},
    {"type": "action", "name": "restart-api-2",
     "provider": {"type": "process", "path": "fault", "arguments": "restart api-2"}},
    {"type": "action", "name": "restart-api-3",
     "provider": {"type": "process", "path": "fault", "arguments": "restart api-3"}}
  ]
}
JSON
cd ~ && chaos run --journal-path kill-all-journal.json kill-all.json || true
