"""Search: prefixes as you type, exact email/phone first, filters, people, keyset pages."""

from __future__ import annotations

import pytest

from crmhub.contacts import search, spelling
from crmhub.contacts.models import Contact
from crmhub.contacts.search import (
    TIER_ANY_PREFIX,
    TIER_EXACT,
    TIER_FUZZY,
    TIER_NAME_PREFIX,
    TIER_NAME_WORD,
)
from crmhub.contacts.selectors import Filters, contact_search
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def index(make_connection, fake_crms):  # type: ignore[no-untyped-def]
    """A small index over three CRMs; Kim Park is in all three."""
    conns = {
        kind: make_connection(kind, name=kind) for kind in ("allclients", "apptivo", "collect")
    }
    fake_crms["allclients"].contacts = [
        remote(1, "John", "Smith", email="john.smith@example.com", phone="(312) 555-0142"),
        remote(2, "Johnny", "Walker", company="Acme Inc", email="jw@example.org"),
        remote(3, "José", "Núñez", email="jose@example.com"),
        remote(4, "Kim", "Park", email="kim@example.com"),
        remote(5, "Ann", "Lee"),
        remote(6, "Leeroy", "Jenkins"),
        remote(7, "Bob", "Stone", company="Leeds Partners"),
    ]
    fake_crms["apptivo"].contacts = [
        remote("A1", "Kim", "Park", email="KIM@example.com", record_type="customer"),
        remote("A2", "Mary", "Johnson", email="mary@example.com", record_type="customer"),
    ]
    fake_crms["collect"].contacts = [
        remote("C1", "Kimberly", "Park", phone="415 555 0101", email="kim@example.com",
               record_type="debtor"),
        remote("C2", "Søren", "Østergaard", phone="+45 32 12 34 56", record_type="cosigner"),
    ]  # fmt: skip
    for connection in conns.values():
        sync(connection, mode="full")
    return conns


def names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{row.contact.first_name} {row.contact.last_name}" for row in page.rows]


def test_name_prefix_as_you_type(index):
    assert names(contact_search(query="jo")) == ["John Smith", "Johnny Walker", "José Núñez",
                                                 "Mary Johnson"]  # fmt: skip
    assert names(contact_search(query="smi jo")) == ["John Smith"]
    assert names(contact_search(query="Smith, John")) == ["John Smith"]


def test_accents_do_not_matter(index):
    assert names(contact_search(query="jose nunez")) == ["José Núñez"]
    assert names(contact_search(query="NÚÑ")) == ["José Núñez"]
    assert names(contact_search(query="soren oster")) == ["Søren Østergaard"]


def test_exact_email_comes_first(index):
    page = contact_search(query="  John.Smith@EXAMPLE.com")
    assert names(page)[0] == "John Smith"
    assert page.rows[0].tier == TIER_EXACT and page.rows[0].exact


@pytest.mark.parametrize(
    "typed", ["(312) 555-0142", "312.555.0142", "+1 312 555 0142", "13125550142", "3125550142"]
)
def test_a_phone_typed_in_any_format_is_an_exact_hit(index, typed):
    page = contact_search(query=typed)
    assert names(page) == ["John Smith"]
    assert page.rows[0].tier == TIER_EXACT


@pytest.mark.parametrize("typed", ["312 555", "31255501", "555-0142"])
def test_a_phone_prefix_or_local_number_is_found(index, typed):
    assert names(contact_search(query=typed)) == ["John Smith"]


def test_international_phone(index):
    assert names(contact_search(query="+45 32 12 34 56")) == ["Søren Østergaard"]


def test_company_word(index):
    assert names(contact_search(query="acme")) == ["Johnny Walker"]


def test_no_hit(index):
    assert contact_search(query="zzzz").rows == ()
    assert contact_search(query="@@").rows == ()


def test_ranking_whole_name_word_then_name_prefix_then_elsewhere(index):
    page = contact_search(query="lee")
    assert names(page) == ["Ann Lee", "Leeroy Jenkins", "Bob Stone"]
    assert [row.tier for row in page.rows] == [TIER_NAME_WORD, TIER_NAME_PREFIX, TIER_ANY_PREFIX]


def test_a_long_word_that_starts_no_live_name_is_found_in_the_other_fields(index):
    # No live name starts with "leeds" or "example" (the spelling index says so): the name
    # tiers ask FTS5 for nothing, and the any-prefix tier still finds them.
    page = contact_search(query="leeds")
    assert names(page) == ["Bob Stone"]
    assert [row.tier for row in page.rows] == [TIER_ANY_PREFIX]
    assert names(contact_search(query="example jose")) == ["José Núñez"]
    assert contact_search(query="example.com").rows[0].tier == TIER_ANY_PREFIX
    # A long word that does start a live name keeps its name tiers.
    assert [row.tier for row in contact_search(query="leeroy").rows] == [TIER_NAME_WORD]
    assert [row.tier for row in contact_search(query="leero").rows] == [TIER_NAME_PREFIX]


def test_a_name_only_deleted_contacts_carry_is_found_when_deleted_ones_are_asked(index, fake_crms):
    fake_crms["allclients"].contacts = [
        c for c in fake_crms["allclients"].contacts if c.remote_id != "6"
    ]  # Leeroy Jenkins gone: no live name starts with "leeroy" any more
    sync(index["allclients"], mode="full")

    assert contact_search(query="leeroy").rows == ()
    found = contact_search(query="leeroy", filters=Filters(include_deleted=True))
    assert names(found) == ["Leeroy Jenkins"]
    assert found.rows[0].tier == TIER_NAME_WORD


def test_one_row_per_person_with_every_crm(index):
    page = contact_search(query="park")
    assert len(page.rows) == 1
    row = page.rows[0]
    assert row.person is not None and row.title == "Kim Park"
    assert set(row.kinds) == {"allclients", "apptivo", "collect"}
    assert len(row.contacts) == 3


def test_a_person_row_leads_with_its_best_match(index):
    page = contact_search(query="kimberly")
    assert len(page.rows) == 1
    assert page.rows[0].contact.first_name == "Kimberly"
    assert set(page.rows[0].kinds) == {"allclients", "apptivo", "collect"}


def test_filters(index):
    assert names(contact_search(query="kim", filters=Filters(kinds=("collect",)))) == [
        "Kimberly Park"
    ]
    apptivo = index["apptivo"].pk
    assert names(contact_search(query="jo", filters={"connection_ids": [apptivo]})) == [
        "Mary Johnson"
    ]
    debtors = contact_search(query="park", filters={"record_types": ["debtor"]})
    assert names(debtors) == ["Kimberly Park"]


def test_deleted_contacts_only_on_request(index, fake_crms):
    fake_crms["allclients"].contacts = fake_crms["allclients"].contacts[:-1]  # Bob Stone gone
    sync(index["allclients"], mode="full")

    assert contact_search(query="stone").rows == ()
    found = contact_search(query="stone", filters=Filters(include_deleted=True))
    assert names(found) == ["Bob Stone"]
    assert found.rows[0].contact.deleted_at is not None


def test_blank_query_browses_everything(index):
    page = contact_search(query="", limit=100)
    assert len(page.rows) == 9  # 11 contacts, Kim Park's three in one row
    assert page.next_after is None


@pytest.fixture
def crowd(make_connection, fake_crms):  # type: ignore[no-untyped-def]
    """150 Taylors in two CRMs; every third one is in both (same email)."""
    ac, ap = make_connection("allclients", name="ac"), make_connection("apptivo", name="ap")
    fake_crms["allclients"].contacts = [
        remote(n, f"Tay{n}", "Taylor", email=f"t{n}@example.com") for n in range(100)
    ]
    fake_crms["apptivo"].contacts = [
        remote(n, f"Tay{n}", "Taylor" if n % 2 else "Tayloring", email=f"t{n}@example.com"
               if n % 3 == 0 else f"other{n}@example.com", record_type="customer")
        for n in range(50, 150)
    ]  # fmt: skip
    sync(ac, mode="full")
    sync(ap, mode="full")
    return ac, ap


@pytest.mark.parametrize("query", ["tay", "taylor", ""])
def test_keyset_pages_cover_every_row_once_in_order(crowd, query):
    everything = contact_search(query=query, limit=200)
    assert everything.next_after is None
    expected = [tuple(c.pk for c in row.contacts) for row in everything.rows]
    assert len({c for row in expected for c in row}) == Contact.objects.count()

    seen, after, pages = [], None, 0
    while True:
        page = contact_search(query=query, after=after, limit=7)
        seen += [tuple(c.pk for c in row.contacts) for row in page.rows]
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == expected
    assert pages >= len(expected) // 7


@pytest.mark.parametrize("query", ["taylro", "taylro tay1", "tay1 taylro"])
def test_pages_found_by_a_typo_list_each_person_once(crowd, query):
    """A person whose two records are both found only by a typo ("taylro": Taylor) is one
    row, on the page of its first record, not one row on each record's page."""
    everything = contact_search(query=query, limit=500)
    expected = [tuple(c.pk for c in row.contacts) for row in everything.rows]
    assert {row.tier for row in everything.rows} == {TIER_FUZZY}
    assert any(len(row) == 2 for row in expected), "no person in two CRMs: nothing to show"
    seen, after = [], None
    while True:
        page = contact_search(query=query, after=after, limit=7)
        seen += [tuple(c.pk for c in row.contacts) for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == expected
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize(("window", "far"), [(1, 1), (1, 9), (4, 3), (4, 40), (37, 80)])
@pytest.mark.parametrize("query", ["tay", "taylor", "tayloring"])
def test_short_windows_give_the_same_pages(crowd, monkeypatch, query, window, far):
    """PostgreSQL reads a window of contacts in id order, then (when matches are common) a
    farther one, then asks an index for the matches past them: whatever their sizes, the
    pages hold the same rows in the same order."""
    expected = contact_search(query=query, limit=500).rows
    monkeypatch.setattr(search.postgres, "WINDOW", window)
    monkeypatch.setattr(search.postgres, "FAR", far)
    seen, after = [], None
    while True:
        page = contact_search(query=query, after=after, limit=6)
        seen += page.rows
        if page.next_after is None:
            break
        after = page.next_after
    assert [row.contacts for row in seen] == [row.contacts for row in expected]
    assert expected, "the query finds nobody: the test would show nothing"


def test_the_names_starting_with_a_prefix_are_counted(crowd):
    """Long prefixes are counted exactly; a short one only by its indexed (long) words."""
    from crmhub.contacts.spelling import prefix_counts

    counts = prefix_counts(["tayloring", "taylor", "ta", "tay1", "zz", "t%"])
    assert counts["tayloring"] == Contact.objects.filter(last_name="Tayloring").count() == 50
    assert counts["taylor"] == Contact.objects.count() == 200  # Taylor and Tayloring
    indexed = sum(1 for c in Contact.objects.all() if len(c.first_name) >= 5)  # "Tay10".."Tay149"
    assert counts["ta"] == 200 + indexed  # "Tay1".."Tay9" are too short to be indexed
    assert counts["tay1"] == sum(1 for c in Contact.objects.all() if c.first_name[:4] == "Tay1"
                                 and len(c.first_name) >= 5)  # fmt: skip
    assert counts["zz"] == counts["t%"] == 0  # "%" is a letter here, not a wildcard


@pytest.mark.parametrize(
    ("counts", "anywhere", "looked_up"),
    [
        ({"feitstound": 3, "ma": 65_000}, False, ["feitstound"]),  # the rare word alone
        ({"feitstound": 3, "ma": 20}, False, ["feitstound"]),  # rows few enough to test
        ({"feitstound": 600, "ma": 20}, False, ["feitstound", "ma"]),  # both rare: together
        ({"feitstound": 600, "ma": 20}, True, ["feitstound", "ma"]),
        ({"feitstound": 3, "ma": 20}, True, ["feitstound", "ma"]),  # names: not every field
        ({"kowalski": 14_000, "ma": 30_000}, False, ["kowalski", "ma"]),  # alike: together
        ({"kowalski": 14_000, "ma": 300_000}, False, ["kowalski"]),
        ({"young": 14_000, "feitstound": 3}, False, ["feitstound"]),  # a long word too
        ({"feitstound": 0, "ma": 65_000}, False, ["feitstound"]),  # no name starts so
        ({"feitstound": 0, "ma": 65_000}, True, ["feitstound", "ma"]),  # maybe a company
        ({}, False, ["feitstound", "ma"]),  # nothing counted: every term
    ],
)
def test_an_index_lookup_leaves_out_a_common_word(counts, anywhere, looked_up):
    terms = list(counts) or ["feitstound", "ma"]
    assert search.postgres.lookup_terms(terms, counts, anywhere=anywhere) == looked_up


def test_in_a_typed_email_a_word_with_digits_is_taken_as_rare():
    """ "ngozi.martinez12857@…": no name carries "martinez12857"; over every field it is
    taken as rare only in an email (a word of letters alone may be a common company word)."""
    counts = {"ngozi": 14_000, "martinez12857": 0}
    terms = ["ngozi", "martinez12857"]
    assert search.postgres.lookup_terms(terms, counts, anywhere=False) == ["martinez12857"]
    assert search.postgres.lookup_terms(terms, counts, anywhere=True, email=True) == [
        "martinez12857"
    ]
    assert search.postgres.lookup_terms(terms, counts, anywhere=True) == terms
    sales = {"ngozi": 14_000, "sales": 0}
    assert search.postgres.lookup_terms(list(sales), sales, anywhere=True, email=True) == [
        "ngozi",
        "sales",
    ]


def test_corrections_count_towards_a_typed_word(monkeypatch):
    """A typo's count is that of its corrections: "smiht" (a typo of 5,000 Smiths) keeps
    "jo" beside it, as the two alike are cheaper looked up together."""
    counts = {"smiht": 0, "jo": 30_000}
    fixed = {"smiht": ("smith",)}
    assert search.postgres.lookup_terms(["smiht", "jo"], counts, anywhere=True) == ["smiht", "jo"]
    assert search.postgres.lookup_terms(
        ["smiht", "jo"], counts, anywhere=True, fixes=fixed, fix_counts={"smith": 5_000}
    ) == ["smiht", "jo"]
    assert search.postgres.lookup_terms(
        ["smiht", "jo"], counts, anywhere=True, fixes=fixed, fix_counts={"smith": 2}
    ) == ["smiht"]


@pytest.mark.parametrize(
    ("query", "narrowed"),
    [
        ("tayloring ta", True),
        ("ta tayloring", True),
        ("taylor tay1", False),
        ("tayloring t", False),
    ],
)  # "tay1" is rarer than "taylor"; "t" is never looked up
def test_a_narrower_index_lookup_gives_the_same_pages(crowd, monkeypatch, query, narrowed):
    """Past a window of one contact every match comes from the index lookup: left out of
    it (``SPREAD`` 1) or not (a huge ``SPREAD``), a short prefix changes no page."""
    monkeypatch.setattr(search.postgres, "WINDOW", 1)
    monkeypatch.setattr(search.postgres, "FAR", 1)

    def pages() -> list:
        seen, after = [], None
        while True:
            page = contact_search(query=query, after=after, limit=6)
            seen += [row.contacts for row in page.rows]
            if page.next_after is None:
                return seen

            after = page.next_after

    monkeypatch.setattr(search.postgres, "TESTED", 0)
    monkeypatch.setattr(search.postgres, "SPREAD", 10**9)
    whole = pages()
    monkeypatch.setattr(search.postgres, "SPREAD", 1)
    assert pages() == whole
    assert whole, "the query finds nobody: the test would show nothing"
    plan = search.plan_for(query)
    counts = spelling.prefix_counts(plan.terms)
    looked_up = search.postgres.lookup_terms(plan.terms, counts, anywhere=False)
    assert looked_up == [word for word in plan.terms if len(word) > 1 and not (
        narrowed and len(word) < 5)]  # fmt: skip
    monkeypatch.setattr(search.postgres, "TESTED", 10**9)  # the rarest long word alone
    assert pages() == whole
    assert search.postgres.lookup_terms(plan.terms, counts, anywhere=False) == [
        min((word for word in plan.terms if len(word) >= 5), key=counts.__getitem__)
    ]


@pytest.mark.parametrize("query", ["tay", "example.com", "t3@example.com"])
def test_a_rows_contacts_are_the_orms_with_the_row_fields(crowd, query, django_assert_num_queries):
    """The rows' contacts (made without ``Model.__init__``) are what ``only(*ROW_FIELDS)``
    gives: the same values, the same fields deferred (read on first use), saved in place;
    their connection and person come with them (cached, as the descriptors cache them)."""
    from crmhub.contacts.selectors import ROW_FIELDS

    contacts = [contact for row in contact_search(query=query).rows for contact in row.contacts]
    assert contacts, "the query finds nobody: the test would show nothing"
    with django_assert_num_queries(0):
        for contact in contacts:
            assert contact.connection.pk == contact.connection_id
            assert contact.person_id is None or contact.person.pk == contact.person_id
    orm = Contact.objects.only(*ROW_FIELDS).in_bulk([contact.pk for contact in contacts])
    for contact in contacts:
        expected = orm[contact.pk]
        assert contact == expected
        assert contact.get_deferred_fields() == expected.get_deferred_fields()
        assert (contact._state.adding, contact._state.db) == (False, "default")
        for name in ("id", *ROW_FIELDS):
            assert getattr(contact, name) == getattr(expected, name), name
        assert contact.connection.kind in ("allclients", "apptivo")
        assert contact.person_id is None or contact.person.display_name
    one = contacts[0]
    assert one.raw == Contact.objects.get(pk=one.pk).raw  # a deferred field, read when used
    one.company = "Renamed Ltd"
    one.save(update_fields=["company"])
    assert Contact.objects.get(pk=one.pk).company == "Renamed Ltd"


def test_a_bad_cursor_starts_over(crowd):
    assert contact_search(query="tay", after="garbage").rows == contact_search(query="tay").rows


@pytest.mark.parametrize(
    "query", ["tay", "taylor tay5", "t5@example.com", "3125550142", "", "zz", "tayloring"]
)
@pytest.mark.parametrize("limit", [1, 10, 200])
def test_constant_query_count(crowd, django_assert_max_num_queries, query, limit):
    first = contact_search(query=query, limit=limit)
    with django_assert_max_num_queries(8):
        page = contact_search(query=query, limit=limit, after=first.next_after)
        for row in page.rows:
            assert row.kinds and row.title


def test_a_typo_is_forgiven_alike_on_both_databases(index):
    """A name word of five letters or more is corrected; one of four is not (as on SQLite,
    and as the search engines people compare us with do)."""
    page = contact_search(query="John Smiht")
    assert names(page) == ["John Smith"]
    assert page.rows[0].tier == TIER_FUZZY
    assert not contact_search(query="Jonh Smith").rows
    assert contact_search(query="Smith").rows[0].tier < TIER_FUZZY


# -- how many people a search finds ---------------------------------------------------------------
def test_the_count_is_of_people_exact_below_its_cap(index):
    from crmhub.contacts.selectors import contact_search_count

    # Kim Park is in three CRMs: one person; Kimberly Park (Collect!) shares Kim's email.
    people = len(contact_search(query="kim").rows)
    count = contact_search_count(query="kim")
    assert (count.people, count.more) == (people, False)
    assert contact_search_count(query="jo").text == "4 people"  # John, Johnny, José, Johnson
    assert contact_search_count(query="zzzz").text == "0 people"
    one = contact_search_count(query="john.smith@example.com")
    assert one.text == "1 person"
    assert contact_search_count(query="jo", filters={"kinds": ["apptivo"]}).text == "1 person"


def test_past_its_cap_the_count_says_at_least(index):
    from crmhub.contacts.selectors import contact_search_count

    capped = contact_search_count(query="", cap=3)  # everyone in the index: more than 3
    assert (capped.people, capped.more, capped.text) == (3, True, "3+ people")
    exact = contact_search_count(query="", cap=100)
    assert not exact.more and exact.people == len(contact_search(query="", limit=100).rows)


def test_a_count_does_not_read_again_the_tiers_its_first_page_read_to_the_end(crowd):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crmhub.contacts.selectors import contact_search_count

    # No name is the word "tayl" (a tier read to its end); its prefix fills the page.
    page = contact_search(query="tayl")
    assert page.next_after is not None
    with CaptureQueriesContext(connection) as alone:
        expected = contact_search_count(query="tayl")
    with CaptureQueriesContext(connection) as after_page:
        counted = contact_search_count(query="tayl", first_page=page)
    assert counted == expected and counted.people > len(page.rows)
    assert len(after_page) < len(alone)
    # Another search's first page is no help (its tiers are other statements).
    other = contact_search(query="tay")
    with CaptureQueriesContext(connection) as unrelated:
        assert contact_search_count(query="tayl", first_page=other) == expected
    assert len(unrelated) == len(alone)


@pytest.mark.parametrize("query", ["tay", "example.com", "", "tayloring", "taylor tay1"])
@pytest.mark.parametrize("cap", [5, 20, 60])
def test_a_count_takes_the_rows_its_first_page_read_for_it(crowd, monkeypatch, query, cap):
    """A first page reads each tier it runs up to the count's limit, in id order (a broad
    prefix costs SQLite as much for a page's rows as for a count's): its count runs none of
    those statements again, and is the count of the search alone. The page is the same."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crmhub.contacts import selectors

    def statements(captured: CaptureQueriesContext) -> set[str]:
        return {re.sub(r" LIMIT \d+", "", q["sql"]) for q in captured.captured_queries}

    alone = selectors.contact_search_count(query=query, cap=cap)
    monkeypatch.setattr(selectors, "COUNT_CAP", 0)  # a spare of 1 is none
    plain = contact_search(query=query, limit=6)
    monkeypatch.setattr(selectors, "COUNT_CAP", 20)
    with CaptureQueriesContext(connection) as paging:
        page = contact_search(query=query, limit=6)
    assert page.rows == plain.rows and page.next_after == plain.next_after
    assert page.next_after is not None, "one page holds every result: nothing to count"
    with CaptureQueriesContext(connection) as counting:
        assert selectors.contact_search_count(query=query, first_page=page, cap=cap) == alone
    if connection.vendor == "sqlite":  # PostgreSQL's tiers but browse and email: windowed
        again = statements(counting) & statements(paging)
        # A count past the page's spare (cap 60) reads the tier that holds more again.
        assert not again if cap <= 20 or alone.people <= 20 else len(again) <= 1


def test_a_count_does_not_read_again_the_names_counts_its_first_page_read(crowd):
    """PostgreSQL weighs a query's words by how many names start with each (one statement);
    a first page's count takes the page's, or another page's that read the same words."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crmhub.contacts.selectors import contact_search_count

    def weighing(captured: CaptureQueriesContext) -> int:
        return sum("sum(w.live)" in query["sql"] for query in captured.captured_queries)

    with CaptureQueriesContext(connection) as paging:
        page = contact_search(query="taylor tay1", limit=6)
    with CaptureQueriesContext(connection) as counting:
        counted = contact_search_count(query="taylor tay1", first_page=page)
    assert counted == contact_search_count(query="taylor tay1")
    assert weighing(counting) == 0
    assert weighing(paging) == (1 if connection.vendor == "postgresql" else 0)
    other = contact_search(query="tay1 tayloring", limit=6)  # other words: read for this one
    with CaptureQueriesContext(connection) as counting:
        assert contact_search_count(query="taylor tay1", first_page=other) == counted
    assert weighing(counting) == (1 if connection.vendor == "postgresql" else 0)


@pytest.mark.parametrize(("window", "far"), [(1, 1), (4, 3), (37, 80), (1000, 20_000)])
@pytest.mark.parametrize("query", ["tay", "taylor tay1", "tayloring", "tay5"])
@pytest.mark.parametrize("cap", [1_000, 50])
def test_a_tier_a_first_page_found_in_an_index_is_not_looked_up_again_by_its_count(
    crowd, monkeypatch, query, window, far, cap
):
    """On PostgreSQL a first page's tier filled by its index part reads up to the count's
    limit there (``spare``): with fewer matches, the count takes them from the page and
    does not look them up again. The pages and counts are the same."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crmhub.contacts import selectors

    expected = contact_search(query=query, limit=500).rows
    assert expected, "the query finds nobody: the test would show nothing"
    exact = selectors.contact_search_count(query=query, cap=cap)
    monkeypatch.setattr(search.postgres, "WINDOW", window)
    monkeypatch.setattr(search.postgres, "FAR", far)
    statements = []
    for count_cap in (0, cap):  # a spare of 1 is none (the page's own limit is more)
        monkeypatch.setattr(selectors, "COUNT_CAP", count_cap)
        first = contact_search(query=query, limit=6)
        assert first.rows == expected[:6]
        rest = contact_search(query=query, after=first.next_after, limit=500)
        assert first.rows + rest.rows == expected
        with CaptureQueriesContext(connection) as counting:
            assert selectors.contact_search_count(query=query, first_page=first, cap=cap) == exact
        statements.append(len(counting))
    without, spared = statements
    assert spared <= without
    matches = {contact.pk for row in expected for contact in row.contacts}
    # SQLite has no index part; a window of DENSE contacts or more may fill the page.
    if connection.vendor == "postgresql" and window < search.postgres.DENSE:
        assert spared < without or len(matches) > cap


@pytest.mark.parametrize(
    ("window", "far", "dense"), [(1, 1, 1), (1, 9, 1), (4, 3, 2), (4, 40, 1), (37, 80, 5)]
)
@pytest.mark.parametrize("query", ["tay", "taylor", "tayloring", "tay5", "taylor tay1"])
def test_a_count_is_the_same_whatever_its_windows(crowd, monkeypatch, query, window, far, dense):
    """PostgreSQL counts a tier by reading a window of contacts in id order, then (when
    matches are common) a farther one, then the rest from an index: whatever their sizes,
    the count is exact below its cap, and past it says "at least"."""
    from crmhub.contacts.selectors import contact_search_count

    people = len(contact_search(query=query, limit=200).rows)
    assert people, "the query finds nobody: the test would show nothing"
    monkeypatch.setattr(search.postgres, "WINDOW", window)
    monkeypatch.setattr(search.postgres, "COUNT_FAR", far)
    monkeypatch.setattr(search.postgres, "COUNT_DENSE", dense)
    exact = contact_search_count(query=query, cap=500)
    assert (exact.people, exact.more) == (people, False)
    first = contact_search(query=query, limit=6)
    assert contact_search_count(query=query, first_page=first, cap=500) == exact
    capped = contact_search_count(query=query, cap=5)
    assert capped.more and 0 < capped.people <= 5
    assert capped.people == 5 or people > 5


def test_a_first_page_holding_every_result_is_counted_without_a_query(
    index, django_assert_num_queries
):
    from crmhub.contacts.selectors import contact_search_count

    page = contact_search(query="park")
    assert page.next_after is None
    with django_assert_num_queries(0):
        assert contact_search_count(query="park", first_page=page).people == len(page.rows)
    partial = contact_search(query="", limit=2)
    assert partial.next_after is not None
    assert contact_search_count(query="", first_page=partial).people > 2


def _all_pages(query: str) -> list:
    seen, after = [], None
    while True:
        page = contact_search(query=query, after=after, limit=6)
        seen += [(row.tier, [c.pk for c in row.contacts]) for row in page.rows]
        if page.next_after is None:
            return seen
        after = page.next_after


@pytest.mark.parametrize(
    "query",
    [
        "tayl",  # two longer terms: taylor, tayloring
        "taylo",
        "exam",  # 'example', from the emails
        "example",  # the word itself and nothing longer
        "other1",  # more than COMPLETIONS_MAX longer terms: asked as a prefix
        "tay1",
        "tay1 tayl",
        "exam tayl",
        "taylr",  # a typo: the typo tier's words completed too
        "zzzz",  # no term at all
    ],
)
def test_a_long_prefix_asked_as_its_completions_finds_what_the_prefix_finds(
    crowd, monkeypatch, query
):
    """SQLite: a typed word of four letters or more is asked as itself or the index's
    longer terms that start with it (read lazily, in rowid order), not as a prefix that
    FTS5 reads whole: the same rows, tiers and pages, counts included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crmhub.contacts.selectors import contact_search_count

    with CaptureQueriesContext(connection) as captured:
        completed = _all_pages(query)
    counted = contact_search_count(query=query)
    monkeypatch.setattr(search.sqlite, "_PLAIN_WORD", search.sqlite.re.compile(r"(?!)"))
    assert _all_pages(query) == completed
    assert contact_search_count(query=query) == counted
    if query != "zzzz":
        assert completed, "the query finds nobody: the test would show nothing"
    vocabulary = any("contacts_contact_fts_vocab" in q["sql"] for q in captured.captured_queries)
    assert vocabulary == (connection.vendor == "sqlite")


def test_the_completions_of_a_prefix_are_the_index_terms_past_the_word(crowd):
    """What the statement picks for a typed word: its completions, or the prefix as typed
    when more than ``COMPLETIONS_MAX`` terms start with it."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's full-text index")
    with connection.cursor() as cursor:
        for word, expected in [
            ("tayl", {'("tayl" OR "taylor" OR "tayloring")'}),
            ("taylor", {'("taylor" OR "tayloring")'}),
            ("tayloring", {'"tayloring"'}),
            ("other1", {'"other1"*'}),
        ]:
            assert _chosen(cursor, word, names=False) == expected, word


def _chosen(cursor, word: str, *, names: bool) -> set[str]:  # type: ignore[no-untyped-def]
    """Return the FTS5 text the statement picks for ``word`` typed as a prefix."""
    piece = search.sqlite._word(word, prefix=True, names=names)
    sql, params = search.sqlite.Match(piece).sql()
    cursor.execute(f"SELECT {sql}", params)
    (chosen,) = cursor.fetchone()
    if chosen.startswith("("):  # the order of the OR-ed terms is SQLite's
        chosen = "(" + " OR ".join(sorted(chosen[1:-1].split(" OR "))) + ")"
    return {chosen}


def test_a_name_prefix_is_completed_from_the_live_name_words(crowd):
    """In the names column over live contacts, a typed prefix is completed from the name
    words (``NameWord``), not the index's terms: the emails' words ("other51") and a word
    of five letters or more that no name holds ("examp": "example", of the emails) are not
    asked for; a word of five letters or more is asked as its name words alone."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's full-text index")
    with connection.cursor() as cursor:
        for word, expected in [
            ("tayl", {'("tayl" OR "taylor" OR "tayloring")'}),  # "tayl": a four-letter name
            ("taylo", {'("taylor" OR "tayloring")'}),
            ("taylor", {'("taylor" OR "tayloring")'}),
            ("tayloring", {'("tayloring")'}),
            ("othe", {'"othe"'}),  # the index holds other51 ... other149: no name
            ("examp", {'"examp"'}),
        ]:
            assert _chosen(cursor, word, names=True) == expected, word
        assert _chosen(cursor, "othe", names=False) == {'"othe"*'}


@pytest.mark.parametrize(
    "query",
    ["othe", "othe tay", "tay othe", "example", "taylor", "taylo", "tayloring", "tayl taylor"],
)
def test_a_name_prefix_completed_from_the_name_words_finds_what_the_prefix_finds(
    crowd, monkeypatch, query
):
    """The name tiers asked with the name words' completions, and skipped when the name
    words tell they find nobody, give the same pages and counts as the prefixes as typed
    (and as with the index's terms, for every contact)."""
    from crmhub.contacts.selectors import contact_search_count

    completed = _all_pages(query)
    counted = contact_search_count(query=query)
    deleted = contact_search_count(query=query, filters={"include_deleted": True})
    assert completed, "the query finds nobody: the test would show nothing"
    monkeypatch.setattr(search.sqlite, "_PLAIN_WORD", search.sqlite.re.compile(r"(?!)"))
    monkeypatch.setattr(search.sqlite, "_unless", lambda conditions, match: match)
    assert _all_pages(query) == completed
    assert contact_search_count(query=query) == counted
    assert contact_search_count(query=query, filters={"include_deleted": True}) == deleted


@pytest.mark.parametrize(
    ("query", "word_tier_skipped", "prefix_tier_skipped"),
    [
        ("taylo", True, False),  # starts the name word "taylor" and is none
        ("taylor", False, False),  # a name word, and "tayloring" starts with it
        ("tayloring", False, True),  # a name word that starts no longer one
        ("tayl", False, False),  # four letters: not known as a name word or not
        ("tayloring tay", False, False),  # "tay": three letters, its longer words unknown
    ],
)
def test_the_name_tiers_are_skipped_when_the_name_words_tell_they_find_nobody(
    crowd, query, word_tier_skipped, prefix_tier_skipped
):
    """SQLite, live contacts: the whole-name-word tier asks FTS5 for nothing when a word
    of five letters or more is no live name word, and the name-prefix tier when no word
    (each of four letters or more) starts a longer live name word."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's full-text index")
    chosen = {}
    with connection.cursor() as cursor:
        for tier, match, _ in search.sqlite.tiers(search.plan_for(query), live_only=True):
            sql, params = match.sql()
            cursor.execute(f"SELECT {sql}", params)
            chosen[tier] = cursor.fetchone()[0]
        for _, match, _ in search.sqlite.tiers(search.plan_for(query), live_only=False):
            sql, params = match.sql()
            cursor.execute(f"SELECT {sql}", params)
            assert cursor.fetchone()[0] != search.sqlite.NOTHING
    assert (chosen[search.TIER_NAME_WORD] == search.sqlite.NOTHING) == word_tier_skipped
    assert (chosen[search.TIER_NAME_PREFIX] == search.sqlite.NOTHING) == prefix_tier_skipped


@pytest.fixture
def switchboards(make_connection, fake_crms):  # type: ignore[no-untyped-def]
    """40 people at Globex (one a Globex by name), each with an address of their own
    switchboard's domain (``globex0`` ... ``globex39``, more than ``COMPLETIONS_MAX``
    terms longer than "globex"), a few at Globetrotters, and 20 at Initech (with their
    own domains)."""
    ac = make_connection("allclients", name="ac")
    fake_crms["allclients"].contacts = [
        remote(n, f"Sam{n}", "Globex" if n == 7 else "Lee", company="Globex Inc",
               email=f"sam{n}@globex{n}.example.com")
        for n in range(40)
    ] + [remote(100 + n, f"Kim{n}", "Park", company="Globetrotters") for n in range(3)] + [
        remote(200 + n, f"Ian{n}", "Moss", company="Initech", email=f"ian@initech{n}.example.com")
        for n in range(20)
    ]  # fmt: skip
    sync(ac, mode="full")
    return ac


def test_a_word_with_too_many_completions_is_asked_as_itself_or_its_longer_prefixes(
    switchboards,
):
    """SQLite: a typed word that is a term of the index with more than
    ``COMPLETIONS_MAX`` longer terms is asked as itself or one of its prefixes a letter
    longer (its own doclist read lazily); a word that is no term, as typed."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's full-text index")
    letters = search.sqlite._TERM_LETTERS

    def split(term: str) -> set[str]:
        return {"(" + " OR ".join(sorted([f'"{term}"'] + [f'"{term}{x}"*' for x in letters])) + ")"}

    with connection.cursor() as cursor:
        assert _chosen(cursor, "globex", names=False) == split("globex")
        # No term itself, and its terms not all "globex" or longer (globetrotters).
        assert _chosen(cursor, "globe", names=False) == {'"globe"*'}
        assert _chosen(cursor, "glob", names=False) == {'"glob"*'}
        # No term itself, every term "initech" or longer.
        assert _chosen(cursor, "init", names=False) == split("initech")
        assert _chosen(cursor, "initec", names=False) == split("initech")


@pytest.mark.parametrize(
    "query", ["globex", "globe", "glob", "globex sam1", "sam globex1", "init", "init ian1"]
)
def test_a_word_asked_as_its_longer_prefixes_finds_what_the_prefix_finds(
    switchboards, monkeypatch, query
):
    """The same pages and counts as the prefix as typed, on both databases."""
    from crmhub.contacts.selectors import contact_search_count

    completed = _all_pages(query)
    counted = contact_search_count(query=query)
    assert completed, "the query finds nobody: the test would show nothing"
    monkeypatch.setattr(search.sqlite, "_PLAIN_WORD", search.sqlite.re.compile(r"(?!)"))
    monkeypatch.setattr(search.sqlite, "_unless", lambda conditions, match: match)
    assert _all_pages(query) == completed
    assert contact_search_count(query=query) == counted
