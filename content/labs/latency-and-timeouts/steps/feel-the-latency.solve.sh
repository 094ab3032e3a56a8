#!/usr/bin/env bash
set -euo pipefail
curl -fsS -X POST http://proxy:8474/proxies/dependency/toxics \
  -H 'Content-Type: application/json' \
  -d '{"name": "slow-dependency", "type": "latency", "stream": "downstream",
       "toxicity": 1.0, "attributes": {"latency": 3000}}'
time curl -s http://api:8080/api/quote | tee ~/slow-quote.json
curl -fsS -X DELETE http://proxy:8474/proxies/dependency/toxics/slow-dependency -w '%{http_code}\n'
curl -fsS http://proxy:8474/proxies/dependency/toxics
