#!/usr/bin/env bash
set -euo pipefail
cat > ~/memory.json <<'JSON'
{
  "title": "The api keeps its latency objective under memory pressure",
  "description": "Another process takes 60% of the api's memory limit and holds it.",
  "steady-state-hypothesis": {
    "title": "95% of requests are answered within 50 ms",
    "probes": [
      {
        "type": "probe",
        "name": "latency-meets-the-slo",
        "tolerance": 0,
        "provider": {"type": "process", "path": "slo",
                     "arguments": "http://api:8080/ --requests 50 --interval 0.02 --p95 50"}
      }
    ]
  },
  "method": [
    {
      "type": "action",
      "name": "hold-60-percent-of-the-api-memory",
      "provider": {"type": "process", "path": "fault", "arguments": "stress api 60 memory"},
      "pauses": {"after": 3}
    },
    {
      "type": "probe",
      "name": "latency-under-pressure",
      "provider": {"type": "process", "path": "slo",
                   "arguments": "http://api:8080/ --requests 50 --interval 0.02 --p95 50"}
    }
  ],
  "rollbacks": [
    {
      "type": "action",
      "name": "end-the-stress",
      "provider": {"type": "process", "path": "fault", "arguments": "unstress api"}
    }
  ]
}
JSON
cd ~ && chaos run --journal-path memory-journal.json memory.json
