"""Search forgives one typo in a name word of five letters or more, on both databases,
through the spelling index that the sync keeps current."""

from __future__ import annotations

import importlib
import re
from collections import Counter

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from crmhub.contacts import search, spelling
from crmhub.contacts.models import Contact, NameVariant, NameWord
from crmhub.contacts.search import TIER_ANY_PREFIX, TIER_FUZZY, TIER_NAME_WORD
from crmhub.contacts.selectors import contact_search
from crmhub.contacts.services import contact_write_through
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


PEOPLE = [
    remote(1, "Olivia", "Kowarensky", email="ok@example.com"),
    remote(2, "John", "Smith"),
    remote(3, "Marta", "Jones"),
    remote(4, "Marta", "Jonas"),
    remote(5, "Jon", "Park"),
    remote(6, "Jan", "Park"),
    remote(7, "Ann", "Lee"),
    *[remote(100 + n, f"Filler{n}", "Okafor") for n in range(60)],
]


@pytest.fixture
def index(connection, fake_crms):  # type: ignore[no-untyped-def]
    fake_crms["allclients"].contacts = list(PEOPLE)
    sync(connection, mode="full")
    return connection


def _found(query: str, remote_id: str) -> int | None:
    """Return the tier of the first-page row holding contact ``remote_id`` (None: absent)."""
    for row in contact_search(query=query, limit=50).rows:
        if any(contact.remote_id == remote_id for contact in row.contacts):
            return row.tier
    return None


@pytest.mark.parametrize(
    ("query", "remote_id"),
    [
        ("Kowarenskt", "1"),  # a letter changed
        ("Kowraensky", "1"),  # two letters swapped
        ("Kowarnsky", "1"),  # one missing
        ("Kowarrensky", "1"),  # one extra
        ("Olivia Kowarnsky", "1"),  # with the other name word exact
        ("Olvia Kowarensky", "1"),  # the typo in a six-letter first name
        ("Oliviaa", "1"),
        ("Smiht", "2"),  # five letters: swapped
        ("Smth", "2"),  # five letters: one missing (four typed)
        ("Snith", "2"),  # five letters: changed
        ("Smitth", "2"),  # five letters: extra
        ("john smiht", "2"),
    ],
)
def test_each_kind_of_typo_finds_the_person_on_the_first_page(index, query, remote_id):
    assert _found(query, remote_id) == TIER_FUZZY


def test_a_corrected_name_comes_before_names_merely_close_to_it(connection, fake_crms):
    """Sixty Zellwoods, listed first, are as close by trigrams to "Zellwegr" as the one
    Zellweger it means: she is on the first page (PostgreSQL's trigram tier took them with
    her, in id order, and lost her at scale)."""
    crowd = [remote(200 + n, "Katherine", "Zellwood") for n in range(60)]
    fake_crms["allclients"].contacts = [*crowd, remote(999, "Katherine", "Zellweger")]
    sync(connection, mode="full")
    assert _found("Katherine Zellwegr", "999") == TIER_FUZZY


def test_exact_hits_come_first_then_the_typos(index):
    page = contact_search(query="Jones")
    assert [(row.contact.last_name, row.tier) for row in page.rows] == [
        ("Jones", TIER_NAME_WORD),
        ("Jonas", TIER_FUZZY),
    ]
    assert contact_search(query="Kowarensky").rows[0].tier == TIER_NAME_WORD


def test_a_typo_in_a_short_word_is_not_corrected_into_other_names(index):
    assert contact_search(query="Jno").rows == ()  # not Jon, not Jan
    assert [row.contact.first_name for row in contact_search(query="Jan").rows] == ["Jan"]
    assert contact_search(query="Jonn Park").rows == ()
    assert contact_search(query="Lea").rows == ()  # not Lee
    assert spelling.corrections_counted(["jonn", "jno", "lea"])[0] == {}


def test_two_typos_are_not_forgiven(index):
    assert _found("Kowarnskt", "1") is None


def test_typo_queries_keep_pages_and_filters(index):
    everything = contact_search(query="Okafr", limit=200)
    assert len(everything.rows) == 60 and everything.next_after is None
    first = contact_search(query="Okafr", limit=25)
    second = contact_search(query="Okafr", limit=25, after=first.next_after)
    assert [r.contact.pk for r in first.rows + second.rows] == [
        r.contact.pk for r in everything.rows[:50]
    ]
    assert contact_search(query="Kowarnsky", filters={"kinds": ["apptivo"]}).rows == ()


# -- the spelling index -------------------------------------------------------------------------
@pytest.fixture
def elsewhere(index, fake_crms):  # type: ignore[no-untyped-def]
    """``index``, with words in no name: in a company, in an email, in a deleted contact's
    name (its words leave the spelling index, not the contacts)."""
    fake_crms["allclients"].contacts += [
        remote(300, "Zed", "Quill", company="Brightwater", email="zq.marlowe7@example.com"),
        remote(301, "Ann", "Vanderkolk"),
    ]
    sync(index, mode="full")
    fake_crms["allclients"].contacts.pop()
    sync(index, mode="full")
    assert Contact.objects.get(remote_id="301").deleted_at is not None
    return index


def _tiers_asked(captured: CaptureQueriesContext) -> set[int]:
    """Return the tiers whose statements ``captured`` holds."""
    return {
        int(tier)
        for query in captured.captured_queries
        for tier in re.findall(r"SELECT (\d) AS tier", query["sql"])
    }


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL weighs a query's words")
def test_a_word_no_contact_carries_is_told_from_one_in_no_name(elsewhere):
    """A word no name starts may start a company's word, an email's or a deleted contact's
    name (0 names); one that starts no word of any contact is ``NOWHERE``. Not in a typed
    email: its words are never corrected."""
    plan = search.plan_for("olivia kowarnsky brightwater marlowe vanderkolk zzqq okaf")
    counts = search.postgres.name_counts(plan)
    nowhere = search.postgres.NOWHERE
    assert counts == {"olivia": 1, "kowarnsky": nowhere, "brightwater": 0, "marlowe": 0,
                      "vanderkolk": 0, "zzqq": nowhere, "okaf": 60}  # fmt: skip
    email = search.plan_for("kowarnsky.zzqq@example.com")
    assert search.postgres.name_counts(email) == {"kowarnsky": 0, "zzqq": 0}


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL weighs a query's words")
@pytest.mark.parametrize(
    ("query", "asked"),
    [
        ("Olivia Kowarnsky", {TIER_FUZZY}),  # corrected: Kowarensky
        ("Marta Jonse", {TIER_FUZZY}),  # Jones and Jonas
        ("Olivia Kowarnsky zzqq", set()),  # "zzqq" is nowhere, and has no correction
        ("Zed Brightwater", {1, 2, 3}),  # a company's word: asked (and found there)
        ("Olivia Brightwater", {1, 2, 3}),  # no correction of either: no typo tier
        ("Ann Vanderkolk", {1, 2, 3}),  # a deleted contact's name: asked
    ],
)
def test_a_word_no_contact_carries_skips_the_tiers_it_cannot_match(
    elsewhere, monkeypatch, query, asked
):
    """A query with a word that starts no word of any contact asks only the typo tier (and
    not even that when the word has no correction); its page is the one every tier gives."""
    with CaptureQueriesContext(db) as captured:
        page = contact_search(query=query)
    assert _tiers_asked(captured) == asked
    monkeypatch.setattr(search.postgres, "_ANYWHERE", "%s IS NOT NULL")  # every word is
    with CaptureQueriesContext(db) as captured:
        every = contact_search(query=query)
    assert _tiers_asked(captured) >= {1, 2, 3}
    assert (page.rows, page.next_after) == (every.rows, every.next_after)
    if query.startswith("Zed"):
        assert [row.tier for row in page.rows] == [TIER_ANY_PREFIX]
    elif TIER_FUZZY in asked:
        assert page.rows and {row.tier for row in page.rows} == {TIER_FUZZY}


def _vocabulary() -> dict[str, int]:
    return dict(NameWord.objects.values_list("word", "live"))


def _variants() -> set[tuple[str, str]]:
    return set(NameVariant.objects.values_list("variant", "word"))


def _expected() -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Return the spelling index as it should be: recomputed from the live contacts."""
    counts: Counter[str] = Counter()
    for names in Contact.objects.filter(deleted_at__isnull=True).values_list(
        "search_names", flat=True
    ):
        counts.update(word for word in names.split() if 5 <= len(word) <= 40)
    words = {word: live for word, live in counts.items() if live}
    return words, {(variant, word) for word in words for variant in spelling.variants(word)}


def _assert_current() -> None:
    assert (_vocabulary(), _variants()) == _expected()


def test_the_sync_keeps_the_spelling_index_current(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = [*PEOPLE, remote(8, "Zoe", "Kowarensky")]
    sync(connection, mode="full")
    _assert_current()
    assert _vocabulary()["kowarensky"] == 2
    assert "park" not in _vocabulary()  # four letters: not indexed

    # Updated: one Kowarensky renamed; the other still carries the word.
    crm.contacts = [
        remote(1, "Olivia", "Zablotnik", email="ok@example.com"),
        *[c for c in crm.contacts if c.remote_id != "1"],
    ]
    sync(connection, mode="full")
    _assert_current()
    assert _vocabulary()["kowarensky"] == 1
    assert _found("Zablotnk", "1") == TIER_FUZZY
    assert _found("Kowarnsky", "1") is None
    assert _found("Kowarnsky", "8") == TIER_FUZZY

    # Deleted: the last carrier gone, the word leaves with its variants.
    crm.contacts = [c for c in crm.contacts if c.remote_id != "8"]
    sync(connection, mode="full")
    _assert_current()
    assert "kowarensky" not in _vocabulary()
    assert not any(word == "kowarensky" for _, word in _variants())
    assert _found("Kowarnsky", "8") is None

    # Listed again: it comes back.
    crm.contacts = [*crm.contacts, remote(8, "Zoe", "Kowarensky")]
    sync(connection, mode="full")
    _assert_current()
    assert _found("Kowarnsky", "8") == TIER_FUZZY


def test_a_write_through_keeps_the_spelling_index_current(index):
    new = remote(9, "Zoe", "Wachowiak")
    contact_write_through(connection=index, remote=new)
    _assert_current()
    assert _found("Wachowak", "9") == TIER_FUZZY

    # Renamed through crmhub: the old word leaves (its last carrier), the new one comes.
    contact_write_through(connection=index, remote=remote(9, "Zoe", "Brzezinska"))
    _assert_current()
    assert "wachowiak" not in _vocabulary()
    assert _found("Brzezinsak", "9") == TIER_FUZZY

    # Changed elsewhere than the name: nothing moves.
    before = (_vocabulary(), _variants())
    contact_write_through(connection=index, remote=remote(9, "Zoe", "Brzezinska", phone="5550100"))
    assert (_vocabulary(), _variants()) == before

    # Deleted through crmhub, then listed again by the CRM.
    contact_write_through(connection=index, deleted_remote_id="9")
    _assert_current()
    assert "brzezinska" not in _vocabulary()
    contact_write_through(connection=index, remote=remote(9, "Zoe", "Brzezinska"))
    _assert_current()
    assert _found("Brzezinsak", "9") == TIER_FUZZY


def test_a_rebuild_gives_the_index_the_sync_keeps(index):
    kept = (_vocabulary(), _variants())
    assert spelling.vocabulary_rebuild() == len(kept[0])
    assert (_vocabulary(), _variants()) == kept


# -- the pieces ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "second", "apart"),
    [
        ("smith", "smiht", True),
        ("smith", "snith", True),
        ("smith", "smth", True),
        ("smith", "smitth", True),
        ("smith", "msith", True),
        ("smith", "smith", False),
        ("smith", "smoht", False),
        ("smith", "mitsh", False),
        ("smith", "sm", False),
        ("abcde", "xacde", False),  # they share a deletion, yet are two typos apart
    ],
)
def test_one_edit_apart(first, second, apart):
    assert spelling.one_edit_apart(first, second) is apart
    assert spelling.one_edit_apart(second, first) is apart


def test_every_word_one_typo_away_shares_a_variant():
    word = "kowal"
    typos = {word[:i] + c + word[i + 1 :] for i in range(5) for c in "xyz"}
    typos |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(4)}
    typos |= {word[:i] + word[i + 1 :] for i in range(5)}
    typos |= {word[:i] + "q" + word[i:] for i in range(6)}
    for typo in typos:
        assert spelling.variants(typo) & spelling.variants(word), typo


def test_the_migration_builds_the_index_the_sync_keeps(index):
    migration = importlib.import_module("crmhub.contacts.migrations.0006_spelling_index")
    kept = (_vocabulary(), _variants())
    NameVariant.objects.all().delete()
    NameWord.objects.all().delete()
    build = migration.SQLITE_BUILD if db.vendor == "sqlite" else migration.POSTGRES_BUILD
    with db.cursor() as cursor:
        for statement in build:
            cursor.execute(statement)
    assert (_vocabulary(), _variants()) == kept
