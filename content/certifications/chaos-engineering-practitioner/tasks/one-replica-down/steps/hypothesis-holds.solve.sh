#!/usr/bin/env bash
# The task's solution (the exam's self-test runs it; candidates never see it).
set -euo pipefail
cat > ~/replica.json <<'JSON'
{
  "title": "Users still get quotes when one replica dies",
  "description": "Kill api-3 behind the load balancer and measure what users see.",
  "steady-state-hypothesis": {
    "title": "30 requests in a row through the load balancer all succeed",
    "probes": [
      {"type": "probe", "name": "users-get-quotes", "tolerance": 0,
       "provider": {"type": "process", "path": "slo", "arguments": "http://lb:8080/ --requests 30"}}
    ]
  },
  "method": [
    {"type": "action", "name": "kill-api-3",
     "provider": {"type": "process", "path": "fault", "arguments": "kill api-3"},
     "pauses": {"after": 8}}
  ],
  "rollbacks": [
    {"type": "action", "name": "restart-api-3",
     "provider": {"type": "process", "path": "fault", "arguments": "restart api-3"}}
  ]
}
JSON
cd ~ && chaos run --journal-path replica-journal.json replica.json
