"""Rules of the contact index: requesting, running, scheduling and reaping syncs.

A ``SyncRun`` moves ``queued → running → succeeded | flagged | failed``. The run row is
committed before its task is queued; the task claims it with a conditional update, holds
a lease renewed with every transaction of pages, and writes its counts with it (pages are
fetched and prepared ahead by threads; see ``_batch_write``). At most one run
per connection is queued or running (a partial unique constraint), so a second request
returns the active run at once. A worker that dies leaves its lease to expire; the reaper
(``contacts.schedule``, called by the dispatcher) then fails the run, and the next one
starts over safely.
"""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone

from crmhub.connections.models import Connection
from crmhub.connectors import errors
from crmhub.connectors.base import ContactPage
from crmhub.connectors.registry import connector_class, get_connector
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.prefetch import prefetched, prefetched_batches
from crmhub.contacts.sync import (
    PageOutcome,
    PreparedPage,
    SeenSet,
    contacts_mark_deleted,
    disjoint_runs,
    missing_ids,
    page_prepare,
    pages_apply,
)
from crmhub.core import redaction
from crmhub.core.crypto import DecryptionError

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
#: Pages fetched ahead of the writes, and the most contacts written in one transaction
#: (the pages already fetched, never waiting for the next; see ``_batch_write``).
PREFETCH_PAGES = 8
BATCH_CONTACTS = 4_000
#: A run's lease: renewed with every transaction of pages; a run whose lease ran out is
#: reaped.
LEASE = timedelta(seconds=getattr(settings, "CRMHUB_SYNC_LEASE_SECONDS", 600))
#: Incremental runs ask again for what changed this long before the last cursor
#: (late commits on the remote, clocks a little apart, records sharing a timestamp).
INCREMENTAL_OVERLAP = timedelta(minutes=10)
#: A full pass is not applied as deletions when it would delete more than this share of
#: at least ``ANOMALY_MIN_LIVE`` live contacts, or returns nothing where there were some.
ANOMALY_SHARE = 0.5
ANOMALY_MIN_LIVE = 20
MAX_PAGES = 200_000


class SyncRetry(Exception):
    """A retryable remote failure: the task should try the run again after ``countdown``."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.0f} s")
        self.countdown = countdown


class LeaseLost(Exception):
    """The run is no longer ours (the reaper finished it): stop without touching it."""


class SyncAborted(Exception):
    """The listing cannot be trusted (a pagination loop, far more rows than announced)."""


# -- requesting -------------------------------------------------------------------------------
def run_publish(run_id: int) -> None:
    """Publish the task of sync run ``run_id`` (a repeat is harmless: runs are claimed)."""
    from crmhub.contacts.tasks import contacts_sync as contacts_sync_task

    contacts_sync_task.delay(run_id)


def _supports_incremental(kind: str) -> bool:
    try:
        return bool(connector_class(kind).supports_incremental)
    except (LookupError, ImportError):
        return False


def sync_mode_choose(*, connection: Connection, mode: str | None = None) -> str:
    """Return the mode a sync of ``connection`` runs in.

    ``full`` is always honoured. Otherwise (``None``, ``"auto"``, ``"incremental"``) the
    run is incremental only when the connector supports it, a previous run left a cursor,
    and a full pass succeeded within ``full_sync_interval_hours`` (deletions are only
    found by full passes).
    """
    if mode == SyncRun.Mode.FULL or not _supports_incremental(connection.kind):
        return SyncRun.Mode.FULL
    finished = SyncRun.objects.filter(connection=connection, state=SyncRun.State.SUCCEEDED)
    window = timezone.now() - timedelta(hours=connection.full_sync_interval_hours)
    recent_full = finished.filter(mode=SyncRun.Mode.FULL, finished_at__gte=window).exists()
    has_cursor = finished.filter(cursor__isnull=False).exists()
    return SyncRun.Mode.INCREMENTAL if recent_full and has_cursor else SyncRun.Mode.FULL


def sync_request(
    *,
    connection: Connection,
    mode: str | None = None,
    requested_by: str = "schedule",
    allow_mass_deletion: bool = False,
) -> SyncRun:
    """Queue a sync of ``connection`` and return its run, or the run already active.

    The task is published once the run row is committed. ``allow_mass_deletion`` lets a
    full pass apply deletions the anomaly check would otherwise hold back (staff confirmed
    that the remote really lost those records).
    """
    active = SyncRun.objects.filter(connection=connection, state__in=SyncRun.ACTIVE_STATES)
    if (run := active.first()) is not None:
        return run
    chosen = sync_mode_choose(connection=connection, mode=mode)
    if allow_mass_deletion:
        chosen = SyncRun.Mode.FULL
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connection=connection,
                mode=chosen,
                requested_by=(requested_by or "")[:150],
                allow_mass_deletion=allow_mass_deletion,
            )
            run_id = run.pk
            transaction.on_commit(lambda: run_publish(run_id))
    except IntegrityError:
        if (run := active.first()) is None:
            raise
    return run


# -- running ----------------------------------------------------------------------------------
def _claim(run: SyncRun, now: datetime) -> bool:
    claimed = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
        state=SyncRun.State.RUNNING,
        started_at=now,
        lease_until=now + LEASE,
        attempts=F("attempts") + 1,
        finished_at=None,
    )
    return bool(claimed)


def _since(run: SyncRun) -> datetime | None:
    if run.mode != SyncRun.Mode.INCREMENTAL:
        return None
    previous = (
        SyncRun.objects.filter(
            connection_id=run.connection_id,
            state=SyncRun.State.SUCCEEDED,
            cursor__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("cursor", flat=True)
        .first()
    )
    return previous - INCREMENTAL_OVERLAP if previous else None


@dataclass
class _Pass:
    run: SyncRun
    seen: SeenSet
    country: str
    latest_update: datetime | None = None
    #: Whether the prefetch thread builds the rows of the pages ahead (see ``page_prepare``).
    build_ahead: bool = True


_COUNTS = ("pages", "fetched", "created", "updated", "unchanged", "expected_total")


def _run_write(
    state: _Pass, run_pages: list[tuple[ContactPage, PreparedPage]]
) -> list[PageOutcome]:
    """Write pages sharing no remote id, then the run's counts and lease (one statement
    each, inside the batch's transaction); return each page's outcome."""
    run = state.run
    now = timezone.now()
    outcomes = pages_apply(
        connection_id=run.connection_id, country=state.country, now=now, seen=state.seen,
        pages=[prepared for _, prepared in run_pages],
    )  # fmt: skip
    for (page, _), outcome in zip(run_pages, outcomes, strict=True):
        run.pages += 1
        run.fetched += len(page.contacts)
        run.created += outcome.created
        run.updated += outcome.updated
        run.unchanged += outcome.unchanged
        if page.total is not None:
            run.expected_total = page.total
    _lease_renew(run, now, **{name: getattr(run, name) for name in _COUNTS})
    return outcomes


def _lease_renew(run: SyncRun, now: datetime, **fields: object) -> None:
    """Renew the run's lease (writing ``fields`` with it); raise ``LeaseLost`` if the
    reaper finished the run meanwhile. Inside the transaction of what it guards."""
    kept = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        **fields, lease_until=now + LEASE
    )
    if not kept:
        raise LeaseLost(f"sync run {run.pk} was finished by the reaper")


def _batch_write(state: _Pass, pages: list[tuple[ContactPage, PreparedPage]]) -> None:
    """Write ``pages`` (already fetched) in one transaction, and the run's counts with them.

    One commit for several pages: SQLite writes every index page a commit dirtied (the
    full-text and key indexes take their rows in no order), so fewer commits write much
    less; and pages that share no contact are written together, a statement of each kind
    for all (see ``manage.py bench``). The batch holds only pages already in memory: the
    transaction never waits on the remote.
    """
    run = state.run
    before = {name: getattr(run, name) for name in _COUNTS}
    written: list[tuple[ContactPage, PageOutcome]] = []
    try:
        with transaction.atomic():
            for run_pages in disjoint_runs(pages, lambda item: item[1].contacts):
                outcomes = _run_write(state, run_pages)
                written += [(page, o) for (page, _), o in zip(run_pages, outcomes, strict=True)]
                if any(_repeated(page, outcome) for page, outcome in written):
                    break  # a loop: the pages after it are not written
    except BaseException:
        for name, value in before.items():  # the counts stay those of what was committed
            setattr(run, name, value)
        raise
    # Build the rows of the next pages ahead while most contacts are written (a first sync).
    fetched = sum(len(page.contacts) for page, _ in written)
    state.build_ahead = 2 * sum(o.created + o.updated for _, o in written) >= fetched
    for page, outcome in written:
        if outcome.latest_update and (
            state.latest_update is None or outcome.latest_update > state.latest_update
        ):
            state.latest_update = outcome.latest_update
        if _repeated(page, outcome):
            raise SyncAborted(
                f"The remote returned page {page.number + 1} again (all {len(page.contacts)} "
                "contacts already seen in this pass): the listing loops, so it was stopped."
            )


def _repeated(page: ContactPage, outcome: PageOutcome) -> bool:
    """Return whether every contact of ``page`` was already seen in this pass (a loop)."""
    return bool(page.contacts) and outcome.repeated == len(page.contacts)


def _listing_guard(run: SyncRun) -> None:
    limit = max(2 * (run.expected_total or 0), (run.expected_total or 0) + 10 * PAGE_SIZE)
    if run.pages > MAX_PAGES or (run.expected_total is not None and run.fetched > limit):
        raise SyncAborted(
            f"The remote listed {run.fetched} contacts over {run.pages} pages where it "
            f"announced {run.expected_total}: the listing does not end, so it was stopped."
        )


def _prepared(
    state: _Pass, pages: Iterable[ContactPage], ops: Any
) -> Iterator[tuple[ContactPage, PreparedPage]]:
    """Yield each page with its hashes (and rows, ``state.build_ahead``): run by the
    prefetch thread, so this pure work overlaps the database writes of the pages before.
    ``ops`` is the writing connection's (this thread never opens one)."""
    for page in pages:
        yield page, page_prepare(
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


def _pass_run(run: SyncRun) -> _Pass:
    """Stream the remote listing into the index, page by page."""
    connection = run.connection
    connector = get_connector(connection.spec())
    state = _Pass(run=run, seen=SeenSet(), country=connection.country)
    try:
        pages = connector.iter_contact_pages(since=run.since, page_size=PAGE_SIZE)
        with _few_collections():
            for batch in prefetched_batches(
                _prepared(state, prefetched(pages, depth=2), db_connection.ops),
                depth=PREFETCH_PAGES,
                weight=lambda item: len(item[0].contacts), limit=BATCH_CONTACTS,
            ):  # fmt: skip
                _batch_write(state, batch)
                _listing_guard(run)
    finally:
        connector.close()
    return state


def _full_pass_finish(run: SyncRun, state: _Pass, now: datetime) -> tuple[str, str]:
    """Apply (or hold back) the deletions of a complete full pass; return state and note."""
    missing = missing_ids(connection_id=run.connection_id, seen=state.seen)
    run.missing = len(missing)
    live = run.live_before or 0
    reason = ""
    if run.expected_total is not None and state.seen.count < run.expected_total:
        reason = (
            f"the remote announced {run.expected_total} contacts but listed "
            f"{state.seen.count} distinct ones"
        )
    elif live >= ANOMALY_MIN_LIVE and run.fetched == 0:
        reason = f"the remote listed no contact where the index had {live}"
    elif live >= ANOMALY_MIN_LIVE and len(missing) > live * ANOMALY_SHARE:
        reason = f"{len(missing)} of {live} contacts ({len(missing) * 100 // live}%) vanished"
    if reason and not run.allow_mass_deletion:
        return SyncRun.State.FLAGGED, (
            f"Deletions not applied: {reason}. Check the remote; if it is right, run a "
            "full sync with deletions allowed."
        )
    with transaction.atomic():
        _lease_renew(run, now)
        run.deleted = contacts_mark_deleted(pks=missing, now=now)
    return SyncRun.State.SUCCEEDED, ""


def _finish(run: SyncRun, **fields: object) -> bool:
    """Write the run's ending; return False if the reaper finished it meanwhile."""
    fields.setdefault("finished_at", timezone.now())
    fields["lease_until"] = None
    for name, value in fields.items():
        setattr(run, name, value)
    finished = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        **fields,
        pages=run.pages,
        fetched=run.fetched,
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        deleted=run.deleted,
        missing=run.missing,
    )
    if finished:
        contacts_live_count(connection_id=run.connection_id)
    return bool(finished)


def contacts_live_count(*, connection_id: int) -> int:
    """Count the connection's contacts not marked deleted and store it on the connection.

    Done here, in the worker, when a sync ends (only syncs change the index): the pages
    read the stored figure instead of counting up to a million rows on every view.
    """
    live = Contact.objects.filter(connection_id=connection_id, deleted_at__isnull=True).count()
    Connection.objects.filter(pk=connection_id).update(contacts_live=live)
    return live


def _health_set(connection_id: int, error: Exception | None) -> None:
    from crmhub.connections.services import health_fields

    Connection.objects.filter(pk=connection_id).update(**health_fields(error))


def error_text(error: BaseException) -> str:
    """Return a message for staff about ``error``, with every known secret masked."""
    if isinstance(error, errors.ConnectorError | SyncAborted):
        text = str(error)
    elif isinstance(error, DecryptionError):
        text = "The connection's credentials cannot be decrypted (wrong CRMHUB_FIELD_KEYS?)."
    else:
        text = f"Unexpected error ({type(error).__name__}): {error}"
    return redaction.redact_text(text)[:4000]


def retry_countdown(error: Exception, attempt: int) -> float:
    """Return how long to wait before attempt ``attempt + 1`` (backoff with jitter)."""
    retry_after = getattr(error, "retry_after", None)
    base = min(300.0, 10.0 * 2**attempt)
    return max(float(retry_after or 0), base * random.uniform(0.5, 1.0))


def contacts_sync(
    *, run: SyncRun, final_attempt: bool = True, match: bool = True, compact: bool = True
) -> SyncRun:
    """Run a queued sync to its end and return it (already claimed or finished: no-op).

    Raises ``SyncRetry`` for a retryable remote failure when this is not the final
    attempt (the run is queued again, counts kept); any other ending is written to the
    run: ``succeeded``, ``flagged`` (a full pass whose deletions look wrong, not applied)
    or ``failed`` with the reason, secrets masked. Then (``match``) the contacts it wrote
    are matched into people, and (``compact``) a large sync's search index is merged.
    """
    started = timezone.now()
    if not _claim(run, started):
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    run.since = _since(run)
    run.live_before = Contact.objects.filter(
        connection_id=run.connection_id, deleted_at__isnull=True
    ).count()
    SyncRun.objects.filter(pk=run.pk).update(since=run.since, live_before=run.live_before)
    try:
        state = _pass_run(run)
        now = timezone.now()
        outcome, note = SyncRun.State.SUCCEEDED, ""
        if run.mode == SyncRun.Mode.FULL:
            outcome, note = _full_pass_finish(run, state, now)
        cursor = min(state.latest_update or started, started)
        if not _finish(run, state=outcome, error=note, cursor=cursor, finished_at=now):
            raise LeaseLost(f"sync run {run.pk} was finished by the reaper")
        _health_set(run.connection_id, None)
    except LeaseLost:
        logger.warning("sync run %s lost its lease; stopped", run.pk)
        run.refresh_from_db()
        return run
    except Exception as exc:
        retrying = isinstance(exc, errors.ConnectorError) and exc.retryable and not final_attempt
        message = error_text(exc)
        logger.info("sync run %s failed: %s", run.pk, message)
        if isinstance(exc, errors.ConnectorError | DecryptionError):
            _health_set(run.connection_id, exc)
        if retrying:
            SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
                state=SyncRun.State.QUEUED,
                lease_until=None,
                error=f"Attempt {run.attempts} failed, retrying: {message}",
            )
            raise SyncRetry(retry_countdown(exc, run.attempts)) from exc
        if not _finish(run, state=SyncRun.State.FAILED, error=message):
            run.refresh_from_db()
            return run
    if match:
        _match_after(run)
    if compact:
        _compact_after(run)
    return run


def _compact_after(run: SyncRun) -> None:
    """Merge the search index after a large sync (``search_index_compact``); a failure
    is logged, not raised: the index stays correct, only slower."""
    from crmhub.contacts.search import search_index_compact

    try:
        search_index_compact(written=run.created + run.updated)
    except Exception:
        logger.exception("compacting the search index after sync run %s failed", run.pk)


def _match_after(run: SyncRun) -> None:
    """Place the contacts the run wrote in their people; a failure is noted, not raised.

    The marks stay on the contacts when matching fails, so the next matching redoes it.
    """
    from crmhub.contacts.matching import persons_match

    try:
        persons_match()
    except Exception as exc:
        logger.exception("matching after sync run %s failed", run.pk)
        note = f"Person matching failed (retried after the next sync): {error_text(exc)}"
        run.error = f"{run.error}\n{note}".strip()
        SyncRun.objects.filter(pk=run.pk).update(error=run.error)
