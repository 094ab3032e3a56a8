#!/usr/bin/env bash
# Passes when, after the reconciler let web go (its `unmanaged` event), the reconciler itself put
# web's delay_ms back (its events: a synced revision or a drift correction that changed it),
# and web's /config is what main declares now.
exec python3 -I - <<'PY'
from labcheck import Repository, fail, get_json, wait_for

events = get_json("http://reconciler:9100/events") or []
events = [e for e in events if isinstance(e, dict)]
# Events live in the reconciler's memory: after a restart of the reconciler (a restore of the
# lab), the release is no longer among them, and every event is later than it.
released = [e.get("seq") for e in events if e.get("kind") == "unmanaged" and e.get("app") == "web"]
since = released[-1] if released and isinstance(released[-1], int) else 0


def put_back_delay(event):
    if not isinstance(event.get("seq"), int) or event["seq"] <= since:
        return False
    if event.get("kind") == "synced-revision":
        changes = event.get("changes") if isinstance(event.get("changes"), dict) else {}
        web = changes.get("web")
        return isinstance(web, dict) and "delay_ms" in web
    return event.get("kind") == "drift-corrected" and event.get("app") == "web" \
        and "delay_ms" in (event.get("fields") or [])


if not any(put_back_delay(event) for event in events):
    fail("not-by-the-reconciler")
repo = Repository()
declared = repo.declared(repo.git("rev-parse", "main"))


def web_as_declared():
    config = get_json("http://web:8080/config") or {}
    return declared is not None and all(config.get(k) == v for k, v in declared.items())


if not wait_for(web_as_declared, 10):
    fail("web-differs")
print("the reconciler put web back as main declares it")
PY
