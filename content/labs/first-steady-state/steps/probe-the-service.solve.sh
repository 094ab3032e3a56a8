#!/usr/bin/env bash
set -euo pipefail
curl -s http://api:8080/health | tee ~/health.json
