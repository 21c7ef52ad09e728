"""The sync's pipeline: pages fetched ahead in batches, prepared away from the database,
and written a transaction a batch."""

from __future__ import annotations

import threading
import time
from itertools import chain

import pytest
from django.db import connection as db
from django.utils import timezone

from crmhub.connectors.base import ContactPage
from crmhub.contacts.models import Contact, ContactKey, SyncRun
from crmhub.contacts.sync import passes
from crmhub.contacts.sync.pages import SeenSet, disjoint_runs, page_prepare, pages_apply
from crmhub.contacts.sync.prefetch import prefetched_batches
from tests.contacts.conftest import remote
from tests.contacts.helpers import index_of, sync


def people(first: int, count: int) -> list:
    return [
        remote(n, f"First{n}", f"Last{n}", email=f"p{n}@example.com", phone=f"312-555-{n:04d}")
        for n in range(first, first + count)
    ]


# -- prefetched_batches -------------------------------------------------------------------------
def test_a_batch_takes_what_is_ready_up_to_the_limit():
    release = threading.Event()

    def items():  # type: ignore[no-untyped-def]
        yield from (1, 2, 3, 4, 5)
        release.wait(5)  # the rest comes late: the batch before must not wait for it
        yield 6

    batches = prefetched_batches(items(), depth=8, limit=3)
    before: list[list[int]] = []
    while sum(map(len, before)) < 5:  # 6 is not produced yet: no batch may wait for it
        before.append(next(batches))
    release.set()
    after = list(batches)

    assert list(chain.from_iterable(before)) == [1, 2, 3, 4, 5]
    assert after == [[6]]
    assert all(len(batch) <= 3 for batch in before)


def test_a_batch_gathers_the_items_coming_within_its_wait():
    def items():  # type: ignore[no-untyped-def]
        yield 1
        threading.Event().wait(0.05)  # slower than the consumer: gathered, not a batch alone
        yield 2
        threading.Event().wait(0.05)
        yield 3

    started = time.monotonic()
    batches = list(prefetched_batches(items(), depth=8, limit=2, gather=30))

    assert batches == [[1, 2], [3]]  # the limit closes the first, the end the last
    assert time.monotonic() - started < 15  # neither waited out its gathering time


def test_a_batch_is_weighed_by_its_items():
    batches = list(
        prefetched_batches(iter([5, 5, 5, 1]), depth=4, weight=lambda item: item, limit=10)
    )
    assert list(chain.from_iterable(batches)) == [5, 5, 5, 1]
    assert all(sum(batch[:-1]) < 10 for batch in batches)


def test_an_error_of_the_producer_comes_after_the_items_before_it():
    def items():  # type: ignore[no-untyped-def]
        yield from (1, 2)
        raise ValueError("remote broke")

    seen: list[int] = []

    def read_all() -> None:
        for batch in prefetched_batches(items(), depth=4, limit=10):
            seen.extend(batch)

    with pytest.raises(ValueError, match="remote broke"):
        read_all()
    assert seen == [1, 2]


def test_leaving_early_stops_the_producer():
    produced: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for n in range(1000):
            produced.append(n)
            yield n

    for _batch in prefetched_batches(items(), depth=2):
        break
    count = len(produced)
    threading.Event().wait(0.3)
    assert len(produced) == count <= 5  # stopped, and never ran ahead of its depth


# -- preparing and writing ----------------------------------------------------------------------
def _prepared(contacts, connection, *, build):  # type: ignore[no-untyped-def]
    return page_prepare(
        contacts, connection_id=connection.pk, country="US", ops=db.ops, build=build
    )


@pytest.mark.django_db
def test_disjoint_runs_split_where_a_contact_repeats(connection):
    pages = [
        _prepared(people(1, 3), connection, build=False),
        _prepared(people(4, 3), connection, build=False),
        _prepared(people(6, 3), connection, build=False),  # 6 was on the page before
        _prepared(people(20, 3), connection, build=False),
    ]
    assert [len(run) for run in disjoint_runs(pages)] == [2, 2]


@pytest.mark.django_db
def test_rows_built_ahead_are_the_rows_built_on_demand(connection, make_connection):
    other_connection = make_connection("allclients", name="AC 2")
    contacts = people(1, 40)
    for target, build in ((connection, True), (other_connection, False)):
        pages_apply(
            connection_id=target.pk, country="US", now=timezone.now(), seen=SeenSet(),
            pages=[_prepared(contacts, target, build=build)],
        )  # fmt: skip
    assert index_of(connection) == index_of(other_connection)
    assert ContactKey.objects.filter(contact__connection=connection).count() == 80
    assert ContactKey.objects.filter(contact__connection=other_connection).count() == 80


@pytest.mark.django_db
def test_a_failing_batch_writes_nothing_and_keeps_the_counts_committed(connection, monkeypatch):
    run = SyncRun.objects.create(connection=connection, mode="full", state="running")
    state = passes.Pass(run=run, seen=SeenSet(), country="US")
    pages = [
        (passes.PageHead.of(ContactPage(contacts=tuple(c))), _prepared(c, connection, build=True))
        for c in (people(1, 5), people(3, 5))  # two runs: the second shares contacts
    ]
    real = passes.pages_apply
    calls = []

    def second_fails(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(passes, "pages_apply", second_fails)
    with pytest.raises(RuntimeError):
        passes.batch_write(state, pages)

    assert Contact.objects.count() == 0
    assert (run.pages, run.fetched, run.created) == (0, 0, 0)
    run.refresh_from_db()
    assert (run.pages, run.fetched, run.created) == (0, 0, 0)


def test_leaving_early_closes_the_items_in_the_producer_thread():
    closed = threading.Event()

    def items():  # type: ignore[no-untyped-def]
        try:
            yield from range(1000)
        finally:
            closed.set()

    for _batch in prefetched_batches(items(), depth=2):
        break
    assert closed.wait(5)


# -- the pipeline's depth -----------------------------------------------------------------------
def test_what_waits_is_bounded_by_weight_not_by_count():
    produced: list[int] = []
    taken: list[int] = []
    most = [0]

    def items():  # type: ignore[no-untyped-def]
        for _ in range(40):
            produced.append(30)
            most[0] = max(most[0], sum(produced) - sum(taken))
            yield 30

    for batch in prefetched_batches(items(), depth=100, weight=lambda item: item, limit=60):
        threading.Event().wait(0.01)  # a slow consumer: the producer runs ahead all it may
        taken.extend(batch)
        assert sum(batch) <= 60

    assert sum(taken) == 40 * 30
    # Waiting: at most 100 (three items); in the batch: 60; one produced, not yet handed over.
    assert 100 <= most[0] <= 100 + 60 + 30


@pytest.mark.parametrize("page_size", [passes.PAGE_SIZE, 1_500])
def test_a_sync_holds_a_bounded_number_of_contacts_whatever_the_page_size(
    connection, fake_crms, monkeypatch, page_size
):
    crm = fake_crms["allclients"]
    crm.contacts = people(1, 12 * page_size)
    listed, written, most = [0], [0], [0]
    real_pages = crm.iter_contact_pages

    def pages(self, *, since=None, page_size=100):  # type: ignore[no-untyped-def]
        for page in real_pages(self, since=since, page_size=page_size):
            listed[0] += len(page.contacts)
            most[0] = max(most[0], listed[0] - written[0])
            yield page

    real_apply = passes.pages_apply

    def slow_apply(**kwargs):  # type: ignore[no-untyped-def]
        threading.Event().wait(0.05)  # the database slower than the remote: the pipeline fills
        outcomes = real_apply(**kwargs)
        written[0] += sum(len(page.hashes) for page in kwargs["pages"])
        return outcomes

    monkeypatch.setattr(crm, "iter_contact_pages", pages)
    monkeypatch.setattr(passes, "PAGE_SIZE", page_size)
    monkeypatch.setattr(passes, "pages_apply", slow_apply)
    run = sync(connection, mode="full")

    assert run.state == "succeeded" and run.created == 12 * page_size
    assert 3 * page_size <= most[0] <= passes.pipeline_contacts(page_size)
