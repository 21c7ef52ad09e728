"""Deterministic, realistic demo people for the simulated CRMs, and who is who.

About a fifth of each CRM's people also live in other CRMs: the same person, with the
email in another case or with spaces around it, and the phone in another format, so the
contact index has real matching work to do. Some people have no email. Among them are the
traps of matching (``traps``): households, switchboards, shared inboxes and placeholder
emails and phones, whose records share a key and are different people.

Every record carries the key of its person (``PersonSpec.key``): the ground truth of who is
the same person, which ``manage.py bench --section matching`` measures matching against.
Each person has their own phone number; a phone is shared only where a trap shares it.
"""

from __future__ import annotations

from collections.abc import Iterator

from crmhub.sandbox.people.base import (
    COMPANY_WORDS,
    PersonSpec,
    base_of,
    email_variant,
    phone_variant,
)
from crmhub.sandbox.people.traps import traps_for
from crmhub.sandbox.registry import KINDS

__all__ = ["COMPANY_WORDS", "PersonSpec", "people_for"]


def people_for(kind: str, count: int) -> Iterator[PersonSpec]:
    """Yield ``count`` people of the simulated CRM ``kind``, deterministically.

    Keys 1..count//5 are shared: each shared person is in three of the four CRMs. Then the
    records of the traps (one group per ``traps.GROUP_EVERY`` people), then people of this
    CRM alone.
    """
    index = KINDS.index(kind)
    shared = count // 5
    produced = 0
    key = 0
    while produced < shared and key < count * 4:
        key += 1
        if (key + index) % 4 == 3:
            continue  # this shared person is not in this CRM
        first, last, company, email, digits = base_of(key)
        yield PersonSpec(
            key,
            first,
            last,
            company,
            email_variant(email, index),
            phone_variant(digits, index),
            True,
        )
        produced += 1
    for spec in traps_for(kind, count):
        if produced >= count:
            return
        yield spec
        produced += 1
    for offset in range(count - produced):
        key = (index + 1) * 10_000_000 + offset
        first, last, company, email, digits = base_of(key)
        yield PersonSpec(key, first, last, company, email, phone_variant(digits, index), False)
