"""The traps of person matching, seeded among the demo people: records that share a key
and are *not* the same person.

Every person has their own ``PersonSpec.key``: the ground truth of who is the same person
(the same key in two records, in one CRM or two, is one human; two keys are two). One trap
group in ``GROUP_EVERY`` people per CRM, the four kinds in turn:

* household: a Collect! debtor and her cosigner share a home phone; one of them is also in
  AllClients (with that phone, and their own email when they have one);
* switchboard: three to five colleagues share the office number, each with their own email,
  each in one CRM or two;
* inbox: a couple shares one email in Apptivo, each with their own phone; one of them is
  also in CRM.COM (and sometimes the other in AllClients) with that inbox and their phone;
* placeholder: strangers whose email is a placeholder (two in AllClients, one in Apptivo,
  each with their own phone) and strangers whose phone is (in Collect! and CRM.COM).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from crmhub.sandbox.people.base import (
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    TRAP_BASE,
    PersonSpec,
    ascii_word,
    email_of,
    email_variant,
    name_of,
    person_digits,
    phone_number,
    phone_variant,
)
from crmhub.sandbox.registry import KINDS

TRAPS = ("household", "switchboard", "inbox", "placeholder")
#: One trap group per this many people of each CRM.
GROUP_EVERY = 50
#: Phone numbers shared by a trap group (a home phone, a switchboard) start here.
SHARED_PHONES = 9_000_000
PLACEHOLDER_EMAILS = (
    "none@none.com",
    "NoEmail@example.com",
    "na@na.com",
    "test@test.com",
    "no@email.com",
    "unknown@unknown.com",
    "N/A@example.com",
    " NONE@NONE.COM ",
)
PLACEHOLDER_PHONES = (
    "888-888-8888",
    "(222) 222-2222",
    "000-000-0000",
    "999.999.9999",
    "+44 1234 567890",
    "123-456-7890",
)

Placed = tuple[str, PersonSpec]


def group_count(count: int) -> int:
    """Return how many trap groups ``count`` people per CRM hold."""
    return count // GROUP_EVERY


def _key(group: int, member: int) -> int:
    return TRAP_BASE + group * 10 + member


def _spec(
    kind: str,
    key: int,
    trap: str,
    *,
    email: str = "",
    digits: str = "",
    phone: str | None = None,
    last: str = "",
    company: str = "",
    record_type: str = "",
    shared: bool = False,
) -> Placed:
    first, own_last, _ = name_of(key)
    variant = KINDS.index(kind)
    written = phone if phone is not None else phone_variant(digits, variant)
    spec = PersonSpec(
        key, first, last or own_last, company, email_variant(email, variant), written, shared,
        record_type, trap,
    )  # fmt: skip
    return kind, spec


def _household(group: int) -> list[Placed]:
    pat, sam = _key(group, 0), _key(group, 1)
    pat_first, last, _ = name_of(pat)
    sam_first = name_of(sam)[0]
    home = person_digits(SHARED_PHONES + group)
    emails = {pat: email_of(pat, pat_first, last, "example.org")}
    emails[sam] = email_of(sam, sam_first, last, "example.net") if group % 8 < 4 else ""
    also = sam if (group // 4) % 3 == 2 else pat  # the one also in AllClients
    trap = "household"
    return [
        _spec("collect", pat, trap, email=emails[pat], digits=home, last=last,
              record_type="debtor", shared=also == pat),
        _spec("collect", sam, trap, email=emails[sam], digits=home, last=last,
              record_type="cosigner", shared=also == sam),
        _spec("allclients", also, trap, email=emails[also], digits=home, last=last, shared=True),
    ]  # fmt: skip


def _switchboard(group: int) -> list[Placed]:
    rng = random.Random(group)
    word = COMPANY_WORDS[group % len(COMPANY_WORDS)]
    company = f"{word} {COMPANY_SUFFIXES[group % len(COMPANY_SUFFIXES)]}"
    domain = f"{ascii_word(word)}{group}.example.com"
    board = person_digits(SHARED_PHONES + group)
    placed: list[Placed] = []
    for member in range(3 + (group // 4) % 3):
        key = _key(group, member)
        first, last, _ = name_of(key)
        kinds = [KINDS[(group + member) % 4]]
        if rng.random() < 0.4:
            kinds.append(KINDS[(group + member + 1 + rng.randrange(3)) % 4])
        for kind in kinds:
            placed.append(_spec(kind, key, "switchboard", email=email_of(key, first, last, domain),
                                digits=board, company=company, shared=len(kinds) > 1))  # fmt: skip
    return placed


def _inbox(group: int) -> list[Placed]:
    pat, sam = _key(group, 0), _key(group, 1)
    last = name_of(pat)[1]
    inbox = f"the.{ascii_word(last)}s{group}@example.net"
    phones = {key: person_digits(phone_number(key)) for key in (pat, sam)}
    in_allclients = group % 8 >= 4
    placed = [
        _spec("apptivo", pat, "inbox", email=inbox, digits=phones[pat], last=last, shared=True),
        _spec("apptivo", sam, "inbox", email=inbox, digits=phones[sam], last=last,
              shared=in_allclients),
        _spec("crmcom", pat, "inbox", email=inbox, digits=phones[pat], last=last, shared=True),
    ]  # fmt: skip
    if in_allclients:
        placed.append(
            _spec("allclients", sam, "inbox", email=inbox, digits=phones[sam], last=last,
                  shared=True)
        )  # fmt: skip
    return placed


def _placeholder(group: int) -> list[Placed]:
    email = PLACEHOLDER_EMAILS[(group // 4) % len(PLACEHOLDER_EMAILS)]
    phone = PLACEHOLDER_PHONES[(group // 4) % len(PLACEHOLDER_PHONES)]
    placed = [
        _spec(kind, _key(group, member), "placeholder", email=email,
              digits=person_digits(phone_number(_key(group, member))))
        for member, kind in enumerate(("allclients", "allclients", "apptivo"))
    ]  # fmt: skip
    for member, kind in ((3, "collect"), (4, "crmcom")):
        placed.append(_spec(kind, _key(group, member), "placeholder", phone=phone))
    return placed


BUILDERS = {"household": _household, "switchboard": _switchboard, "inbox": _inbox,
            "placeholder": _placeholder}  # fmt: skip


def trap_records(group: int) -> list[Placed]:
    """Return the records of trap group ``group`` in every CRM, as (kind, spec)."""
    return BUILDERS[TRAPS[group % len(TRAPS)]](group)


def traps_for(kind: str, count: int) -> Iterator[PersonSpec]:
    """Yield the trap records of CRM ``kind`` when it holds ``count`` people."""
    for group in range(group_count(count)):
        for placed_kind, spec in trap_records(group):
            if placed_kind == kind:
                yield spec
