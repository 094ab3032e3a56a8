#!/usr/bin/env bash
set -euo pipefail
cat > ~/experiment.json <<'JSON'
{
  "title": "The api stays healthy",
  "description": "Baseline: the api answers its health check.",
  "steady-state-hypothesis": {
    "title": "The api answers 200 on /health",
    "probes": [
      {
        "type": "probe",
        "name": "api-health",
        "tolerance": 200,
        "provider": {"type": "http", "url": "http://api:8080/health", "timeout": 3}
      }
    ]
  },
  "method": [
    {
      "type": "probe",
      "name": "read-a-quote",
      "provider": {"type": "http", "url": "http://api:8080/api/quote", "timeout": 3}
    }
  ]
}
JSON
cd ~ && chaos run experiment.json
