#!/usr/bin/env bash
# Passes when ~/platform is a clone of the lab's repository, ~/status.json is a status of the
# reconciler naming one of that clone's commits, and the reconciler is synced with main now.
home=/home/learner
repo=git://git/platform.git
# The learner's clone, copied as data into a folder only root reads (safegit copy-clone): git
# never opens it as a repository, so nothing in its configuration or hooks can run.
copy="$(mktemp -d)" && trap 'rm -rf "$copy"' EXIT
safegit copy-clone "$home/platform" "$copy/platform.git" 2>/dev/null
clone() { safegit --git-dir "$copy/platform.git" "$@"; }

if [ "$(clone config --get remote.origin.url 2>/dev/null)" != "$repo" ]; then
    echo "FAIL: no-clone"
    exit 1
fi
revision="$(jq -r '.revision // empty' "$home/status.json" 2>/dev/null)"
if ! [[ "$revision" =~ ^[0-9a-f]{40}$ ]]; then
    echo "FAIL: no-status"
    exit 1
fi
if ! clone cat-file -e "$revision^{commit}" 2>/dev/null; then
    echo "FAIL: unknown-revision"
    exit 1
fi
# A status the reconciler really served: it applied that revision at the status's last_sync.
python3 -I - <<'PY' || exit 1
import json

from evidence import reported_status

try:
    saved = json.loads(open("/home/learner/status.json", encoding="utf-8").read())
except (OSError, ValueError):
    saved = None
if not reported_status(saved):
    print("FAIL: status-not-reported")
    raise SystemExit(1)
PY
head="$(safegit ls-remote "$repo" refs/heads/main | cut -f1)"
deadline=$((SECONDS + 10))
until curl -fsS --max-time 2 http://reconciler:9100/status 2>/dev/null \
        | jq -e --arg head "$head" '.synced and .revision == $head' >/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
        echo "FAIL: not-synced"
        exit 1
    fi
    sleep 0.5
done
echo "your clone holds revision ${revision:0:7}, and the reconciler applies the head of main"
