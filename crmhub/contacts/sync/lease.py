"""A running sync's lease: claimed with the run, renewed with every transaction of pages.

A worker that dies stops renewing; once the lease has run out the reaper
(``schedule.runs_reap``) fails the run, and a worker still writing it (a zombie) finds
out at its next renewal (``LeaseLost``) and stops without touching it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from crmhub.contacts.models import SyncRun


class LeaseLost(Exception):
    """The run is no longer ours (the reaper finished it): stop without touching it."""


def lease_length() -> timedelta:
    """Return how long a lease lasts (``CRMHUB_SYNC_LEASE_SECONDS``)."""
    return timedelta(seconds=settings.CRMHUB_SYNC_LEASE_SECONDS)


#: What an attempt counts, from zero each time (a retry starts the pass over).
ATTEMPT_COUNTS = {
    "pages": 0,
    "fetched": 0,
    "created": 0,
    "updated": 0,
    "unchanged": 0,
    "deleted": 0,
    "missing": 0,
    "expected_total": None,
}


def lease_claim(run: SyncRun, now: datetime) -> bool:
    """Claim the queued ``run`` (``queued → running``) with a fresh lease and its counts
    back at zero; return whether this worker got it (a second delivery does not)."""
    claimed = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
        state=SyncRun.State.RUNNING,
        started_at=now,
        lease_until=now + lease_length(),
        attempts=F("attempts") + 1,
        finished_at=None,
        **ATTEMPT_COUNTS,
    )
    return bool(claimed)


def lease_renew(run: SyncRun, now: datetime, **fields: object) -> None:
    """Renew the run's lease (writing ``fields`` with it); raise ``LeaseLost`` if the
    reaper finished the run meanwhile. Inside the transaction of what it guards."""
    kept = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        **fields, lease_until=now + lease_length()
    )
    if not kept:
        raise LeaseLost(f"sync run {run.pk} was finished by the reaper")
