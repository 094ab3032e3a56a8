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

# The scenario: two releases pushed by someone else since the seed; the first one breaks web's
# SLO (a delay of 900 ms), the second one is a wanted change on another line of the same file.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
release() {  # message, then sed expressions for apps/web.yaml
    local message="$1"
    shift
    sed -i "$@" "$work/platform/apps/web.yaml"
    git -C "$work/platform" -c user.name="Release Bot" -c user.email=releases@academy.lab \
        commit --quiet -am "$message"
    git -C "$work/platform" push --quiet origin main
    local head
    head="$(git -C "$work/platform" rev-parse HEAD)"
    until curl -fsS --max-time 2 http://reconciler:9100/status 2>/dev/null \
            | jq -e --arg head "$head" '.revision == $head and .synced == true' >/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "the reconciler did not apply $head" >&2; exit 1; }
        sleep 0.5
    done
}
git clone --quiet git://git/platform.git "$work/platform"
# A restore of the sandbox runs this again: once past the seed, the scenario is in place.
[ "$(git -C "$work/platform" rev-list --count HEAD)" = 1 ] || exit 0
release "web: warm the cache before answering" -e 's/^  delay_ms: .*/  delay_ms: 900/'
release "web: ship v1.1" -e 's/^  version: .*/  version: v1.1/'
