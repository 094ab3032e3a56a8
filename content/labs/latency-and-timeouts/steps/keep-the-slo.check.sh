#!/usr/bin/env bash
# Passes when the api protects itself within the objective (a timeout under 1 s, retries with
# backoff, a worst case under 1 s) and the same experiment as the previous step, same toxic,
# held: the journal shows the hypothesis met after the fault, and the rollback ran.
if ! config=$(curl -fsS --max-time 5 http://api:8080/config 2>/dev/null); then
    echo "FAIL: api-down"
    exit 1
fi
setting() { jq -e "$1" <<<"$config" >/dev/null 2>&1; }
if ! setting '.dependency_timeout_ms < 1000'; then
    echo "FAIL: no-timeout"
    exit 1
fi
if ! setting '.retries >= 1'; then
    echo "FAIL: no-retries"
    exit 1
fi
if ! setting '.retry_backoff_ms >= 1'; then
    echo "FAIL: no-backoff"
    exit 1
fi
# Every attempt times out: (retries + 1) timeouts and the backoffs b, 2b, 4b, ... between them.
if ! setting '.dependency_timeout_ms * (.retries + 1)
              + .retry_backoff_ms * (pow(2; .retries) - 1) < 1000'; then
    echo "FAIL: over-budget"
    exit 1
fi

# The latency toxics a journal's method added through chaostoxi and that succeeded.
toxics='[.run[]?
         | select(.status == "succeeded" and .output == true
                  and .activity.provider.module == "chaostoxi.toxic.actions"
                  and .activity.provider.func == "create_toxic")
         | .activity.provider.arguments
         | select(.for_proxy == "dependency" and .toxic_type == "latency"
                  and (.toxicity | type) == "number" and .toxicity > 0 and .toxicity < 1
                  and (.attributes.latency | type) == "number" and .attributes.latency > 1000)
         | {toxicity, latency: .attributes.latency}]'
first=/home/learner/journal-no-timeout.json
if ! before=$(jq -c "$toxics" "$first" 2>/dev/null) || [ "$before" = "[]" ]; then
    echo "FAIL: no-first-journal"
    exit 1
fi
journal=/home/learner/journal-with-timeout.json
if [ ! -e "$journal" ]; then
    echo "FAIL: no-journal"
    exit 1
fi
if ! data=$(cat "$journal" 2>/dev/null) || ! jq -e 'type == "object"' <<<"$data" >/dev/null 2>&1
then
    echo "FAIL: unreadable"
    exit 1
fi
passes() { jq -e "$1" <<<"$data" >/dev/null 2>&1; }
if ! passes "($toxics) as \$now | $before | any(IN(\$now[]))"; then
    echo "FAIL: not-same-toxic"
    exit 1
fi
if ! passes '.status == "completed" and .deviated == false
             and .steady_states.before.steady_state_met == true
             and .steady_states.after.steady_state_met == true'; then
    echo "FAIL: not-held"
    exit 1
fi
if ! passes '[.rollbacks[]?
              | select(.status == "succeeded" and .output == true
                       and .activity.provider.module == "chaostoxi.toxic.actions"
                       and .activity.provider.func == "delete_toxic")]
             | length > 0'; then
    echo "FAIL: no-rollback"
    exit 1
fi
# What the journal claims, held against what the platform itself saw (evidence.py): its toxics
# against the proxy's own event log, its probes against the api's request log.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --toxic-key toxic-not-seen \
    --traffic-key traffic-not-seen --witness api || exit 1
if ! proxy=$(curl -fsS --max-time 5 http://proxy:8474/proxies/dependency 2>/dev/null) \
        || ! jq -e '.enabled == true' <<<"$proxy" >/dev/null 2>&1; then
    echo "FAIL: proxy-down"
    exit 1
fi
if ! jq -e '.toxics == []' <<<"$proxy" >/dev/null 2>&1; then
    echo "FAIL: toxic-left"
    exit 1
fi
jq -r '"held under the same toxic: " + (.steady_states.after.probes[0].output.stdout // "" | rtrimstr("\n"))' \
    <<<"$data"
