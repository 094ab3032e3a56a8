#!/usr/bin/env bash
# Passes when the learner saved a measurement of the quotes' SLO (slo --json) that met it.
file=/home/learner/slo-baseline.json
if [ ! -e "$file" ]; then
    echo "FAIL: no-baseline"
    exit 1
fi
# Root has no capabilities here: a file the learner made private cannot be read.
if ! data=$(cat "$file" 2>/dev/null); then
    echo "FAIL: unreadable"
    exit 1
fi
if ! jq -e '(.url | startswith("http://api:8080/api/quote")) and .requests >= 20
            and .objective.success_percent >= 99' <<<"$data" >/dev/null 2>&1; then
    echo "FAIL: not-the-slo"
    exit 1
fi
if ! jq -e '.met == true and .success_percent >= .objective.success_percent' \
        <<<"$data" >/dev/null 2>&1; then
    echo "FAIL: not-met"
    exit 1
fi
jq -r '"baseline met: \(.ok)/\(.requests) answered, p95 \(.p95_ms) ms"' <<<"$data"
