"""The load run's archive: the part of the index no sync touches while the load runs.

The sandbox CRMs hold ``people`` records each (the bulk act's targets, and what the
full syncs during the load fetch); a realistic index is far larger. The rest of the
``--contacts`` is written straight into the index, as syncs would have written it
(``bench.index.index_fill``: the sync's own writer, people matched, search index built),
for one archive connection per CRM. Each archive connection has a complete full pass on
record and a sync interval longer than any run, so the scheduler never syncs it: a
sync of an unreachable archive would fail, and a full pass would mark its contacts
deleted. Searches and lists run over the whole index; the archive's contacts are never
the target of an act.

``ARCHIVE`` is the code the load run gives to the stack's ``manage.py shell`` (the
stack's own databases), before the stack's processes start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db.models import Count, Q
from django.utils import timezone

from crmhub.bench.index import RECORD_TYPES, index_fill
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, Person, SyncRun

NAME = "Archive {kind}"
#: Never due during a run (30 days).
SYNC_INTERVAL_MINUTES = 30 * 24 * 60
REQUESTED_BY = "archive"

ARCHIVE = """
import json
from crmhub.bench.load.archive import archive_fill
print(json.dumps(archive_fill(contacts=%(contacts)d)))
"""
SIZE = """
import json
from crmhub.bench.load.archive import index_size
print(json.dumps(index_size()))
"""


def archive_connections() -> dict[str, Connection]:
    """Return the archive connections, one per CRM kind (created on first use)."""
    made = {}
    for kind in RECORD_TYPES:
        made[kind], _ = Connection.objects.get_or_create(
            name=NAME.format(kind=kind),
            defaults={
                "kind": kind,
                "base_url": "https://archive.example.com/",
                "sync_interval_minutes": SYNC_INTERVAL_MINUTES,
                "full_sync_interval_hours": SYNC_INTERVAL_MINUTES // 60,
            },
        )
    return made


def archive_fill(*, contacts: int, write: Callable[[str], None] = print) -> dict[str, float]:
    """Write ``contacts`` demo contacts into the archive connections, match people, build
    the search index, and record a complete full pass for each; return the contacts
    written and the seconds taken."""
    started = time.perf_counter()
    connections = archive_connections()
    index_fill(connections, contacts=contacts, write=write)
    now = timezone.now()
    for connection in connections.values():
        connection.refresh_from_db(fields=["contacts_live"])
        SyncRun.objects.create(
            connection=connection, mode=SyncRun.Mode.FULL, state=SyncRun.State.SUCCEEDED,
            requested_by=REQUESTED_BY, queued_at=now, started_at=now, finished_at=now,
            fetched=connection.contacts_live, created=connection.contacts_live,
        )  # fmt: skip
    written = sum(c.contacts_live for c in connections.values())
    return {"contacts": written, "seconds": time.perf_counter() - started}


def index_size() -> dict[str, int]:
    """Return the live contacts of the index (all, and the archive's) and its people."""
    live = Contact.objects.filter(deleted_at__isnull=True)
    counts = live.aggregate(
        contacts=Count("id"),
        archive=Count("id", filter=Q(connection__name__startswith=NAME.format(kind=""))),
    )
    return {**counts, "people": Person.objects.count()}
