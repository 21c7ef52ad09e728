"""Deterministic, realistic demo people for the simulated CRMs.

About a fifth of each CRM's people also live in other CRMs: the same person, with the
email in another case or with spaces around it, and the phone in another format, so the
contact index has real matching work to do. Some people have no email.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from crmhub.sandbox.registry import KINDS

FIRST_NAMES = (
    "José",
    "Zoë",
    "Seán",
    "Chloé",
    "Amélie",
    "Björn",
    "Ana",
    "Łukasz",
    "Renée",
    "Jürgen",
    "Mary",
    "John",
    "Aisha",
    "Wei",
    "Priya",
    "Olivia",
    "Liam",
    "Noah",
    "Emma",
    "Sofía",
    "Mateo",
    "Hannah",
    "Omar",
    "Fatima",
    "Yuki",
    "Hiroshi",
    "Ingrid",
    "Søren",
    "Niamh",
    "Siobhán",
    "François",
    "Hélène",
    "Dmitri",
    "Olga",
    "Kwame",
    "Ngozi",
    "Carlos",
    "Lucía",
    "Ahmed",
    "Leila",
    "Grace",
    "Henry",
    "Isabel",
    "Jack",
    "Kate",
    "Leo",
    "Maya",
    "Nina",
    "Oscar",
    "Paul",
)
LAST_NAMES = (
    "O'Brien",
    "D'Angelo",
    "Müller",
    "Núñez",
    "García",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Martínez",
    "López",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Pérez",
    "Thompson",
    "White",
    "Harris",
    "Sánchez",
    "Clark",
    "Ramírez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Østergaard",
    "Kowalski",
    "MacDonald",
    "Van der Berg",
)
COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Pied Piper",
    "Massive Dynamic",
)
COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "S.A.", "& Sons", "Holdings", "Partners")
EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example.com")
AREA_CODES = ("312", "415", "212", "646", "713", "305", "617", "206", "303", "512")


@dataclass(frozen=True)
class PersonSpec:
    """One demo person as a simulated CRM stores it."""

    key: int  # global identity: the same key in two CRMs is the same human
    first_name: str
    last_name: str
    company: str
    email: str  # may be "" (no email on file)
    phone: str  # as this CRM writes it (format varies per CRM)
    shared: bool


def _ascii(text: str) -> str:
    table = str.maketrans("áéíóúñüöäøåłçèêëïîôûàšž", "aeiounuoaoalceeeiiouasz")
    return "".join(ch for ch in text.lower().translate(table) if ch.isalnum())


def _base(key: int) -> tuple[str, str, str, str, str]:
    rng = random.Random(key * 7919 + 17)
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    company = (
        f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}" if rng.random() < 0.8 else ""
    )
    email = (
        ""
        if rng.random() < 0.1
        else f"{_ascii(first)}.{_ascii(last)}{key}@{rng.choice(EMAIL_DOMAINS)}"
    )
    digits = f"{rng.choice(AREA_CODES)}{rng.randrange(200, 999)}{rng.randrange(0, 10000):04d}"
    return first, last, company, email, digits


def _email_variant(email: str, variant: int) -> str:
    if not email:
        return email
    return (email, email.upper(), f"  {email.title()} ", email.capitalize())[variant % 4]


def _phone_variant(digits: str, variant: int) -> str:
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return (
        f"({area}) {mid}-{end}",
        f"+1 {area} {mid} {end}",
        f"{area}.{mid}.{end}",
        f"1-{area}-{mid}-{end}",
    )[variant % 4]


def people_for(kind: str, count: int) -> Iterator[PersonSpec]:
    """Yield ``count`` people of the simulated CRM ``kind``, deterministically.

    Keys 1..count//5 are shared: each shared person is in three of the four CRMs.
    """
    index = KINDS.index(kind)
    shared = count // 5
    produced = 0
    key = 0
    while produced < shared and key < count * 4:
        key += 1
        if (key + index) % 4 == 3:
            continue  # this shared person is not in this CRM
        first, last, company, email, digits = _base(key)
        yield PersonSpec(
            key,
            first,
            last,
            company,
            _email_variant(email, index),
            _phone_variant(digits, index),
            True,
        )
        produced += 1
    for offset in range(count - produced):
        key = (index + 1) * 10_000_000 + offset
        first, last, company, email, digits = _base(key)
        yield PersonSpec(key, first, last, company, email, _phone_variant(digits, index), False)
