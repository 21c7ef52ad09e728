"""The life of a sync run: requested, claimed, passed, finished (or retried).

A ``SyncRun`` moves ``queued → running → succeeded | flagged | failed``. The run row is
committed before its task is published; the task claims it with a conditional update and
holds a lease (``lease``) renewed with every transaction of pages, writing its counts
with it (``passes``). At most one run per connection is queued or running (a partial
unique constraint), so a second request returns the active run at once. A worker that
dies leaves its lease to expire; the reaper (``schedule``) then fails the run, and the
next one starts over safely.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crmhub.actions.ratelimit import QuotaUsedUp
from crmhub.celery import app
from crmhub.connections.models import Connection
from crmhub.connections.services import health_fields
from crmhub.connectors import errors
from crmhub.connectors.registry import connector_class
from crmhub.contacts import matching, search
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync.lease import LeaseLost, lease_claim
from crmhub.contacts.sync.passes import SyncAborted, full_pass_finish, pass_run
from crmhub.core import publishing, redaction
from crmhub.core.crypto import DecryptionError
from crmhub.core.sqlite import memory_bounded

logger = logging.getLogger(__name__)

#: The task that runs a sync, published by name (``contacts.tasks`` calls this package).
SYNC_TASK = "crmhub.contacts.tasks.contacts_sync"
#: Incremental runs ask again for what changed this long before the last cursor
#: (late commits on the remote, clocks a little apart, records sharing a timestamp).
INCREMENTAL_OVERLAP = timedelta(minutes=10)


class SyncRetry(Exception):
    """A retryable remote failure: the task should try the run again after ``countdown``."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.0f} s")
        self.countdown = countdown


# -- requesting -------------------------------------------------------------------------------
def run_publish(run_id: int) -> None:
    """Publish the task of sync run ``run_id`` (a repeat is harmless: runs are claimed)."""
    app.send_task(SYNC_TASK, args=[run_id])


def run_publish_or_defer(run: SyncRun) -> bool:
    """Publish ``run``; if the broker is down, mark it for the reaper and return False."""
    if publishing.publish_or_defer(lambda: run_publish(run.pk), what=f"sync run {run.pk}"):
        return True
    SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
        error=publishing.BROKER_DOWN
    )
    run.error = publishing.BROKER_DOWN
    return False


def _supports_incremental(kind: str) -> bool:
    try:
        return bool(connector_class(kind).supports_incremental)
    except (LookupError, ImportError):
        return False


def run_mode_choose(*, connection: Connection, mode: str | None = None) -> str:
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


def run_request(
    *,
    connection: Connection,
    mode: str | None = None,
    requested_by: str = "schedule",
    confirms: SyncRun | None = None,
) -> SyncRun:
    """Queue a sync of ``connection`` and return its run, or the run already active.

    The task is published once the run row is committed. ``confirms``, a flagged run of
    ``connection``, makes a full pass that applies the deletions the anomaly check held
    back there, at most those (staff confirmed that the remote really lost them).
    """
    active = SyncRun.objects.filter(connection=connection, state__in=SyncRun.ACTIVE_STATES)
    if (run := active.first()) is not None:
        return run
    chosen = run_mode_choose(connection=connection, mode=mode)
    if confirms is not None:
        if confirms.connection_id != connection.pk or confirms.state != SyncRun.State.FLAGGED:
            raise ValueError("Only a flagged run of this connection can be confirmed.")
        chosen = SyncRun.Mode.FULL
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connection=connection,
                mode=chosen,
                requested_by=(requested_by or "")[:150],
                allow_mass_deletion=confirms is not None,
                confirms=confirms,
            )
            created = run
            transaction.on_commit(lambda: run_publish_or_defer(created))
    except IntegrityError:
        if (run := active.first()) is None:
            raise
    return run


# -- running ----------------------------------------------------------------------------------
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


def run_execute(
    *, run: SyncRun, final_attempt: bool = True, match: bool = True, compact: bool = True
) -> SyncRun:
    """Run a queued sync to its end and return it (see ``_execute``), the database
    connection holding SQLite's memory down meanwhile (``core.sqlite.memory_bounded``: a
    sync streams through the whole index once)."""
    with memory_bounded():
        return _execute(run=run, final_attempt=final_attempt, match=match, compact=compact)


def _execute(*, run: SyncRun, final_attempt: bool, match: bool, compact: bool) -> SyncRun:
    """Run a queued sync to its end and return it (already claimed or finished: no-op).

    Raises ``SyncRetry`` for a retryable remote failure when this is not the final
    attempt (the run is queued again; the next attempt counts from zero); any other
    ending is written to the run: ``succeeded``, ``flagged`` (a full pass whose deletions
    look wrong, not applied) or ``failed`` with the reason, secrets masked. Then
    (``match``) the contacts it wrote are matched into people, and (``compact``) a large
    sync's search index is merged.
    """
    started = timezone.now()
    if not lease_claim(run, started):
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    run.since = _since(run)
    run.live_before = Contact.objects.filter(
        connection_id=run.connection_id, deleted_at__isnull=True
    ).count()
    SyncRun.objects.filter(pk=run.pk).update(since=run.since, live_before=run.live_before)
    try:
        state = pass_run(run)
        now = timezone.now()
        outcome, note = SyncRun.State.SUCCEEDED, ""
        if run.mode == SyncRun.Mode.FULL:
            outcome, note = full_pass_finish(run, state, now)
        cursor = min(state.latest_update or started, started)
        _health_set(run.connection_id, None)  # the remote answered: before the run shows done
        if not _finish(run, state=outcome, error=note, cursor=cursor, finished_at=now):
            raise LeaseLost(f"sync run {run.pk} was finished by the reaper")
    except LeaseLost:
        logger.warning("sync run %s lost its lease; stopped", run.pk)
        run.refresh_from_db()
        return run
    except Exception as exc:
        retrying = isinstance(exc, errors.ConnectorError) and exc.retryable and not final_attempt
        message = error_text(exc)
        logger.info("sync run %s failed: %s", run.pk, message)
        if isinstance(exc, errors.ConnectorError | DecryptionError) and not isinstance(
            exc, QuotaUsedUp
        ):
            _health_set(run.connection_id, exc)
        if retrying:
            SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
                state=SyncRun.State.QUEUED,
                queued_at=timezone.now(),
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
    try:
        search.search_index_compact(written=run.created + run.updated)
    except Exception:
        logger.exception("compacting the search index after sync run %s failed", run.pk)


def _match_after(run: SyncRun) -> None:
    """Place the contacts the run wrote in their people; a failure is noted, not raised.

    The marks stay on the contacts when matching fails, so the next matching redoes it.
    """
    try:
        matching.persons_match()
    except Exception as exc:
        logger.exception("matching after sync run %s failed", run.pk)
        note = f"Person matching failed (retried after the next sync): {error_text(exc)}"
        run.error = f"{run.error}\n{note}".strip()
        SyncRun.objects.filter(pk=run.pk).update(error=run.error)
