#!/usr/bin/env bash
# The task's solution (the exam's self-test runs it; candidates never see it).
set -euo pipefail
git clone --quiet git://git/platform.git ~/platform
cd ~/platform
git log --oneline --stat
dropped="$(git log --format=%H -n 1 -- apps/web.yaml)"
git revert --no-edit "$dropped"
git push --quiet origin main
head="$(git rev-parse HEAD)"
for _ in $(seq 80); do
    curl -s --max-time 2 http://reconciler:9100/status \
        | jq -e --arg head "$head" '.revision == $head and .synced' >/dev/null && exit 0
    sleep 0.5
done
exit 1
