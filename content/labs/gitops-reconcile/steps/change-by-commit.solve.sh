#!/usr/bin/env bash
set -euo pipefail
cd ~/platform
sed -i 's/^  version: .*/  version: v2/; s/^  message: .*/  message: Shipped by a commit/' apps/web.yaml
git diff
git commit -am "web: ship v2"
git push
for _ in $(seq 60); do
    if curl -s --max-time 2 http://web:8080/ | jq -e '.version == "v2"' >/dev/null; then
        curl -s http://reconciler:9100/events | jq '.[-1]'
        exit 0
    fi
    sleep 0.5
done
echo "web never answered with v2" >&2
exit 1
