#!/usr/bin/env bash
# Passes when main (on the git server, read through safegit) still holds the commit that stopped
# declaring web, its last commit declares web running with the config web had just before that
# commit, and the reconciler has applied that last commit and no longer lists web as unmanaged.
exec python3 -I - <<'PY'
import yaml

from labcheck import Repository, fail, get_json, wait_for

TEAM = "platform@academy.lab"
DROPPED = "Stop managing web from this repository"
repo = Repository()

dropped = [
    line.split(" ", 1)[0]
    for line in repo.git("log", "--format=%H %ae %s", "main").splitlines()
    if line.split(" ", 2)[1:] == [TEAM, DROPPED]
]
if len(dropped) != 1:
    fail("history-changed")
before = repo.declared(f"{dropped[0]}^")
head = repo.git("rev-parse", "main")
files = repo.git("ls-tree", "--name-only", f"{head}:apps").split()
declaring = []
for name in files:
    try:
        data = yaml.safe_load(repo.git("show", "--no-textconv", f"{head}:apps/{name}"))
    except yaml.YAMLError:
        continue
    if isinstance(data, dict) and data.get("name") == "web":
        declaring.append(data)
if len(declaring) != 1 or declaring[0].get("running", True) is not True:
    fail("not-declared")
config = declaring[0].get("config")
if not isinstance(config, dict) or before is None or dict(config) != before:
    fail("not-as-before")


def managed_on_head():
    status = get_json("http://reconciler:9100/status") or {}
    unmanaged = status.get("unmanaged") if isinstance(status.get("unmanaged"), dict) else {}
    return status.get("revision") == head and status.get("synced") is True \
        and "web" not in unmanaged


if not wait_for(managed_on_head, 15):
    fail("not-applied")
print(f"main declares web again at {head[:7]}; the reconciler manages it")
PY
