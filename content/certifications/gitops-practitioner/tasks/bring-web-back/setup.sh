#!/usr/bin/env bash
# Runs as root in the toolbox before the candidate arrives: a git identity to commit with, then
# wait until git serves the repository, web answers and the reconciler has applied main.
set -euo pipefail

# Git reads this file as its system configuration (GIT_CONFIG_SYSTEM in lab.yaml). The learner's
# own `git config --global user.name ...` takes precedence over it.
cat > /tmp/gitconfig <<'GITCONFIG'
[user]
	name = Lab Learner
	email = learner@academy.lab
[init]
	defaultBranch = main
[pull]
	rebase = false
[advice]
	detachedHead = false
GITCONFIG
chmod 0644 /tmp/gitconfig

deadline=$((SECONDS + 90))
until git ls-remote --exit-code git://git/platform.git refs/heads/main >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "the git server does not serve platform.git" >&2; exit 1; }
    sleep 0.3
done
until curl -fsS --max-time 1 http://web:8080/health >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "web did not come up" >&2; exit 1; }
    sleep 0.3
done
until curl -fsS --max-time 2 http://reconciler:9100/status 2>/dev/null | jq -e '.synced == true' >/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "the reconciler did not sync main" >&2; exit 1; }
    sleep 0.5
done

# The scenario: a commit stops declaring web (the reconciler then leaves it unmanaged), and
# afterwards someone changes web by hand; nothing undoes it.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet git://git/platform.git "$work/platform"
# A restore of the sandbox runs this again: once past the seed, the scenario is in place.
[ "$(git -C "$work/platform" rev-list --count HEAD)" = 1 ] || exit 0
git -C "$work/platform" rm --quiet apps/web.yaml
git -C "$work/platform" -c user.name="Platform Team" -c user.email=platform@academy.lab \
    commit --quiet -m "Stop managing web from this repository"
git -C "$work/platform" push --quiet origin main
until curl -fsS --max-time 2 http://reconciler:9100/status 2>/dev/null \
        | jq -e '.unmanaged | has("web")' >/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "the reconciler still manages web" >&2; exit 1; }
    sleep 0.5
done
curl -fsS --max-time 5 -X PUT http://web:8080/config -H 'Content-Type: application/json' \
    -d '{"delay_ms": 900, "message": "Hotfix applied by hand"}' >/dev/null
