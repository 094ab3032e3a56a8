#!/usr/bin/env bash
# Passes when the learner saved a healthy answer of the api's health endpoint.
file=/home/learner/health.json
if [ ! -s "$file" ]; then
    echo "FAIL: no-health-file"
    exit 1
fi
if ! jq -e '.status == "ok" and .role == "service"' "$file" >/dev/null 2>&1; then
    echo "FAIL: not-healthy"
    exit 1
fi
echo "health.json holds a healthy answer"
