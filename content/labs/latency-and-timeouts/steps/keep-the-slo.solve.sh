#!/usr/bin/env bash
set -euo pipefail
curl -fsS -X PUT http://api:8080/config -H 'Content-Type: application/json' \
  -d '{"dependency_timeout_ms": 150, "retries": 2, "retry_backoff_ms": 50,
       "fallback_quote": "Hope is not a strategy, but a fallback is."}'
cd ~
chaos run --rollback-strategy=always --journal-path ~/journal-with-timeout.json experiment.json
