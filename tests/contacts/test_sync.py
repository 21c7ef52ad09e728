"""Sync: counts over scripted remote changes, deletion and resurrection, anomalies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crmhub.contacts.models import Contact, ContactKey, SyncRun
from crmhub.contacts.sync.runs import INCREMENTAL_OVERLAP
from tests.contacts.conftest import remote
from tests.contacts.helpers import counts, index_of, sync

pytestmark = pytest.mark.django_db


def people(count: int, *, start: int = 1) -> list:
    return [
        remote(n, f"First{n}", f"Last{n}", email=f"p{n}@example.com", phone=f"312-555-{n:04d}")
        for n in range(start, start + count)
    ]


def test_first_sync_creates_every_contact_with_its_keys(connection, fake_crms):
    fake_crms["allclients"].contacts = people(250)

    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert counts(run) == {"fetched": 250, "created": 250, "updated": 0, "unchanged": 0,
                           "deleted": 0}  # fmt: skip
    assert run.pages == 1 and run.expected_total == 250 and run.progress == 100
    contact = Contact.objects.get(connection=connection, remote_id="7")
    assert contact.email_keys == ["p7@example.com"]
    assert contact.phone_keys == ["+13125550007"]
    assert sorted(contact.keys.values_list("type", "value")) == [
        ("email", "p7@example.com"),
        ("phone", "+13125550007"),
    ]
    assert ContactKey.objects.count() == 500


def test_counts_over_scripted_changes(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(120)
    sync(connection, mode="full")

    crm.contacts = [
        *people(100),  # 1..100 unchanged
        remote(101, "Changed", "Name", email="p101@example.com"),  # 101 changed
        *people(18, start=102),  # 102..119 unchanged; 120 is gone
        *people(5, start=500),  # 5 new
    ]
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert counts(run) == {"fetched": 124, "created": 5, "updated": 1, "unchanged": 118,
                           "deleted": 1}  # fmt: skip
    assert Contact.objects.get(remote_id="101").first_name == "Changed"
    gone = Contact.objects.get(remote_id="120")
    assert gone.deleted_at is not None  # marked, never dropped
    assert Contact.objects.filter(connection=connection).count() == 125


def test_the_connection_keeps_its_live_count_as_of_the_last_sync(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(40)
    sync(connection, mode="full")
    connection.refresh_from_db()
    assert connection.contacts_live == 40

    crm.contacts = people(30, start=11)  # 1..10 gone, 31..40 new
    sync(connection, mode="full")
    connection.refresh_from_db()
    assert connection.contacts_live == 30
    assert Contact.objects.filter(connection=connection).count() == 40


def test_nothing_changed_writes_nothing(connection, fake_crms):
    fake_crms["allclients"].contacts = people(300)
    sync(connection, mode="full")
    before = list(Contact.objects.order_by("pk").values_list("pk", "synced_at", "content_hash"))

    run = sync(connection, mode="full")

    assert counts(run) == {"fetched": 300, "created": 0, "updated": 0, "unchanged": 300,
                           "deleted": 0}  # fmt: skip
    assert run.written == 0
    after = list(Contact.objects.order_by("pk").values_list("pk", "synced_at", "content_hash"))
    assert after == before


def test_a_contact_that_comes_back_is_restored(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(30)
    sync(connection, mode="full")
    crm.contacts = people(29)
    assert sync(connection, mode="full").deleted == 1
    assert Contact.objects.get(remote_id="30").deleted_at is not None

    crm.contacts = people(30)
    run = sync(connection, mode="full")

    assert (run.created, run.updated, run.deleted) == (0, 1, 0)
    restored = Contact.objects.get(remote_id="30")
    assert restored.deleted_at is None
    assert Contact.objects.filter(remote_id="30").count() == 1


def test_empty_full_pass_where_there_were_many_is_flagged_not_applied(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    sync(connection, mode="full")

    crm.contacts = []
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.FLAGGED
    assert "no contact" in run.error
    assert run.deleted == 0 and run.missing == 100
    assert not Contact.objects.filter(deleted_at__isnull=False).exists()


def test_mass_vanishing_is_flagged_until_staff_allow_it(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    sync(connection, mode="full")
    crm.contacts = people(30)

    flagged = sync(connection, mode="full")
    assert flagged.state == SyncRun.State.FLAGGED
    assert "70 of 100" in flagged.error
    assert Contact.objects.filter(deleted_at__isnull=False).count() == 0

    allowed = sync(connection, mode="full", confirms=flagged)
    assert allowed.state == SyncRun.State.SUCCEEDED
    assert allowed.deleted == 70
    assert allowed.allow_mass_deletion and allowed.confirms == flagged


def test_a_confirmation_applies_at_most_what_the_flagged_run_found_missing(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    sync(connection, mode="full")
    crm.contacts = people(30)
    flagged = sync(connection, mode="full")
    assert flagged.state == SyncRun.State.FLAGGED and flagged.missing == 70

    crm.contacts = people(20)  # by the re-run, ten more have vanished
    again = sync(connection, mode="full", confirms=flagged)
    assert again.state == SyncRun.State.FLAGGED
    assert "10 of the 80 contacts missing now were not missing in the confirmed run" in again.error
    assert not Contact.objects.filter(deleted_at__isnull=False).exists()

    crm.contacts = people(40)  # fewer missing than confirmed: those are applied
    fewer = sync(connection, mode="full", confirms=flagged)
    assert fewer.state == SyncRun.State.SUCCEEDED
    assert fewer.deleted == 60
    gone = set(Contact.objects.filter(deleted_at__isnull=False).values_list("remote_id", flat=True))
    assert gone == {str(n) for n in range(41, 101)}


def test_a_confirmed_re_run_that_lists_nothing_is_flagged_again(connection, fake_crms):
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    sync(connection, mode="full")
    crm.contacts = people(30)
    flagged = sync(connection, mode="full")

    crm.contacts = []
    empty = sync(connection, mode="full", confirms=flagged)
    assert empty.state == SyncRun.State.FLAGGED
    assert "listed no contact" in empty.error
    assert not Contact.objects.filter(deleted_at__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_deletions_are_written_a_chunk_a_transaction(connection, fake_crms, monkeypatch):
    from django.db import transaction

    from crmhub.contacts.sync import passes

    monkeypatch.setattr(passes, "DELETE_CHUNK", 7)
    crm = fake_crms["allclients"]
    crm.contacts = people(100)
    sync(connection, mode="full", match=False)
    crm.contacts = people(80)
    events: list[str] = []
    mark = passes.contacts_mark_deleted

    def marked(*, pks, now):  # type: ignore[no-untyped-def]
        events.append(f"delete {len(pks)}")
        transaction.on_commit(lambda: events.append("commit"))
        return mark(pks=pks, now=now)

    monkeypatch.setattr(passes, "contacts_mark_deleted", marked)
    run = sync(connection, mode="full", match=False)

    assert run.state == SyncRun.State.SUCCEEDED and run.deleted == 20
    assert events == ["delete 7", "commit", "delete 7", "commit", "delete 6", "commit"]


def test_a_listing_without_a_total_deletes_no_more_than_a_tenth_unconfirmed(
    connection, fake_crms, monkeypatch
):
    crm = fake_crms["allclients"]
    original = crm.iter_contact_pages

    def untotalled(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        for page in original(self, since=since, page_size=page_size):
            yield replace(page, total=None)

    monkeypatch.setattr(crm, "iter_contact_pages", untotalled)
    crm.contacts = people(100)
    sync(connection, mode="full")
    crm.contacts = people(90)
    tenth = sync(connection, mode="full")
    assert tenth.state == SyncRun.State.SUCCEEDED and tenth.deleted == 10
    crm.contacts = people(78)
    more = sync(connection, mode="full")
    assert more.state == SyncRun.State.FLAGGED, "12 of 90 (13%): over the 10% share"
    assert "12 of 90" in more.error


def test_a_listing_shorter_than_announced_deletes_nothing(connection, fake_crms, monkeypatch):
    crm = fake_crms["allclients"]
    crm.contacts = people(50)
    sync(connection, mode="full")
    original = crm.iter_contact_pages

    def short(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        for page in original(self, since=since, page_size=page_size):
            yield replace(page, contacts=page.contacts[:-3])  # total still says 50

    monkeypatch.setattr(crm, "iter_contact_pages", short)
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.FLAGGED
    assert "announced 50" in run.error
    assert run.deleted == 0


def test_incremental_asks_only_for_changes_and_never_deletes(connection, fake_crms):
    crm = fake_crms["allclients"]
    old, latest = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    first_state = [replace(c, updated_at=old) for c in people(40)]
    crm.contacts = [*first_state, remote(41, "Last", "Changed", updated_at=latest)]
    first = sync(connection)  # no previous run: full
    assert first.mode == SyncRun.Mode.FULL
    assert first.cursor == latest  # the newest change seen (the remote's clock)

    recent = datetime.now(UTC)
    crm.contacts = [
        *first_state[:38],  # 39 and 40 vanished: only a full pass can tell
        remote(41, "Last", "Changed", updated_at=latest),
        remote(1, "Renamed", "Person", email="p1@example.com", updated_at=recent),
        remote(900, "New", "Person", updated_at=recent),
    ]
    run = sync(connection)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.since == latest - INCREMENTAL_OVERLAP  # asks again a little before
    assert run.fetched == 3
    assert (run.created, run.updated, run.unchanged, run.deleted) == (1, 1, 1, 0)
    assert Contact.objects.filter(deleted_at__isnull=False).count() == 0


def test_full_pass_when_the_interval_has_passed(connection, fake_crms):
    fake_crms["allclients"].contacts = people(5)
    sync(connection)
    SyncRun.objects.filter(mode="full").update(finished_at=datetime(2020, 1, 1, tzinfo=UTC))

    assert sync(connection).mode == SyncRun.Mode.FULL


def test_a_connector_without_incremental_always_runs_full(connection, fake_crms):
    fake_crms["allclients"].supports_incremental = False
    fake_crms["allclients"].contacts = people(5)
    sync(connection)

    assert sync(connection, mode="incremental").mode == SyncRun.Mode.FULL


def test_kill_mid_sync_then_resume_leaves_the_same_index_as_a_clean_run(
    connection, make_connection, fake_crms
):
    crm = fake_crms["allclients"]
    crm.contacts = people(1050)
    crm.page_error_at = 1  # page 0 is written, then the remote fails

    broken = sync(connection, mode="full")
    assert broken.state == SyncRun.State.FAILED
    assert "injected page failure" in broken.error
    assert broken.created == 500 and broken.deleted == 0

    crm.page_error_at = None
    resumed = sync(connection, mode="full")
    assert resumed.state == SyncRun.State.SUCCEEDED
    assert (resumed.created, resumed.unchanged) == (550, 500)

    clean = make_connection("allclients", name="clean")
    sync(clean, mode="full")
    assert index_of(connection) == index_of(clean)
    assert Contact.objects.filter(connection=connection).count() == 1050


def test_a_looping_listing_is_stopped_and_failed(connection, fake_crms, monkeypatch):
    crm = fake_crms["allclients"]
    crm.contacts = people(10)
    original = crm.iter_contact_pages

    def loop(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        page = next(iter(original(self, since=since, page_size=page_size)))
        while True:
            yield replace(page, total=None)

    monkeypatch.setattr(crm, "iter_contact_pages", loop)
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.FAILED
    assert "loops" in run.error
    assert run.pages == 2


def test_an_unexpected_error_fails_the_run_without_secrets(connection, fake_crms, monkeypatch):
    connection.set_secrets({"api_key": "s3cr3t-value-123"})
    connection.save()
    fake_crms["allclients"].contacts = people(3)

    def boom(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database said s3cr3t-value-123")

    monkeypatch.setattr("crmhub.contacts.sync.passes.pages_apply", boom)
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.FAILED
    assert "RuntimeError" in run.error
    assert "s3cr3t-value-123" not in run.error


def test_auth_failure_marks_the_connection(connection, fake_crms, monkeypatch):
    from crmhub.connectors import errors

    def refused(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        raise errors.AuthFailed("Authentication failed")
        yield  # pragma: no cover

    monkeypatch.setattr(fake_crms["allclients"], "iter_contact_pages", refused)
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.FAILED
    connection.refresh_from_db()
    assert connection.health == "auth_failed"


def test_success_marks_the_connection_healthy(connection, fake_crms):
    fake_crms["allclients"].contacts = people(2)
    sync(connection)
    connection.refresh_from_db()
    assert connection.health == "ok"


def test_unparseable_phone_keeps_digits_for_search_but_no_key(connection, fake_crms):
    fake_crms["allclients"].contacts = [remote(1, phone="ext. 12-34"), remote(2, phone="garbage")]
    sync(connection)

    first = Contact.objects.get(remote_id="1")
    assert first.phone_keys == [] and first.search_phones == "1234"
    assert not ContactKey.objects.filter(type="phone").exists()


def test_connection_country_is_the_default_region(make_connection, fake_crms):
    gb = make_connection("allclients", name="UK", country="GB")
    fake_crms["allclients"].contacts = [remote(1, phone="020 7946 0958")]
    sync(gb)
    assert Contact.objects.get(connection=gb).phone_keys == ["+442079460958"]


def test_a_contact_another_writer_inserted_meanwhile_is_updated_not_duplicated(
    connection, monkeypatch
):
    from crmhub.bench.index import contacts_write
    from crmhub.contacts.sync import writer

    def apply(contacts):  # type: ignore[no-untyped-def]
        return contacts_write(connection=connection, contacts=contacts)

    apply(people(1))  # written by the other writer (a zombie worker, say)
    monkeypatch.setattr(writer, "existing", lambda connection_id, remote_ids: {})
    outcome = apply([remote(1, "Later", "Name", email="p1@example.com"), *people(2, start=2)])

    assert Contact.objects.count() == 3
    assert Contact.objects.get(remote_id="1").first_name == "Later"
    assert len(set(outcome.pks)) == 3
    # The plain inserts PostgreSQL tries first met the other writer's contact and key: the
    # rows went in again with ON CONFLICT, the key once.
    keys = ContactKey.objects.filter(contact__remote_id="1", type="email")
    assert list(keys.values_list("value", flat=True)) == ["p1@example.com"]
    assert ContactKey.objects.filter(contact__remote_id__in=["2", "3"]).count() == 4


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 7, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2014, 2, 15, 13, 15, 5)
        .astimezone(UTC)
        .astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago")),
    ],
)
def test_remote_update_times_are_written_as_django_writes_them(moment):  # type: ignore[no-untyped-def]
    from django.db import connection as db

    from crmhub.contacts.sync.writer import _datetime

    assert _datetime(db.ops, moment) == db.ops.adapt_datetimefield_value(moment)


def test_awkward_values_are_written_and_read_back_unchanged(connection, fake_crms):
    """The writer's statements (one JSON parameter a statement on PostgreSQL, marks on
    SQLite) carry quotes, backslashes, accents, JSON and time zones exactly."""
    chicago = __import__("zoneinfo").ZoneInfo("America/Chicago")
    moment = datetime(2025, 3, 9, 1, 59, 59, 123456, tzinfo=chicago)
    awkward = replace(
        remote(1, 'O\'Brien "Jr"', "Zoë\\Ünal", email="o'b@example.com", company="A, {B} & C"),
        full_name="",
        updated_at=moment,
        raw={"id": "1", "note": "quote ' \" back \\ brace {x} ,NULL", "n": [1, 2.5, None]},
    )
    fake_crms["allclients"].contacts = [awkward, *people(3, start=2)]

    run = sync(connection, mode="full", match=False)

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    contact = Contact.objects.get(connection=connection, remote_id="1")
    assert (contact.first_name, contact.last_name) == ('O\'Brien "Jr"', "Zoë\\Ünal")
    assert contact.company == "A, {B} & C"
    assert contact.emails == ["o'b@example.com"] and contact.email_keys == ["o'b@example.com"]
    assert contact.raw == awkward.raw
    assert contact.remote_updated_at == moment
    assert contact.needs_match and contact.deleted_at is None and contact.person_id is None
    assert contact.synced_at is not None and contact.matched_by == ""
    assert list(contact.keys.values_list("type", "value")) == [("email", "o'b@example.com")]
    assert sync(connection, mode="full").unchanged == 4  # what was written hashes the same


@pytest.mark.django_db(transaction=True)
def test_writes_hold_outside_a_transaction_and_after_one_rolled_back(connection):
    """The writer works in autocommit and after a rolled-back write on the same database
    connection (PostgreSQL stages rows in a temporary table that a rollback takes away)."""
    from django.db import connection as db
    from django.db import transaction
    from django.utils import timezone

    from crmhub.contacts.sync import writer
    from crmhub.contacts.sync.rows import row_from_remote

    def ready(n: int) -> writer.Prepared:
        row = row_from_remote(people(1, start=n)[0], country=connection.country)
        return writer.prepared(connection.pk, row, db.ops)

    now = timezone.now()
    with transaction.atomic():
        writer.upsert(connection.pk, [ready(1)], now, {"1"})
        transaction.set_rollback(True)
    assert not Contact.objects.exists()

    rows = [ready(1), ready(2)]
    ids = writer.upsert(connection.pk, rows, now, {"1", "2"})
    writer.keys_write([(ids[row.remote_id], row) for row in rows], replace=[])

    assert set(ids) == {"1", "2"}
    assert sorted(Contact.objects.values_list("remote_id", "first_name")) == [
        ("1", "First1"),
        ("2", "First2"),
    ]
    assert sorted(ContactKey.objects.values_list("contact_id", "value")) == sorted(
        [(ids["1"], "p1@example.com"), (ids["1"], "+13125550001"),
         (ids["2"], "p2@example.com"), (ids["2"], "+13125550002")]
    )  # fmt: skip


def _reltuples() -> float:
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'contacts_contact'::regclass")
        return float(cursor.fetchone()[0])


def _refreshes_recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Record each ``statistics_refresh`` a pass asks (contacts created, whether it ran),
    refreshing from 100 contacts created (``ANALYZE_MIN_CREATED``)."""
    from crmhub.contacts.sync import passes, writer

    calls: list[tuple[int, bool]] = []
    refresh = writer.statistics_refresh

    def recorded(*, created: int) -> bool:
        calls.append((created, done := refresh(created=created)))
        return done

    monkeypatch.setattr(passes, "statistics_refresh", recorded)
    monkeypatch.setattr(writer, "ANALYZE_MIN_CREATED", 100)
    return calls


def test_a_pass_filling_the_index_has_its_statistics_refreshed(connection, fake_crms, monkeypatch):
    """On PostgreSQL a pass that created as many contacts as the planner's statistics
    count has them refreshed (``existing`` then probes the unique index by remote id, not
    every contact of the connection); SQLite is never asked."""
    from django.db import connection as db

    calls = _refreshes_recorded(monkeypatch)
    fake_crms["allclients"].contacts = people(1200)

    assert sync(connection, mode="full").created == 1200

    if db.vendor != "postgresql":
        assert calls == [(1200, False)]
        return
    assert calls == [(1200, True)]
    assert _reltuples() == 1200
    # Known now: the next pass's 10 new contacts are not enough to refresh them again.
    calls.clear()
    fake_crms["allclients"].contacts = people(1210)
    assert sync(connection, mode="full").created == 10
    assert calls == [(10, False)]
    assert _reltuples() == 1200


def test_a_first_pass_has_its_statistics_refreshed_once_at_its_end(
    connection, fake_crms, monkeypatch
):
    """A first pass looks nothing up while its contacts are all new: on PostgreSQL the
    statistics are refreshed once, when it ends, not each time its batches doubled the
    table; later batches and passes find them up to date."""
    from django.db import connection as db

    from crmhub.contacts.sync import passes

    calls = _refreshes_recorded(monkeypatch)
    monkeypatch.setattr(passes, "BATCH_CONTACTS", passes.PAGE_SIZE)  # a page a batch
    fake_crms["allclients"].contacts = people(1200)

    run = sync(connection, mode="full")

    assert (run.created, run.pages) == (1200, 3)
    if db.vendor != "postgresql":
        assert calls and not any(done for _, done in calls)
        return
    assert calls == [(1200, True)]
    assert _reltuples() == 1200


def test_statistics_are_refreshed_once_the_created_contacts_double_the_known_rows(
    connection, fake_crms
):
    """Below ``ANALYZE_MIN_CREATED`` nothing is asked; above it, the statistics are
    refreshed when the contacts created since are at least as many as they count."""
    from django.db import connection as db

    from crmhub.contacts.sync.writer import ANALYZE_MIN_CREATED, statistics_refresh

    assert statistics_refresh(created=ANALYZE_MIN_CREATED - 1) is False
    if db.vendor != "postgresql":
        assert statistics_refresh(created=10 * ANALYZE_MIN_CREATED) is False
        return
    fake_crms["allclients"].contacts = people(30)
    sync(connection, mode="full")
    with db.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    assert _reltuples() == 30
    assert statistics_refresh(created=ANALYZE_MIN_CREATED) is True
    assert _reltuples() == 30


def test_deleting_contacts_through_django_takes_their_keys(connection, fake_crms):
    """No foreign key constraint checks the keys' contact on PostgreSQL: Django's cascade
    deletes a contact's keys with it, on both databases."""
    fake_crms["allclients"].contacts = people(3)
    sync(connection, mode="full")

    Contact.objects.get(connection=connection, remote_id="1").delete()
    assert sorted(ContactKey.objects.values_list("value", flat=True)) == [
        "+13125550002", "+13125550003", "p2@example.com", "p3@example.com",
    ]  # fmt: skip
    Contact.objects.filter(connection=connection).delete()
    assert not ContactKey.objects.exists()


def _lookups_counted(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Count the contacts each lookup of ``writer.existing`` is asked for."""
    from crmhub.contacts.sync import writer

    asked: list[int] = []
    real = writer.existing

    def counted(connection_id, remote_ids):  # type: ignore[no-untyped-def]
        asked.append(len(remote_ids))
        return real(connection_id, remote_ids)

    monkeypatch.setattr(writer, "existing", counted)
    return asked


def _vocabulary() -> list[tuple[str, int]]:
    from crmhub.contacts.models import NameWord

    return sorted(NameWord.objects.values_list("word", "live"))


def test_a_first_pass_inserts_its_contacts_without_looking_them_up(
    connection, fake_crms, monkeypatch
):
    """Nothing of the connection is in the index: on PostgreSQL no lookup (it could find
    nothing), every contact inserted as new; SQLite looks them up as before. The next pass
    looks them up and finds them unchanged."""
    from django.db import connection as db

    from crmhub.contacts import spelling

    asked = _lookups_counted(monkeypatch)
    fake_crms["allclients"].contacts = people(250)

    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    first = [] if db.vendor == "postgresql" else [250]
    assert asked == first
    assert counts(run) == {"fetched": 250, "created": 250, "updated": 0, "unchanged": 0,
                           "deleted": 0}  # fmt: skip
    assert ContactKey.objects.count() == 500
    words = _vocabulary()
    spelling.vocabulary_rebuild()
    assert words == _vocabulary() and words

    run = sync(connection, mode="full")
    assert asked == [*first, 250]
    assert counts(run) == {"fetched": 250, "created": 0, "updated": 0, "unchanged": 250,
                           "deleted": 0}  # fmt: skip


def test_a_first_pass_meeting_a_contact_written_meanwhile_looks_its_contacts_up(
    connection, fake_crms, monkeypatch
):
    """Another writer (a zombie worker of a reaped run) wrote a contact after the pass
    found the connection's index empty: the plain insert fails, its savepoint is rolled
    back and the batch is written again as any pass writes it. Nothing is doubled or lost:
    the other writer's contact is updated, its keys replaced, the spelling words counted
    once; the pass's later batches are looked up too."""
    from crmhub.bench.index import contacts_write
    from crmhub.contacts import spelling
    from crmhub.contacts.sync import passes

    contacts_write(
        connection=connection, contacts=[remote(1, "Zombie", "Writer", email="z@example.com")]
    )
    monkeypatch.setattr(passes, "_unindexed", lambda connection_id: True)
    monkeypatch.setattr(passes, "BATCH_CONTACTS", 500)  # two batches: pages of 500
    asked = _lookups_counted(monkeypatch)
    fake_crms["allclients"].contacts = people(1000)

    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert counts(run) == {"fetched": 1000, "created": 999, "updated": 1, "unchanged": 0,
                           "deleted": 0}  # fmt: skip
    assert asked == [500, 500]
    assert Contact.objects.filter(connection=connection).count() == 1000
    first = Contact.objects.get(connection=connection, remote_id="1")
    assert (first.first_name, first.email_keys) == ("First1", ["p1@example.com"])
    assert sorted(first.keys.values_list("type", "value")) == [
        ("email", "p1@example.com"), ("phone", "+13125550001"),
    ]  # fmt: skip
    assert ContactKey.objects.count() == 2000
    words = _vocabulary()
    spelling.vocabulary_rebuild()
    assert words == _vocabulary()
    assert "zombie" not in dict(words)


def test_a_first_pass_given_a_contact_again_on_a_later_batch_counts_it_once(
    connection, fake_crms, monkeypatch
):
    """The listing gives a contact of an earlier batch again (a record that moved down the
    listing while it was read): the plain insert of the later batch fails, and that batch
    is looked up and written as usual, the contact counted once."""
    from django.db import connection as db

    from crmhub.contacts.sync import passes

    monkeypatch.setattr(passes, "BATCH_CONTACTS", 500)
    asked = _lookups_counted(monkeypatch)
    listed = people(1000)
    fake_crms["allclients"].contacts = [*listed[:500], listed[0], *listed[500:999]]

    run = sync(connection, mode="full")

    # Flagged, as any pass listing 999 distinct contacts of 1,000 announced; written first.
    assert run.state == SyncRun.State.FLAGGED, run.error
    assert counts(run) == {"fetched": 1000, "created": 999, "updated": 0, "unchanged": 1,
                           "deleted": 0}  # fmt: skip
    assert asked == ([500] if db.vendor == "postgresql" else [500, 500])
    assert Contact.objects.filter(connection=connection).count() == 999
    assert ContactKey.objects.count() == 1998
