#!/usr/bin/env bash
set -euo pipefail
cd ~
curl -fsS http://lb:9000/config > haproxy.cfg
sed -i \
    -e 's/^\(\s*\)balance roundrobin$/&\n\1retries 2\n\1option redispatch 1\n\1retry-on conn-failure empty-response response-timeout/' \
    -e 's/default-server inter 1s fall 3 rise 2/default-server inter 500ms fall 2 rise 2/' \
    haproxy.cfg
curl -fsS -X PUT --data-binary @haproxy.cfg http://lb:9000/config
cat > ~/kill-one-now.json <<'JSON'
{
  "title": "Users get quotes even in the first second of a replica's death",
  "description": "Kill api-2 and measure at once, before any health check notices.",
  "steady-state-hypothesis": {
    "title": "30 requests in a row through the load balancer all succeed",
    "probes": [
      {
        "type": "probe",
        "name": "quotes-meet-the-slo",
        "tolerance": 0,
        "provider": {"type": "process", "path": "slo", "arguments": "http://lb:8080/ --requests 30"}
      }
    ]
  },
  "method": [
    {
      "type": "action",
      "name": "kill-api-2",
      "provider": {"type": "process", "path": "fault", "arguments": "kill api-2"}
    }
  ],
  "rollbacks": [
    {
      "type": "action",
      "name": "restart-api-2",
      "provider": {"type": "process", "path": "fault", "arguments": "restart api-2"}
    }
  ]
}
JSON
chaos run --journal-path guardrail-journal.json kill-one-now.json
