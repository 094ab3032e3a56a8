#!/usr/bin/env bash
set -euo pipefail
cat > ~/cpu.json <<'JSON'
{
  "title": "The api keeps its latency objective under CPU pressure",
  "description": "Stress the api's CPU; a safeguard stops the experiment as soon as the SLO breaks.",
  "controls": [
    {
      "name": "slo-safeguard",
      "provider": {
        "type": "python",
        "module": "chaosaddons.controls.safeguards",
        "arguments": {
          "probes": [
            {
              "name": "abort-when-the-slo-breaks",
              "type": "probe",
              "frequency": 1,
              "tolerance": 0,
              "provider": {"type": "process", "path": "slo",
                           "arguments": "http://api:8080/ --requests 20 --interval 0.02 --p95 50"}
            }
          ]
        }
      }
    }
  ],
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
      "name": "stress-the-api-cpu",
      "provider": {"type": "process", "path": "fault", "arguments": "stress api 60 cpu"},
      "pauses": {"after": 5}
    },
    {
      "type": "probe",
      "name": "latency-under-pressure",
      "provider": {"type": "process", "path": "slo",
                   "arguments": "http://api:8080/ --requests 50 --interval 0.02 --p95 50"},
      "pauses": {"after": 5}
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
cd ~ && chaos run --rollback-strategy always --journal-path cpu-journal.json cpu.json || true
