#!/usr/bin/env bash
set -euo pipefail
cat > ~/experiment.json <<'JSON'
{
  "title": "Quotes keep their SLO when the dependency is sometimes slow",
  "description": "30 % of the connections to the dependency get 3 s of latency.",
  "configuration": {"toxiproxy_host": "proxy"},
  "steady-state-hypothesis": {
    "title": "99 % of quotes are answered within 1 s",
    "probes": [
      {
        "type": "probe",
        "name": "quotes-meet-the-slo",
        "tolerance": 0,
        "provider": {
          "type": "process",
          "path": "slo",
          "arguments": "http://api:8080/api/quote --requests 50 --success 99 --timeout 1"
        }
      }
    ]
  },
  "method": [
    {
      "type": "action",
      "name": "slow-down-some-dependency-connections",
      "provider": {
        "type": "python",
        "module": "chaostoxi.toxic.actions",
        "func": "create_toxic",
        "arguments": {
          "for_proxy": "dependency",
          "toxic_name": "slow-dependency",
          "toxic_type": "latency",
          "stream": "downstream",
          "toxicity": 0.3,
          "attributes": {"latency": 3000, "jitter": 0}
        }
      }
    }
  ],
  "rollbacks": [
    {
      "type": "action",
      "name": "remove-the-latency",
      "provider": {
        "type": "python",
        "module": "chaostoxi.toxic.actions",
        "func": "delete_toxic",
        "arguments": {"for_proxy": "dependency", "toxic_name": "slow-dependency"}
      }
    }
  ]
}
JSON
cd ~
# The hypothesis is expected to deviate: chaos exits 1 then. The check reads the journal.
chaos run --rollback-strategy=always --journal-path ~/journal-no-timeout.json experiment.json || true
jq -e '.deviated == true' ~/journal-no-timeout.json >/dev/null
