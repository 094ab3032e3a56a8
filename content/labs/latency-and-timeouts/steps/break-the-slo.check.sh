#!/usr/bin/env bash
# Passes when the learner's experiment ran as it should: the SLO probe held before the fault, a
# partial latency toxic was added through chaostoxi, the hypothesis deviated, and the rollback
# removed the toxic (the proxy is clean again). It reads what ran, not only what was declared.
journal=/home/learner/journal-no-timeout.json
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

# A probe of the hypothesis runs `slo` against the api, and passes on exit code 0.
if ! passes '[.experiment["steady-state-hypothesis"].probes[]?
              | select(.tolerance == 0 and .provider.type == "process"
                       and (.provider.path | tostring | test("(^|/)slo$"))
                       and ((.provider.arguments // "")
                            | if type == "array" then join(" ") else tostring end
                            | test("http://api:8080/")))]
             | length > 0'; then
    echo "FAIL: no-slo-probe"
    exit 1
fi
if ! passes '.steady_states.before.steady_state_met == true'; then
    echo "FAIL: before-not-met"
    exit 1
fi
# The toxic that ran: chaostoxi's create_toxic, succeeded (it returns true), partial and slow.
toxics='[.run[]?
         | select(.status == "succeeded" and .output == true
                  and .activity.type == "action" and .activity.provider.type == "python"
                  and .activity.provider.module == "chaostoxi.toxic.actions"
                  and .activity.provider.func == "create_toxic")
         | .activity.provider.arguments
         | select(.for_proxy == "dependency" and .toxic_type == "latency"
                  and (.toxicity | type) == "number" and .toxicity > 0 and .toxicity < 1
                  and (.attributes.latency | type) == "number" and .attributes.latency > 1000)]'
if ! passes "$toxics | length > 0"; then
    echo "FAIL: no-toxic-action"
    exit 1
fi
if ! passes '.deviated == true and .steady_states.after.steady_state_met == false'; then
    echo "FAIL: did-not-deviate"
    exit 1
fi
# A rollback that succeeded in deleting that same toxic.
if ! passes "($toxics | map({for_proxy, toxic_name})) as \$added
             | [.rollbacks[]?
                | select(.status == \"succeeded\" and .output == true
                         and .activity.provider.module == \"chaostoxi.toxic.actions\"
                         and .activity.provider.func == \"delete_toxic\")
                | .activity.provider.arguments | {for_proxy, toxic_name}
                | select(IN(\$added[]))]
             | length > 0"; then
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
jq -r '"deviated as expected: " + (.steady_states.after.probes[0].output.stdout // "" | rtrimstr("\n"))' \
    <<<"$data"
