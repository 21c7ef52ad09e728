"""Turn remote emails, phones and names into the keys and words the index works with.

* email key: the address trimmed and lower-cased (no other rewriting: dots and ``+tags``
  are meaningful to many mail servers);
* phone key: E.164 (``+13125550100``) parsed with ``phonenumbers``, the connection's
  country as the region of numbers written without a country code; a phone that does not
  parse keeps its digits for search and gets no key;
* search words: lower-case ASCII (accents folded), so "José Núñez" is found by "jose nun".
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

#: Letters NFKD does not decompose into a base letter and a mark.
_SPECIAL = str.maketrans(
    {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "Æ": "ae", "đ": "d", "Đ": "d",
     "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th", "\u0131": "i"}
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
_NOT_DIGIT = re.compile(r"\D+")
#: Shortest digit run a query is taken as (part of) a phone number.
PHONE_QUERY_MIN_DIGITS = 4
_PHONE_CHARS = re.compile(r"^[\d\s()+.\-/]+$")
_SPACE = re.compile(r"\s")
_LETTER = re.compile(r"[^\W\d_]")


def email_key(raw: str) -> str | None:
    """Return the key of an email address: trimmed, lower-cased; None if it is not one."""
    value = (raw or "").strip().lower()
    if "@" not in value or len(value) > 320 or _SPACE.search(value):
        return None
    local, _, domain = value.rpartition("@")
    return value if local and domain else None


#: Regions sharing country code 1 (the North American Numbering Plan).
NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))


@functools.lru_cache(maxsize=100_000)
def _nanp_prefix_valid(prefix: str) -> bool:
    """Return whether NANP numbers starting with these 6 digits are valid.

    ``phonenumbers`` decides the validity of a 10-digit NANP number from its area code
    and exchange (the first 6 digits); checked against it in tests/contacts/test_normalize.py.
    """
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(prefix + "0000"))
    return bool(phonenumbers.is_valid_number(number))


def _nanp_national(raw: str, region: str) -> str | None:
    """Return the 10 national digits of a plainly written NANP number, else None."""
    if _LETTER.search(raw):
        return None  # extensions and vanity numbers: the full parser
    found = digits(raw)
    if raw.lstrip().startswith("+"):
        national = found[1:] if len(found) == 11 and found[0] == "1" else ""
    elif region in NANP_REGIONS:
        national = found if len(found) == 10 else ""
        if len(found) == 11 and found[0] == "1":
            national = found[1:]
    else:
        return None
    return national if national and national[0] in "23456789" else None


@functools.lru_cache(maxsize=65_536)
def _parsed(raw: str, region: str) -> tuple[str | None, tuple[str, ...]]:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        plain = digits(raw)
        return None, (plain,) if plain else ()
    national = phonenumbers.national_significant_number(number)
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return key, tuple(dict.fromkeys([f"{number.country_code}{national}", national]))


def phone_info(raw: str, region: str) -> tuple[str | None, list[str]]:
    """Return the key of a phone and the digit words it is found by.

    A valid number gives its E.164 key, its international digits ("13125550100") and its
    national digits ("3125550100"), plus for NANP numbers the local number ("5550100"), so
    it is found whichever way it is typed; anything else no key and its bare digits.
    Plainly written NANP numbers take a fast path (parsing is ~0.2 ms a number); every
    other number goes through ``phonenumbers.parse``.
    """
    raw, region = (raw or "").strip(), (region or "US").upper()
    national = _nanp_national(raw, region)
    if national is not None:
        if not _nanp_prefix_valid(national[:6]):
            return None, [digits(raw)]
        return f"+1{national}", [f"1{national}", national, national[3:]]
    key, found = _parsed(raw, region)
    return key, list(found)


def phone_key(raw: str, region: str) -> str | None:
    """Return the E.164 form of ``raw`` (``region`` for national numbers); None if unparseable."""
    return phone_info(raw, region)[0]


def digits(raw: str) -> str:
    """Return the digits of ``raw`` only."""
    return _NOT_DIGIT.sub("", raw or "")


def fold(text: str) -> str:
    """Return ``text`` lower-cased with accents removed ("Søren Núñez" -> "soren nunez")."""
    text = text or ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@functools.lru_cache(maxsize=65_536)
def _fold_part(part: str) -> str:
    return fold(part)


def words(text: str) -> list[str]:
    """Return the folded words of ``text`` as the full-text index tokenises them.

    Text with accents is folded a space-separated part at a time, each part once (names
    repeat across contacts; folding is per character, so the parts join to the same text).
    """
    text = text or ""
    if text.isascii():
        return _WORD.findall(text.lower())
    return _WORD.findall(" ".join(map(_fold_part, text.split(" "))))


def query_phone_digits(query: str) -> str | None:
    """Return the digits of a query typed as a phone number, else None."""
    value = (query or "").strip()
    if not value or not _PHONE_CHARS.match(value):
        return None
    found = digits(value)
    return found if len(found) >= PHONE_QUERY_MIN_DIGITS else None
