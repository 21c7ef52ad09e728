"""Scheduling of syncs: the dispatcher (run by beat) and the reaper of stuck runs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from crmhub.connections.models import Connection
from crmhub.contacts.models import SyncRun
from crmhub.contacts.sync import runs
from crmhub.core import publishing

logger = logging.getLogger(__name__)

#: A queued run whose message the broker lost is published again after this long, and
#: failed after ``QUEUED_GIVE_UP`` (both from when it was last queued: a retry counts anew).
REPUBLISH_AFTER = timedelta(minutes=10)
QUEUED_GIVE_UP = timedelta(hours=2)


def runs_reap(*, now: datetime | None = None) -> int:
    """Fail runs whose lease expired, republish lost queued ones; return how many reaped."""
    now = now or timezone.now()
    reaped = SyncRun.objects.filter(state=SyncRun.State.RUNNING, lease_until__lt=now).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error="The worker running this sync stopped before the end (its lease expired). "
        "Nothing it wrote is duplicated; the next sync starts the pass over.",
    )
    queued = SyncRun.objects.filter(state=SyncRun.State.QUEUED)
    reaped += queued.filter(queued_at__lt=now - QUEUED_GIVE_UP).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        error="The sync never started (no worker took it).",
    )
    # Lost messages, and runs requested while the broker was down (sent once it is back).
    lost = Q(queued_at__lt=now - REPUBLISH_AFTER) | Q(error=publishing.BROKER_DOWN)
    for run_id in queued.filter(lost).values_list("pk", flat=True):
        runs.run_publish(run_id)  # the claim makes a second delivery harmless
        queued.filter(pk=run_id, error=publishing.BROKER_DOWN).update(error="")
    if reaped:
        logger.warning("reaped %s sync run(s)", reaped)
    return reaped


def runs_dispatch(*, now: datetime | None = None) -> list[SyncRun]:
    """Reap stuck runs, then queue a sync of each active connection that is due: its
    interval has passed since its latest run was last queued (a retry counts)."""
    now = now or timezone.now()
    runs_reap(now=now)
    latest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-pk")
    connections = Connection.objects.filter(is_active=True).annotate(
        last_requested=Subquery(latest.values("queued_at")[:1]),
        last_state=Subquery(latest.values("state")[:1]),
    )
    queued = []
    for connection in connections:
        if connection.last_state in SyncRun.ACTIVE_STATES:
            continue
        interval = timedelta(minutes=connection.sync_interval_minutes)
        if connection.last_requested is None or connection.last_requested + interval <= now:
            queued.append(runs.run_request(connection=connection, requested_by="schedule"))
    return queued
