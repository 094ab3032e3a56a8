#!/usr/bin/env bash
set -euo pipefail
curl -s http://proxy:8474/proxies | jq .
curl -s http://api:8080/config | jq .
slo http://api:8080/api/quote --requests 50 --success 99 --timeout 1 --json | tee ~/slo-baseline.json
