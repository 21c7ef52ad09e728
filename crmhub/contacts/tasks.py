"""Celery tasks of the contact index: thin wrappers taking ids (JSON), calling services."""

from __future__ import annotations

from celery import Task, shared_task

from crmhub.contacts import services
from crmhub.contacts.models import SyncRun
from crmhub.contacts.sync.runs import SyncRetry

#: A full pass of a large remote can take a while; the lease, renewed as pages are written,
#: is what detects a dead worker, not this limit.
SYNC_SOFT_TIME_LIMIT = 3 * 3600
SYNC_TIME_LIMIT = SYNC_SOFT_TIME_LIMIT + 120
SYNC_MAX_RETRIES = 4


@shared_task(
    bind=True,
    name="crmhub.contacts.tasks.contacts_sync",
    acks_late=True,
    max_retries=SYNC_MAX_RETRIES,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT,
    time_limit=SYNC_TIME_LIMIT,
)
def contacts_sync(self: Task[..., str | None], run_id: int) -> str | None:
    """Run sync ``run_id``; retry it later on a retryable remote failure."""
    run = SyncRun.objects.filter(pk=run_id).select_related("connection").first()
    if run is None:
        return None
    try:
        run = services.contacts_sync(
            run=run, final_attempt=self.request.retries >= (self.max_retries or 0)
        )
    except SyncRetry as retry:
        raise self.retry(countdown=retry.countdown) from None
    return str(run.state)


@shared_task(
    name="crmhub.contacts.tasks.syncs_dispatch",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def syncs_dispatch() -> int:
    """Reap stuck syncs and queue those that are due (beat runs this)."""
    return len(services.syncs_dispatch())


@shared_task(
    name="crmhub.contacts.tasks.persons_match",
    acks_late=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def persons_match(full: bool = False) -> int:
    """Match the contacts waiting for it into people; return how many moved."""
    from crmhub.contacts.matching import persons_match as match

    return match(full=full).moved
