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
# The api's own request log must hold a health check it answered for this shell beyond the
# one the lab's setup.sh waited for: a file typed by hand is not an answer.
python3 -I - <<'PY' || exit 1
from evidence import addresses, request_log, sent_by

log = request_log("api", "/health")
mine = addresses()
if log is not None:
    answered = [e for e in log["requests"] if e.get("status") == 200 and sent_by(e, mine)]
    if len(answered) < 2:
        print("FAIL: no-health-request")
        raise SystemExit(1)
PY
echo "health.json holds a healthy answer"
