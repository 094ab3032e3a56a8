#!/usr/bin/env bash
# Runs as root in the toolbox before the learner arrives: wait until the service answers.
set -euo pipefail
for _ in $(seq 1 50); do
    curl -fsS --max-time 1 http://api:8080/health >/dev/null && exit 0
    sleep 0.2
done
echo "the api service did not come up" >&2
exit 1
