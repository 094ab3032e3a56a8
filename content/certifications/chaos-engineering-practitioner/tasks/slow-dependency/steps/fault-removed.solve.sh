#!/usr/bin/env bash
# The run of the first part removes its toxic in its rollbacks (--rollback-strategy=always):
# nothing more to do than to see the proxy clean.
set -euo pipefail
curl -fsS --max-time 5 http://proxy:8474/proxies/dependency | jq -e '.toxics == []' >/dev/null
