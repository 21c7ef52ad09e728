"""Small helpers of the contact index tests."""

from __future__ import annotations

from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import contacts_sync, sync_request


def sync(connection, *, mode: str | None = None, match: bool = True, **request) -> SyncRun:  # type: ignore[no-untyped-def]
    """Request a sync of ``connection`` and run it here, to its end; return the run."""
    run = sync_request(connection=connection, mode=mode, requested_by="test", **request)
    run = contacts_sync(run=run, match=match)
    run.refresh_from_db()
    return run


def index_of(connection) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Return the connection's index rows, comparable between two runs."""
    return list(
        Contact.objects.filter(connection=connection)
        .order_by("remote_id")
        .values_list(
            "remote_id", "first_name", "last_name", "email_keys", "phone_keys", "deleted_at"
        )
    )


def counts(run: SyncRun) -> dict[str, int]:
    return {
        name: getattr(run, name)
        for name in ("fetched", "created", "updated", "unchanged", "deleted")
    }
