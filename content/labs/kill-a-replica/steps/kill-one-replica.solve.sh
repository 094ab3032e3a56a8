#!/usr/bin/env bash
set -euo pipefail
cat > ~/kill-one.json <<'JSON'
{
  "title": "Users still get quotes when one replica dies",
  "description": "Kill api-2 behind the load balancer and measure what users see.",
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
    {
      "type": "action",
      "name": "kill-api-2",
      "provider": {"type": "process", "path": "fault", "arguments": "kill api-2"},
      "pauses": {"after": 8}
    }
  ],
  "rollbacks": [
    {
      "type": "action",
      "name": "restart-api-2",
      "provider": {"type": "process", "path": "fault", "arguments": "restart api-2"}
    }
  ]
}
JSON
cd ~ && chaos run --journal-path kill-one-journal.json kill-one.json
