#!/usr/bin/env bash
# Passes when the learner saved an answer that waited for the api's whole timeout (the latency
# toxic was on), and rolled the fault back: the proxy is enabled and has no toxic left.
file=/home/learner/slow-quote.json
if [ ! -e "$file" ]; then
    echo "FAIL: no-slow-quote"
    exit 1
fi
if ! data=$(cat "$file" 2>/dev/null); then
    echo "FAIL: unreadable"
    exit 1
fi
# The api's answer when its dependency timed out: 503, {"error": ..., "ms": ~2000}.
if ! jq -e '.error == "dependency unavailable" and (.ms | type) == "number" and .ms >= 1900' \
        <<<"$data" >/dev/null 2>&1; then
    echo "FAIL: not-slow"
    exit 1
fi
if ! proxy=$(curl -fsS --max-time 5 http://proxy:8474/proxies/dependency 2>/dev/null) \
        || ! jq -e '.enabled == true' <<<"$proxy" >/dev/null 2>&1; then
    echo "FAIL: proxy-down"
    exit 1
fi
if ! jq -e '.toxics == []' <<<"$proxy" >/dev/null 2>&1; then
    echo "FAIL: toxic-left"
    exit 1
fi
# The api's own request log must hold that slow answer: a 503 after waiting out its timeout.
python3 -I - <<'PY' || exit 1
from evidence import request_log

logs = [log for log in (request_log("api", "/api/quote"), request_log("api", "/")) if log]
slow = [
    entry
    for log in logs
    for entry in log["requests"]
    if entry.get("status") == 503 and entry.get("ms", 0) >= 1900
]
if logs and not slow:
    print("FAIL: no-slow-request")
    raise SystemExit(1)
PY
jq -r '"the api waited \(.ms) ms before it gave up; the toxic is gone"' <<<"$data"
