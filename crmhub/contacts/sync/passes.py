"""One pass of a sync: stream the remote listing into the index, a batch of pages at a time.

The pages are fetched (``prefetch``) and prepared ahead by threads while the pages before
them are written; a transaction takes the pages already fetched, up to
``BATCH_CONTACTS`` contacts, and never waits on the remote (``batch_write``). The run's
counts and its lease are written with every transaction. Every request to the remote
takes a slot of the connection's rate limit, and a rate-limited page is asked for again
once the pause is over (``ratelimit.RequestPacer``). A full pass ends by marking deleted
what it did not see (``full_pass_finish``), unless that looks wrong.

Memory stays flat whatever the size of the remote: the pipeline holds a bounded number of
contacts (``pipeline_contacts``: counted in contacts, not pages, since a remote's pages
may be of any size), a prepared page keeps only the rows it built, and the pass one bit per
contact seen. (The run holds its database connection to a small page cache and no memory
map: ``runs.run_execute``.)
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db import connection as db_connection
from django.utils import timezone

from crmhub.actions.ratelimit import RequestPacer
from crmhub.connectors.base import ContactPage
from crmhub.connectors.registry import get_connector
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync.lease import lease_renew
from crmhub.contacts.sync.pages import (
    PageOutcome,
    PreparedPage,
    SeenSet,
    disjoint_runs,
    ids_pack,
    ids_unpack,
    missing_ids,
    page_prepare,
    pages_apply,
)
from crmhub.contacts.sync.prefetch import prefetched, prefetched_batches
from crmhub.contacts.sync.writer import contacts_mark_deleted, statistics_refresh

PAGE_SIZE = 500
#: Contacts of pages fetched and parsed, waiting to be prepared; contacts of prepared pages
#: waiting to be written; the most contacts written in one transaction (the pages already
#: prepared, never waiting for the next; see ``batch_write``).
FETCHED_AHEAD = 1_000
PREPARED_AHEAD = 4_000
BATCH_CONTACTS = 4_000
#: How long a batch waits for more prepared pages (before its transaction begins) while
#: it holds fewer than ``BATCH_CONTACTS``: the writer is faster than the pages come, so
#: without it nearly every page took a transaction of its own, and each costs (a commit,
#: a full-text segment, the statements of each kind; the writes of 100,000 contacts took
#: 5.4 s of CPU in 200 transactions, 3.8 s in 25).
BATCH_GATHER_SECONDS = 0.5
#: A full pass is not applied as deletions when it would delete more than this share of
#: at least ``ANOMALY_MIN_LIVE`` live contacts, or returns nothing where there were some.
#: A listing without a remote total (nothing to check it against) is held to the stricter
#: ``CRMHUB_SYNC_NO_TOTAL_ANOMALY_SHARE``.
ANOMALY_SHARE = 0.5
ANOMALY_MIN_LIVE = 20
MAX_PAGES = 200_000
#: Deletions are written this many contacts a transaction (the write lock is held briefly).
DELETE_CHUNK = 1_000


def pipeline_contacts(page_size: int = PAGE_SIZE) -> int:
    """Return the most contacts the pipeline holds at once when pages hold ``page_size``:
    those waiting after the fetch and after the preparation, the batch being written
    (each of these takes one page even when that is larger than its bound), the page
    being prepared, the one fetched and waiting to be handed over, and the one a connector
    reads ahead (asked for while it parses the page before: AllClients)."""
    steps = (FETCHED_AHEAD, PREPARED_AHEAD, BATCH_CONTACTS)
    return sum(max(bound, page_size) for bound in steps) + 3 * page_size


class SyncAborted(Exception):
    """The listing cannot be trusted (a pagination loop, far more rows than announced)."""


@dataclass
class Pass:
    """What a pass keeps between its batches."""

    run: SyncRun
    seen: SeenSet
    country: str
    latest_update: datetime | None = None
    #: Whether the prefetch thread builds the rows of the pages ahead (see ``page_prepare``).
    build_ahead: bool = True
    #: Contacts this pass created since it last had the index's statistics refreshed.
    created_unanalysed: int = 0
    #: Whether the index held no contact of the connection when the pass began, and no
    #: batch since found one there that the pass did not write (see ``_pages_write``).
    absent: bool = False


_COUNTS = ("pages", "fetched", "created", "updated", "unchanged", "expected_total")


@dataclass(frozen=True)
class PageHead:
    """What a pass keeps of a fetched page once it is prepared (its contacts are not)."""

    number: int
    size: int
    total: int | None

    @classmethod
    def of(cls, page: ContactPage) -> PageHead:
        return cls(number=page.number, size=len(page.contacts), total=page.total)


def _run_write(state: Pass, run_pages: list[tuple[PageHead, PreparedPage]]) -> list[PageOutcome]:
    """Write pages sharing no remote id, then the run's counts and lease (one statement
    each, inside the batch's transaction); return each page's outcome."""
    run = state.run
    now = timezone.now()
    outcomes = _pages_write(state, [prepared for _, prepared in run_pages], now)
    for (page, _), outcome in zip(run_pages, outcomes, strict=True):
        run.pages += 1
        run.fetched += page.size
        run.created += outcome.created
        run.updated += outcome.updated
        run.unchanged += outcome.unchanged
        if page.total is not None:
            run.expected_total = page.total
    lease_renew(run, now, **{name: getattr(run, name) for name in _COUNTS})
    return outcomes


def _pages_write(state: Pass, pages: list[PreparedPage], now: datetime) -> list[PageOutcome]:
    """Write ``pages`` (``pages_apply``); return each page's outcome.

    While ``state.absent`` (the connection's first pass, every contact new so far) the
    pages' contacts are inserted without looking them up first, in a savepoint: a
    lookup that can only find nothing cost PostgreSQL a probe of the unique index per
    contact, and ~7% of its time in the pass. A contact there after all (a zombie
    worker of a reaped run writing the same connection, or the listing giving a contact
    again on a later page) fails the insert: the savepoint is rolled back, and these
    pages and every later one are written as any pass writes them (looked up first).
    """
    connection_id, country, seen = state.run.connection_id, state.country, state.seen
    if state.absent:
        try:
            with transaction.atomic():
                return pages_apply(
                    connection_id=connection_id, country=country, now=now, seen=seen,
                    pages=pages, absent=True,
                )  # fmt: skip
        except IntegrityError:
            state.absent = False
    return pages_apply(
        connection_id=connection_id, country=country, now=now, seen=seen, pages=pages
    )


def batch_write(state: Pass, pages: list[tuple[PageHead, PreparedPage]]) -> None:
    """Write ``pages`` (already fetched) in one transaction, and the run's counts with them.

    One commit for several pages: SQLite writes every index page a commit dirtied (the
    full-text and key indexes take their rows in no order), so fewer commits write much
    less; and pages that share no contact are written together, a statement of each kind
    for all (see ``manage.py bench``). The batch holds only pages already in memory: the
    transaction never waits on the remote.
    """
    run = state.run
    before = {name: getattr(run, name) for name in _COUNTS}
    written: list[tuple[PageHead, PageOutcome]] = []
    try:
        with transaction.atomic():
            _commit_unwaited()
            for run_pages in disjoint_runs(pages, lambda item: item[1].hashes):
                outcomes = _run_write(state, run_pages)
                written += [(page, o) for (page, _), o in zip(run_pages, outcomes, strict=True)]
                if any(_repeated(page, outcome) for page, outcome in written):
                    break  # a loop: the pages after it are not written
    except BaseException:
        for name, value in before.items():  # the counts stay those of what was committed
            setattr(run, name, value)
        raise
    state.created_unanalysed += sum(o.created for _, o in written)
    if not state.absent:  # see ``_statistics_final``
        _statistics_refresh(state)
    # Build the rows of the next pages ahead while most contacts are written (a first sync).
    fetched = sum(page.size for page, _ in written)
    state.build_ahead = 2 * sum(o.created + o.updated for _, o in written) >= fetched
    for page, outcome in written:
        if outcome.latest_update and (
            state.latest_update is None or outcome.latest_update > state.latest_update
        ):
            state.latest_update = outcome.latest_update
        if _repeated(page, outcome):
            raise SyncAborted(
                f"The remote returned page {page.number + 1} again (all {page.size} "
                "contacts already seen in this pass): the listing loops, so it was stopped."
            )


def _statistics_refresh(state: Pass) -> None:
    """Refresh the index's statistics when the contacts the pass created since they were
    gathered call for it (``statistics_refresh``)."""
    if statistics_refresh(created=state.created_unanalysed):
        state.created_unanalysed = 0


def _statistics_final(state: Pass) -> None:
    """Refresh the statistics, if they call for it, at the end of a pass that skipped
    them while its contacts were all new (``state.absent``).

    Those batches look nothing up (``_pages_write``): the statistics serve the lookups of
    later batches and passes, and matching after the pass. A first pass refreshed them
    each time the table doubled (about ten times filling it to 1,000,000, each sampling
    30,000 rows of a larger table while the pass waited): once at its end leaves them
    the same for what comes after. A pass that met a contact already there goes back to
    refreshing them batch by batch, from the contacts created so far.
    """
    if state.absent:
        with suppress(DatabaseError):  # a pass that failed on its connection: autovacuum's
            _statistics_refresh(state)


def _commit_unwaited() -> None:
    """Let PostgreSQL commit the current transaction (a batch) without waiting for its
    WAL to reach the disk (``synchronous_commit`` off, for this transaction only).

    Safe for a batch: a server crash can lose only the last batches committed (at most
    about three ``wal_writer_delay``, 0.6 s by default), each whole (its contacts, keys,
    spelling words and the run's counts and lease together), never half of one, so the
    index is as of an earlier batch; the run, its lease no longer renewed, is reaped and
    its next pass writes them again (every write is an upsert keyed on the remote id). The
    run's end is committed as usual, and a commit that waits for its WAL waits for all the
    WAL before it: a run shown finished has every batch on disk. Other sessions see a
    batch at its commit either way. Each commit otherwise waits for a flush of the WAL
    of every writer of the server (250 commits a 1,000,000-contact pass).
    """
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _repeated(page: PageHead, outcome: PageOutcome) -> bool:
    """Return whether every contact of ``page`` was already seen in this pass (a loop)."""
    return bool(page.size) and outcome.repeated == page.size


def listing_guard(run: SyncRun) -> None:
    """Raise ``SyncAborted`` when the listing runs far past what the remote announced."""
    limit = max(2 * (run.expected_total or 0), (run.expected_total or 0) + 10 * PAGE_SIZE)
    if run.pages > MAX_PAGES or (run.expected_total is not None and run.fetched > limit):
        raise SyncAborted(
            f"The remote listed {run.fetched} contacts over {run.pages} pages where it "
            f"announced {run.expected_total}: the listing does not end, so it was stopped."
        )


def _prepared(
    state: Pass, pages: Iterable[ContactPage], ops: Any
) -> Iterator[tuple[PageHead, PreparedPage]]:
    """Yield each page's head with its hashes (and rows, ``state.build_ahead``): run by
    the prefetch thread, so this pure work overlaps the database writes of the pages
    before. ``ops`` is the writing connection's (this thread never opens one)."""
    for page in pages:
        yield PageHead.of(page), page_prepare(
            page.contacts, connection_id=state.run.connection_id, country=state.country,
            ops=ops, build=state.build_ahead,
        )  # fmt: skip


@contextmanager
def _few_collections() -> Iterator[None]:
    """Run the garbage collector less during a pass (and not over the process's own
    objects): a pass allocates millions of short-lived containers, each young collection
    then walks the pages in flight, and full ones the whole process (~7% of a first sync,
    see ``manage.py bench``). The cycles a pass leaves are few; they wait a little longer."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


#: The interpreter's switch interval during a pass (seconds; Python's default is 0.005).
#: With the listing read a page ahead (``connectors.http.ahead``), 1,000,000 contacts on a
#: quiet machine: 9,501 contacts/s against 8,893 and 8,924 with the default (``manage.py
#: bench --section memory``); under a load of 8-11 an earlier try showed no gain.
SWITCH_INTERVAL = 0.001


@contextmanager
def _prompt_switches() -> Iterator[None]:
    """Let a thread back from a wait take the interpreter sooner during a pass. The
    fetching thread comes back from a network or database wait several times a page, and
    then waits for whichever thread holds the interpreter to let go: up to Python's
    switch interval, 5 ms, each time while the rows of the pages before are prepared. The
    listing is fetched one page after the other, so those waits set the pace of the pass."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _unindexed(connection_id: int) -> bool:
    """Return whether the index holds no contact of the connection, live or deleted.

    PostgreSQL only (``_pages_write``): on SQLite the lookup is a few statements of the
    process itself, and skipping it showed no gain (memory bench at 100,000, twice
    alternated: 10.0 and 10.3 s of CPU per 100,000 before, 11.0 and 9.65 after).
    """
    if db_connection.vendor != "postgresql":
        return False
    return not Contact.objects.filter(connection_id=connection_id).exists()


def pass_run(run: SyncRun) -> Pass:
    """Stream the remote listing into the index, page by page, each request paced on the
    connection's rate limit (a rate-limit answer pauses it, then the page is asked again;
    a pause longer than half the lease is not waited out: the attempt fails)."""
    connection = run.connection
    connector = get_connector(connection.spec())
    connector.http.pacer = RequestPacer(
        connection, max_pause=settings.CRMHUB_SYNC_LEASE_SECONDS / 2
    )
    state = Pass(run=run, seen=SeenSet(), country=connection.country)
    state.absent = _unindexed(connection.pk)
    try:
        pages = connector.iter_contact_pages(since=run.since, page_size=PAGE_SIZE)
        # The fetching thread takes the slots: it closes its own database connection.
        fetched = prefetched(
            pages,
            depth=FETCHED_AHEAD,
            weight=lambda page: len(page.contacts),
            on_exit=connections.close_all,
        )
        with _few_collections(), _prompt_switches():
            for batch in prefetched_batches(
                _prepared(state, fetched, db_connection.ops),
                depth=PREPARED_AHEAD, weight=lambda item: item[0].size, limit=BATCH_CONTACTS,
                gather=BATCH_GATHER_SECONDS,
            ):  # fmt: skip
                batch_write(state, batch)
                listing_guard(run)
    finally:
        connector.close()
        _statistics_final(state)
    return state


def _anomaly(run: SyncRun, state: Pass, missing: Sequence[int]) -> str:
    """Return why the deletions of a complete full pass look wrong ("" when they do not)."""
    live = run.live_before or 0
    share = ANOMALY_SHARE
    if run.expected_total is None:
        share = min(share, settings.CRMHUB_SYNC_NO_TOTAL_ANOMALY_SHARE)
    if run.expected_total is not None and state.seen.count < run.expected_total:
        return (
            f"the remote announced {run.expected_total} contacts but listed "
            f"{state.seen.count} distinct ones"
        )
    if live >= ANOMALY_MIN_LIVE and run.fetched == 0:
        return f"the remote listed no contact where the index had {live}"
    if live >= ANOMALY_MIN_LIVE and len(missing) > live * share:
        return f"{len(missing)} of {live} contacts ({len(missing) * 100 // live}%) vanished"
    return ""


def _unconfirmed(run: SyncRun, missing: Sequence[int]) -> str:
    """Return why staff's confirmation does not cover these deletions ("" when it does).

    It covers at most the contacts the confirmed (flagged) run found missing; an empty pass
    only when the confirmed run was empty too.
    """
    confirmed = run.confirms if run.allow_mass_deletion else None
    if confirmed is None:
        return "not confirmed"
    if run.fetched == 0 and confirmed.fetched > 0:
        return "this pass listed no contact at all, which is not what was confirmed"
    allowed = set(ids_unpack(confirmed.missing_ids))
    beyond = sum(1 for pk in missing if pk not in allowed)
    if beyond:
        return (
            f"{beyond} of the {len(missing)} contacts missing now were not missing in the "
            f"confirmed run {confirmed.pk}"
        )
    return ""


def full_pass_finish(run: SyncRun, state: Pass, now: datetime) -> tuple[SyncRun.State, str]:
    """Apply (or hold back) the deletions of a complete full pass; return state and note.

    Deletions that look wrong are held back (the run is flagged, the missing contacts kept
    on it for a confirmation) unless staff confirmed a flagged run that found at least
    these missing. They are written ``DELETE_CHUNK`` contacts a transaction, each renewing
    the lease (a run the reaper finished stops writing).
    """
    missing = missing_ids(connection_id=run.connection_id, seen=state.seen)
    run.missing = len(missing)
    reason = _anomaly(run, state, missing)
    refused = _unconfirmed(run, missing) if reason else ""
    if refused:
        packed = ids_pack(missing)
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(missing_ids=packed)
        run.missing_ids = packed
        note = f"Deletions not applied: {reason}. Check the remote; if it is right, confirm"
        if refused == "not confirmed":
            return SyncRun.State.FLAGGED, f"{note} this run's deletions (re-run allowing them)."
        return SyncRun.State.FLAGGED, (
            f"{note} this run's deletions (re-run allowing them). The confirmation given "
            f"does not cover them: {refused}."
        )
    run.deleted = 0
    for start in range(0, len(missing), DELETE_CHUNK):
        with transaction.atomic():
            run.deleted += contacts_mark_deleted(pks=missing[start : start + DELETE_CHUNK], now=now)
            lease_renew(run, timezone.now(), deleted=run.deleted)
    return SyncRun.State.SUCCEEDED, ""
