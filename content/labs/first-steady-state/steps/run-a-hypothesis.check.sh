#!/usr/bin/env bash
# Passes when the learner's own experiment ran, with an HTTP probe on the api, and held.
journal=/home/learner/journal.json
if [ ! -s "$journal" ]; then
    echo "FAIL: no-journal"
    exit 1
fi
# Probes as chaos run ran them: a URL given as ${name} from the configuration counts too.
if ! jq -e -L /usr/local/lib/academy 'include "journal";
        [hypothesis_probes[] | select(has("tolerance") and .provider.type == "http")
         | probe_call | select(startswith("http://api:8080"))] | length > 0' \
        "$journal" >/dev/null 2>&1; then
    echo "FAIL: no-http-probe"
    exit 1
fi
if ! jq -e '.status == "completed" and .steady_states.before.steady_state_met == true' \
        "$journal" >/dev/null 2>&1; then
    echo "FAIL: not-met"
    exit 1
fi
# What the journal claims, held against what the platform itself saw (evidence.py): its faults
# against the faults sidecar's record, its probes against the request logs of the api.
python3 -I -m evidence journal "$journal" --fault-key fault-not-seen --traffic-key traffic-not-seen \
    --witness api || exit 1
echo "the experiment ran and its steady state was met"
