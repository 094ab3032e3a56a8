#!/usr/bin/env bash
# Runs as root in the toolbox before the learner arrives: a git identity to commit with, then
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
