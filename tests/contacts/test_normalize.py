"""Normalisation: email and phone keys, search words."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmhub.contacts import normalize


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  John.Smith@Example.COM ", "john.smith@example.com"),
        ("JOHN+tag@example.com", "john+tag@example.com"),
        ("not an email", None),
        ("two words@example.com", None),
        ("@example.com", None),
        ("", None),
    ],
)
def test_email_key(raw, key):
    assert normalize.email_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("(312) 555-0142", "US", "+13125550142"),
        ("+1 312 555 0142", "GB", "+13125550142"),
        ("312.555.0142", "US", "+13125550142"),
        ("1-312-555-0142", "US", "+13125550142"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("(312) 555-0142", "GB", None),  # not a British number
        ("111-111-1111", "US", None),  # placeholder junk is no key: it would merge strangers
        ("call me", "US", None),
        ("", "US", None),
    ],
)
def test_phone_key(raw, region, key):
    assert normalize.phone_key(raw, region) == key


def test_phone_words_find_any_typing():
    key, found = normalize.phone_info("(312) 555-0142", "US")
    assert key == "+13125550142"
    assert found == ["13125550142", "3125550142", "5550142"]
    assert normalize.phone_info("ext 12-34", "US") == (None, ["1234"])


def test_the_nanp_fast_path_agrees_with_phonenumbers():
    rng = random.Random(4)
    formats = ("({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}", "{a}{b}{c}")
    for _ in range(3000):
        a, b, c = rng.randint(100, 999), rng.randint(100, 999), rng.randint(0, 9999)
        raw = rng.choice(formats).format(a=a, b=b, c=f"{c:04d}")
        region = rng.choice(("US", "CA", "GB", "DE"))
        try:
            number = phonenumbers.parse(raw, region)
            expected = (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_valid_number(number)
                else None
            )
        except phonenumbers.NumberParseException:
            expected = None
        assert normalize.phone_key(raw, region) == expected, (raw, region)


def test_words_fold_accents_and_case():
    assert normalize.words("Søren Østergaard-Núñez, O'Brien & Łukasz") == [
        "soren", "ostergaard", "nunez", "o", "brien", "lukasz",
    ]  # fmt: skip


#: Accents, combining marks, dotted and dotless i, ligatures, Cyrillic, separators.
_FOLDING = "ae AE\u0301\u0308\u0130\u0131\u00df\u00f8\u01c5\ufb01\u0414-'1"


@given(st.text(alphabet=st.sampled_from(_FOLDING), max_size=30))
def test_words_folded_a_part_at_a_time_are_the_words_of_the_folded_text(text):  # type: ignore[no-untyped-def]
    assert normalize.words(text) == normalize._WORD.findall(normalize.fold(text))


@pytest.mark.parametrize(
    ("query", "digits"),
    [("(312) 555-0142", "3125550142"), ("+1 312", "1312"), ("12", None), ("acme 12", None)],
)
def test_query_phone_digits(query, digits):
    assert normalize.query_phone_digits(query) == digits
