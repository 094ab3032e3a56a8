#!/usr/bin/env bash
# The task's solution (the exam's self-test runs it; candidates never see it).
set -euo pipefail
cat > ~/latency.json <<'JSON'
{
  "title": "Quotes keep their SLO when the dependency is slow",
  "description": "Half of the connections to the dependency get 3 s of latency.",
  "configuration": {"toxiproxy_host": "proxy"},
  "steady-state-hypothesis": {
    "title": "99 % of quotes are answered within 1 s",
    "probes": [
      {"type": "probe", "name": "quotes-meet-the-slo", "tolerance": 0,
       "provider": {"type": "process", "path": "slo",
                    "arguments": "http://api:8080/api/quote --requests 30 --success 99 --timeout 1"}}
    ]
  },
  "method": [
    {"type": "action", "name": "slow-down-the-dependency",
     "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "create_toxic",
                  "arguments": {"for_proxy": "dependency", "toxic_name": "slow-dependency",
                                "toxic_type": "latency", "stream": "downstream", "toxicity": 0.5,
                                "attributes": {"latency": 3000, "jitter": 0}}}}
  ],
  "rollbacks": [
    {"type": "action", "name": "remove-the-latency",
     "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "delete_toxic",
                  "arguments": {"for_proxy": "dependency", "toxic_name": "slow-dependency"}}}
  ]
}
JSON
cd ~
# The hypothesis deviates (chaos exits 1 then); the rollbacks must run all the same.
chaos run --rollback-strategy=always --journal-path ~/latency-journal.json latency.json || true
jq -e '.deviated == true' ~/latency-journal.json >/dev/null
