"""The pieces demo people are made of: names, companies, emails, phones, ``PersonSpec``."""

from __future__ import annotations

import random
from dataclasses import dataclass

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
#: Phone numbers the demo people can have: 800 exchanges of 10,000 lines per area code.
PHONE_SLOTS = len(AREA_CODES) * 800 * 10_000
#: Keys of the people of the matching traps start here.
TRAP_BASE = 90_000_000


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
    #: The Collect! table the record belongs in ("": the usual split by position).
    record_type: str = ""
    #: The matching trap the record is part of ("household", "switchboard", "inbox",
    #: "placeholder"; "" for none): see ``people.traps``.
    trap: str = ""


def ascii_word(text: str) -> str:
    table = str.maketrans("áéíóúñüöäøåłçèêëïîôûàšž", "aeiounuoaoalceeeiiouasz")
    return "".join(ch for ch in text.lower().translate(table) if ch.isalnum())


def person_digits(number: int) -> str:
    """Return the 10 phone digits of ``number`` (below ``PHONE_SLOTS``), never those of
    another number: an affine map onto the area codes' valid numbers (exchanges 200-999)."""
    slot = (number * 48_271 + 12_345) % PHONE_SLOTS  # 48,271 is prime to 2 and 5
    area, rest = divmod(slot, PHONE_SLOTS // len(AREA_CODES))
    exchange, line = divmod(rest, 10_000)
    return f"{AREA_CODES[area]}{200 + exchange}{line:04d}"


def phone_number(key: int) -> int:
    """Return the phone number index of person ``key``: each person has their own phone.

    Shared people (keys below 10,000,000), the others of each CRM (``(i + 1) * 10,000,000 +
    offset``) and the people of the traps (``TRAP_BASE`` up) map to disjoint ranges.
    """
    if key < 10_000_000:
        return key
    if key < TRAP_BASE:
        return 4_000_000 + (key // 10_000_000 - 1) * 1_000_000 + key % 10_000_000
    return 8_000_000 + key - TRAP_BASE


def name_of(key: int) -> tuple[str, str, random.Random]:
    """Return the first and last name of person ``key`` and the generator that made them."""
    rng = random.Random(key * 7919 + 17)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng


def email_of(key: int, first: str, last: str, domain: str) -> str:
    """Return the own address of person ``key`` at ``domain``."""
    return f"{ascii_word(first)}.{ascii_word(last)}{key}@{domain}"


def base_of(key: int) -> tuple[str, str, str, str, str]:
    """Return the first name, last name, company, email and phone digits of person ``key``."""
    first, last, rng = name_of(key)
    company = (
        f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}" if rng.random() < 0.8 else ""
    )
    email = "" if rng.random() < 0.1 else email_of(key, first, last, rng.choice(EMAIL_DOMAINS))
    return first, last, company, email, person_digits(phone_number(key))


def email_variant(email: str, variant: int) -> str:
    """Return ``email`` as CRM number ``variant`` writes it (case, spaces)."""
    if not email:
        return email
    return (email, email.upper(), f"  {email.title()} ", email.capitalize())[variant % 4]


def phone_variant(digits: str, variant: int) -> str:
    """Return the phone ``digits`` as CRM number ``variant`` writes them."""
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return (
        f"({area}) {mid}-{end}",
        f"+1 {area} {mid} {end}",
        f"{area}.{mid}.{end}",
        f"1-{area}-{mid}-{end}",
    )[variant % 4]
