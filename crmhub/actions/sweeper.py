"""The periodic sweep that makes the database, not the broker, the record of every action.

Each run (beat, every ``CRMHUB_SWEEP_SECONDS``):

1. resolves claims whose lease expired — the worker is presumed lost: an unsafe action that
   may have been sent becomes ``unknown``; a safe one is queued again (failed once it has
   been lost ``CRMHUB_MAX_DELIVERIES`` times);
2. takes back actions published but unclaimed for ``CRMHUB_ACTION_REPUBLISH_SECONDS`` (the
   embedded broker loses the message of a killed worker), for the dispatcher — not those
   whose message is being handled (received lately). When a received message went
   silent, or a safe action's lease ran out, a worker was lost: the action is freed for the
   next message, which is counted (see ``executor._receive``);
3. dispatches due actions of every active connection, up to its window (a connection whose
   backlog waits for its rate limit is shown "throttled until" the backlog can clear);
4. brings batch totals up to date and finishes batches with nothing left to do;
5. publishes again the connection checks ("Test connection") that were asked for but not
   run (the broker was down when they were asked for).

Actions asked for while the broker was down are unpublished rows (step 3 sends them).

Every query is on an index, so a sweep stays cheap with 100,000 actions waiting. Running
two sweeps at once is harmless: every change is a conditional update.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from crmhub.actions import dispatch, ratelimit
from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.outcomes import CHECK_AND_RESEND
from crmhub.actions.selectors import batch_counts
from crmhub.connections.models import Connection
from crmhub.connections.services import connection_checks_republish

logger = logging.getLogger("crmhub.actions")

LEASE_BATCH = 500
BROKER_FILES_MAX_AGE = timedelta(days=1)


def actions_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Run one sweep; return what it did, by step."""
    now = now or timezone.now()
    done = {
        "lost": _resolve_expired_leases(now),
        "republished": _take_back_unclaimed(now),
        "published": _dispatch_all(),
        "batches_finished": _update_batches(now),
        "checks_republished": connection_checks_republish(now=now),
    }
    if any(done.values()):
        logger.info("sweep: %s", done)
    return done


def _resolve_expired_leases(now: datetime) -> int:
    expired = Action.objects.filter(
        state__in=[Action.State.SENDING, Action.State.NEEDS_INPUT], lease_until__lt=now
    ).values_list("pk", "attempts", "safe", "state", "deliveries")[:LEASE_BATCH]
    resolved = 0
    for pk, attempts, safe, state, deliveries in expired:
        resolved += _resolve_lost(pk, attempts, safe=safe, state=state, deliveries=deliveries)
    return resolved


def _resolve_lost(pk: int, attempts: int, *, safe: bool, state: str, deliveries: int) -> int:
    now = timezone.now()
    mine = Action.objects.filter(pk=pk, attempts=attempts, state=state, lease_until__lt=now)
    if safe and state == Action.State.SENDING and deliveries < settings.CRMHUB_MAX_DELIVERIES:
        changed = mine.update(
            state=Action.State.QUEUED,
            lease_until=None,
            published_at=None,
            # A lost worker: the next message received takes it over (and is counted).
            received_task_id="",
            received_at=None,
            not_before=now,
            updated_at=now,
            error="Its worker was lost; queued again.",
        )
    elif safe and state == Action.State.SENDING:
        changed = mine.update(
            state=Action.State.FAILED,
            lease_until=None,
            finished_at=now,
            updated_at=now,
            error=f"Its worker was lost {deliveries} times; not tried again (a poison message).",
        )
    else:
        changed = mine.update(
            state=Action.State.UNKNOWN,
            lease_until=None,
            finished_at=now,
            updated_at=now,
            error="The worker sending it was lost after the request may have reached the CRM. "
            + CHECK_AND_RESEND,
        )
    if changed:
        Attempt.objects.filter(
            action_id=pk, number=attempts, outcome=Attempt.Outcome.RUNNING
        ).update(
            outcome=Attempt.Outcome.LOST, finished_at=now, error="Worker lost (lease expired)."
        )
        logger.warning("action %s: worker lost during attempt %s", pk, attempts)
    return changed


def _take_back_unclaimed(now: datetime) -> int:
    """Hand unclaimed actions back to the dispatcher, unless their message was received
    lately (it is alive: being handled, or redelivered after a lost worker)."""
    cutoff = now - timedelta(seconds=settings.CRMHUB_ACTION_REPUBLISH_SECONDS)
    unclaimed = Action.objects.filter(state=Action.State.QUEUED, published_at__lt=cutoff)
    # Received, then silent as long: the worker that took the message was lost with it.
    # The action is freed: the next message received takes it over (and is counted).
    lost = unclaimed.filter(received_at__lt=cutoff).update(
        published_at=None, received_task_id="", received_at=None
    )
    return lost + unclaimed.filter(received_at__isnull=True).update(published_at=None)


def _dispatch_all() -> int:
    published = 0
    active = Connection.objects.filter(is_active=True)
    for connection in active.only("pk", "rate_limit", "throttled_until"):
        published += dispatch.dispatch(
            connection_id=connection.pk, rate_limit=connection.rate_limit
        )
        _note_backlog(connection)
    return published


def _note_backlog(connection: Connection) -> None:
    """Show a connection held back by its rate limit as throttled until its backlog clears."""
    backlog = Action.objects.filter(
        connection_id=connection.pk,
        state=Action.State.QUEUED,
        published_at__isnull=True,
        not_before__lte=timezone.now(),
    ).count()
    if backlog:
        wait = backlog / max(float(connection.rate_limit or 0), 0.001)
        ratelimit.throttle_note(connection=connection, wait=wait)


def _update_batches(now: datetime) -> int:
    finished = 0
    for batch in Batch.objects.filter(state=Batch.State.RUNNING):
        if batch.cancelled_at is not None:  # one put back in the queue after its cancel
            Action.objects.filter(batch=batch, state=Action.State.QUEUED).update(
                state=Action.State.CANCELLED,
                error="Bulk run cancelled before this action was sent again.",
                finished_at=now,
                updated_at=now,
                published_at=None,
            )
        totals = batch_counts(batch=batch)
        open_states = (Action.State.QUEUED, Action.State.SENDING, Action.State.NEEDS_INPUT)
        done = not any(totals.get(state) for state in open_states)
        values: dict[str, object] = {"totals": totals}
        if done:
            values.update(state=Batch.State.FINISHED, finished_at=now)
            finished += 1
        if totals != batch.totals or done:
            Batch.objects.filter(pk=batch.pk, state=Batch.State.RUNNING).update(**values)
    return finished


def housekeeping() -> dict[str, int]:
    """Remove the embedded broker's processed messages older than a day."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    removed = 0
    cutoff = time.time() - BROKER_FILES_MAX_AGE.total_seconds()
    folder = options.get("processed_folder")
    if folder and Path(str(folder)).is_dir():
        for path in Path(str(folder)).iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return {"broker_files_removed": removed}
