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
# The api's own request log must hold the measured requests: figures typed by hand are not a
# measurement.
python3 -I - "$data" <<'PY' || exit 1
import json
import sys
import urllib.parse

from evidence import request_log

figures = json.loads(sys.argv[1])
path = urllib.parse.urlsplit(str(figures["url"])).path or "/"
log = request_log("api", path)
if log is not None:
    gets = [e for e in log["requests"] if e.get("method") == "GET"]
    answered = [e for e in gets if 200 <= e.get("status", 0) < 300]
    ok = figures.get("ok")
    ok = ok if isinstance(ok, int | float) and not isinstance(ok, bool) else 0
    if len(gets) < figures["requests"] or len(answered) < ok:
        print("FAIL: no-measurement")
        sys.exit(1)
PY
jq -r '"baseline met: \(.ok)/\(.requests) answered, p95 \(.p95_ms) ms"' <<<"$data"
