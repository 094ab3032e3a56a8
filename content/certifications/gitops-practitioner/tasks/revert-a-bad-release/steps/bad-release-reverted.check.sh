#!/usr/bin/env bash
# Passes when main (on the git server, read through safegit) still holds both releases of the
# setup, holds a `git revert` of the one that broke the SLO, and its last commit declares web
# with a delay within the SLO and the other release's version and message.
exec python3 -I - <<'PY'
import re

from labcheck import Repository, fail

BOT = "releases@academy.lab"
BAD = "web: warm the cache before answering"
GOOD = "web: ship v1.1"
repo = Repository()


def number(config, key):
    value = config.get(key, 0)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


history = repo.git("rev-list", "main").split()
releases = {}
for line in repo.git("log", "--format=%H %ae %s", "main").splitlines():
    sha, email, subject = (line.split(" ", 2) + ["", ""])[:3]
    if email == BOT and subject in (BAD, GOOD):
        releases.setdefault(subject, []).append(sha)
if len(releases.get(BAD, [])) != 1 or len(releases.get(GOOD, [])) != 1:
    fail("history-changed")
bad, good = releases[BAD][0], releases[GOOD][0]
reverts = [
    commit
    for commit in history
    if re.search(rf"This reverts commit {bad}\b", repo.git("log", "-1", "--format=%B", commit))
]
if not reverts:
    fail("no-revert")
head = repo.git("rev-parse", "main")
declared, wanted = repo.declared(head), repo.declared(good)
if declared is None or wanted is None:
    fail("unreadable")
if number(declared, "delay_ms") > 300 or number(declared, "error_rate") > 0.01:
    fail("still-slow")
if any(declared.get(key) != wanted.get(key) for key in ("version", "message")):
    fail("good-release-lost")
print(f"{reverts[-1][:7]} reverts {bad[:7]}; main keeps {good[:7]} ({declared.get('version')})")
PY
