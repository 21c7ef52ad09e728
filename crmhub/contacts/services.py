"""Services of the contact index: ask for a sync, run one, dispatch those due; write a
change made through crmhub into the index at once.

Thin entry points for the admin, the console and the tasks; the sync itself is the
package ``contacts.sync`` (see its docstring), the write-through ``contacts.writethrough``.
"""

from __future__ import annotations

from datetime import datetime

from crmhub.connections.models import Connection
from crmhub.connectors.base import RemoteContact
from crmhub.contacts import writethrough
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync import runs, schedule


def sync_request(
    *,
    connection: Connection,
    mode: str | None = None,
    requested_by: str = "schedule",
    confirms: SyncRun | None = None,
) -> SyncRun:
    """Queue a sync of ``connection`` and return its run, or the run already active.

    ``mode`` is ``"full"``, or left to choose (see ``runs.run_mode_choose``);
    ``confirms`` (a flagged run) lets a full pass apply the deletions the anomaly check
    held back there, and no more.
    """
    return runs.run_request(
        connection=connection, mode=mode, requested_by=requested_by, confirms=confirms
    )


def sync_deletions_confirm(*, flagged: SyncRun, requested_by: str) -> tuple[SyncRun, bool]:
    """Queue a full sync applying the deletions ``flagged`` held back (at most those).

    Return the run and whether it was queued now: when a sync of the connection is
    already active, that run is returned and nothing is confirmed.
    """
    run = runs.run_request(
        connection=flagged.connection,
        mode=SyncRun.Mode.FULL,
        requested_by=requested_by,
        confirms=flagged,
    )
    return run, run.confirms_id == flagged.pk and run.state == SyncRun.State.QUEUED


def contacts_sync(
    *, run: SyncRun, final_attempt: bool = True, match: bool = True, compact: bool = True
) -> SyncRun:
    """Run the queued sync ``run`` to its end and return it (see ``runs.run_execute``).

    Raises ``runs.SyncRetry`` for a retryable remote failure unless ``final_attempt``.
    """
    return runs.run_execute(run=run, final_attempt=final_attempt, match=match, compact=compact)


def syncs_dispatch(*, now: datetime | None = None) -> list[SyncRun]:
    """Reap stuck syncs, then queue one for each active connection that is due."""
    return schedule.runs_dispatch(now=now)


def contact_write_through(
    *,
    connection: Connection,
    remote: RemoteContact | None = None,
    deleted_remote_id: str | None = None,
) -> Contact | None:
    """Write what an act changed in the CRM into the index now; return the contact's row.

    ``remote`` is the record as the CRM answered it after a create or update;
    ``deleted_remote_id`` names a record the act deleted. The next sync confirms either.
    """
    if remote is not None:
        return writethrough.contact_write(connection=connection, remote=remote)
    if deleted_remote_id is not None:
        return writethrough.contact_delete(connection=connection, remote_id=deleted_remote_id)
    return None
