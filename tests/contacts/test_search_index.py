"""The full-text index stays in step with every bulk write (and survives migrations)."""

from __future__ import annotations

import pytest
from django.db import connection as db

from crmhub.contacts.models import Contact
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


def _check() -> None:
    with db.cursor() as cursor:
        if db.vendor == "sqlite":
            # Raises if the FTS index and the contacts table disagree in any row.
            cursor.execute(
                "INSERT INTO contacts_contact_fts(contacts_contact_fts, rank) "
                "VALUES ('integrity-check', 1)"
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM contacts_contact WHERE search_vector IS NULL "
                "OR search_vector <> (setweight(to_tsvector('simple', search_names), 'A') "
                "|| setweight(to_tsvector('simple', search_other), 'B') "
                "|| setweight(to_tsvector('simple', search_phones), 'C'))"
            )
            assert cursor.fetchone()[0] == 0


def test_the_index_follows_inserts_updates_restores_and_deletes(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = [remote(n, f"Name{n}", "Old", email=f"p{n}@example.com") for n in range(40)]
    sync(connection, mode="full")
    _check()

    crm.contacts = [remote(n, f"Name{n}", "New", email=f"q{n}@example.com") for n in range(30)]
    sync(connection, mode="full")  # 30 changed, 10 marked deleted
    _check()
    Contact.objects.filter(remote_id__in=["1", "2"]).delete()
    _check()

    from crmhub.contacts.selectors import contact_search

    assert len(contact_search(query="new", limit=100).rows) == 28
    assert contact_search(query="old").rows == ()


def test_the_sqlite_triggers_exist():
    if db.vendor != "sqlite":
        pytest.skip("SQLite only")
    with db.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall()}
    # A later migration that rebuilds contacts_contact on SQLite drops these: re-create them.
    assert {
        "contacts_contact_fts_insert",
        "contacts_contact_fts_update",
        "contacts_contact_fts_delete",
    } <= names


def _segments() -> int:
    """Return how many rows the FTS5 index's segment index holds (one per leaf range of
    each segment: fewer after a merge)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contact_fts_idx")
        return cursor.fetchone()[0]


def test_a_large_sync_merges_the_index_and_search_finds_the_same(
    connection, fake_crms, monkeypatch
):
    from crmhub.contacts import search
    from crmhub.contacts.selectors import contact_search

    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 10**9)  # not merged by the syncs
    crm = fake_crms["allclients"]
    for first in range(0, 150, 25):  # six syncs: the index takes six sets of segments
        crm.contacts = [remote(n, f"Name{n}", "Same") for n in range(first + 25)]
        sync(connection, mode="full")
    before = contact_search(query="same", limit=200).rows
    assert search.search_index_compact(written=150) is False  # under the threshold

    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 100)
    merged = search.search_index_compact(written=150)

    assert merged is True
    _check()
    assert contact_search(query="same", limit=200).rows == before
    assert len(before) == 150


def test_merging_fewer_segments_on_sqlite(connection, fake_crms, monkeypatch):
    if db.vendor != "sqlite":
        pytest.skip("SQLite only")
    from crmhub.contacts import search

    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 10**9)
    crm = fake_crms["allclients"]
    for first in range(0, 300, 50):
        crm.contacts = [remote(n, f"Name{n}") for n in range(first + 50)]
        sync(connection, mode="full")
    spread = _segments()
    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 1)
    search.search_index_compact(written=1)
    assert _segments() < spread


def test_the_sync_task_merges_after_a_large_sync_and_survives_a_failed_merge(
    connection, fake_crms, monkeypatch
):
    from crmhub.contacts import search

    asked: list[int] = []

    def merge(*, written):  # type: ignore[no-untyped-def]
        asked.append(written)
        raise RuntimeError("disk full")

    monkeypatch.setattr(search, "search_index_compact", merge)
    fake_crms["allclients"].contacts = [remote(n) for n in range(250)]
    run = sync(connection, mode="full")

    assert asked == [250]
    assert run.state == "succeeded"


def test_a_large_sync_merges_postgresql_pending_lists(connection, fake_crms, monkeypatch):
    """A GIN index takes new rows into a pending list that every lookup reads; the merge
    after a large sync leaves nothing pending. (Counting the pending pages cleans them, so
    the count is taken after the merge only: without the merge 300 new rows leave some.)"""
    if db.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from crmhub.contacts import search
    from crmhub.contacts.selectors import contact_search

    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 10**9)
    fake_crms["allclients"].contacts = [remote(n, f"Name{n}", "Same") for n in range(300)]
    sync(connection, mode="full")
    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 100)
    assert search.search_index_compact(written=300) is True

    with db.cursor() as cursor:
        for index in search.GIN_INDEXES:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
            assert cursor.fetchone()[0] == 0, index
    assert contact_search(query="name299 same").rows[0].title == "Name299 Same"


def _vacuums() -> int:
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_vacuum_count('contacts_contact'::regclass)")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_sync_rewriting_much_of_the_index_vacuums_it_on_postgresql(
    connection, fake_crms, monkeypatch
):
    """A large sync and its matching leave a dead row version (and its GIN entries) per
    contact written: the compaction vacuums them away when the sync wrote at least
    ``VACUUM_SHARE`` of the contacts, else it only analyses, as before; in a transaction
    (where VACUUM cannot run) it analyses."""
    if db.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.db import transaction

    from crmhub.contacts import search

    monkeypatch.setattr(search, "COMPACT_MIN_WRITTEN", 10)
    fake_crms["allclients"].contacts = [remote(n, f"Name{n}", "Same") for n in range(300)]
    sync(connection, mode="full")
    with db.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    before = _vacuums()
    assert search.search_index_compact(written=20) is True  # 20 of 300: analysed only
    assert _vacuums() == before
    with transaction.atomic():
        assert search.search_index_compact(written=300) is True
    assert _vacuums() == before
    assert search.search_index_compact(written=300) is True
    assert _vacuums() == before + 1
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'contacts_contact'"
        )
        assert cursor.fetchone()[0] == 0
