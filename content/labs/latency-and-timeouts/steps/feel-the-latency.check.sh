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
jq -r '"the api waited \(.ms) ms before it gave up; the toxic is gone"' <<<"$data"
