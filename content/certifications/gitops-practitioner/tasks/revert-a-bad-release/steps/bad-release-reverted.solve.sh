#!/usr/bin/env bash
# The task's solution (the exam's self-test runs it; candidates never see it).
set -euo pipefail
git clone --quiet git://git/platform.git ~/platform
cd ~/platform
git log --oneline
bad="$(git log --format=%H --grep='warm the cache' -n 1)"
git revert --no-edit "$bad"
git push --quiet origin main
