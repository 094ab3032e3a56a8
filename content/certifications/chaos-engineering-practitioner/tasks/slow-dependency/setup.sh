#!/usr/bin/env bash
# Runs as root in the toolbox before the learner arrives: wait until a quote goes all the way
# through the proxy to the dependency.
set -euo pipefail
for _ in $(seq 1 75); do
    if curl -fsS --max-time 1 http://proxy:8474/proxies/dependency >/dev/null 2>&1 \
        && curl -fsS --max-time 3 http://api:8080/api/quote >/dev/null 2>&1; then
        exit 0
    fi
    sleep 0.2
done
echo "the api, the proxy or the dependency did not come up" >&2
exit 1
