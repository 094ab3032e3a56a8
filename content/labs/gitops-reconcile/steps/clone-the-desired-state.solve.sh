#!/usr/bin/env bash
set -euo pipefail
git clone git://git/platform.git ~/platform
cd ~/platform
git log --oneline
cat apps/web.yaml
curl -s http://reconciler:9100/status | tee ~/status.json | jq '{revision, synced}'
git rev-parse HEAD
