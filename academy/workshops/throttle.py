"""Growing delays for the join and resume pages, on academy/accounts/throttle.py's machinery.

A workshop room shares one address behind the venue's NAT, so per-address limits are the
room's: generous enough for 200 people typing codes with typos, tight enough that a guesser
gets nowhere. The per-workshop limit on resume codes stops guessing spread over many
addresses. The numbers, and why they hold, are in docs/workshops.md.
"""

from __future__ import annotations

from django.utils.translation import ngettext

from academy.accounts.throttle import Keys, Rule
from labs.services.limits import address_key

BASE = "WORKSHOP_THROTTLE_BASE_DELAY_SECONDS"
# A join code that matches no open workshop, per client address.
CODE_ADDRESS = Rule("ws-code-addr", "WORKSHOP_CODE_ADDRESS_FREE_FAILURES", BASE)
# Every join (a new account), per client address.
JOIN_ADDRESS = Rule("ws-join-addr", "WORKSHOP_JOIN_ADDRESS_FREE", BASE)
# A wrong resume code, per client address and per workshop.
RESUME_ADDRESS = Rule("ws-resume-addr", "WORKSHOP_RESUME_ADDRESS_FREE_FAILURES", BASE)
RESUME_WORKSHOP = Rule("ws-resume-ws", "WORKSHOP_RESUME_WORKSHOP_FREE_FAILURES", BASE)


def code_keys(*, address: str) -> Keys:
    return [(CODE_ADDRESS, address_key(address))]


def join_keys(*, address: str) -> Keys:
    return [(JOIN_ADDRESS, address_key(address))]


def resume_keys(*, address: str, workshop_id: int) -> Keys:
    return [(RESUME_ADDRESS, address_key(address)), (RESUME_WORKSHOP, str(workshop_id))]


def wait_message(seconds: int) -> str:
    if seconds < 120:
        return ngettext(
            "Too many attempts. Try again in %(count)d second.",
            "Too many attempts. Try again in %(count)d seconds.",
            seconds,
        ) % {"count": seconds}
    minutes = -(-seconds // 60)
    return ngettext(
        "Too many attempts. Try again in %(count)d minute.",
        "Too many attempts. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}
