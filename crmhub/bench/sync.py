"""``bench --section sync``: syncs from the AllClients sandbox.

The sandbox is served by a separate server process over HTTP (no injected latency) and
read through the real AllClients connector. ``sync`` runs a full sync of 100,000 contacts
(fewer with a smaller ``--contacts``), the same again with nothing changed, then with 1%
changed; beside them the physical ceiling (a raw ``executemany`` of the same rows into a
bare SQLite table) and the naive way: the same listing with one ``update_or_create`` per
contact, timed end to end like the full sync (and its writes alone).

The timed syncs are the sync task's pass (``contacts_sync``) without what follows it:
person matching and the search index merge, timed on rows of their own.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from django.db.models.functions import Mod

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.measure import Timer
from crmhub.bench.processes import served_in_process
from crmhub.bench.sandboxes import sandbox_connection
from crmhub.connections.models import Connection
from crmhub.connectors.registry import get_connector
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.search import search_index_compact
from crmhub.contacts.services import contacts_sync
from crmhub.contacts.sync.rows import row_from_remote
from crmhub.sandbox.models import Record
from crmhub.sandbox.services import sandbox_seed

KIND = "allclients"
SYNC_SIZE = 100_000
NAIVE_SAMPLE = 3_000
RATE_LIMIT = 10_000.0
CEILING_COLUMNS = (
    "remote_id", "record_type", "first_name", "last_name", "full_name", "company", "emails",
    "phones", "email_keys", "phone_keys", "remote_updated_at", "raw", "search_names",
    "search_other", "search_phones", "content_hash",
)  # fmt: skip


def sync_timed(connection_id: int) -> tuple[SyncRun, float]:
    """Run one full sync of the connection here (no matching); return it and its seconds."""
    run = SyncRun.objects.create(connection_id=connection_id, mode=SyncRun.Mode.FULL)
    with Timer() as timer:
        run = contacts_sync(run=run, match=False, compact=False)
    if run.state != SyncRun.State.SUCCEEDED:
        raise RuntimeError(f"bench sync ended {run.state}: {run.error}")
    return run, timer.seconds


def _change_one_percent() -> int:
    """Change the first name of every 100th sandbox contact; return how many changed."""
    contacts = Record.objects.filter(kind=KIND, collection="contact", deleted=False)
    changed = list(contacts.alias(rest=Mod("remote_id", 100)).filter(rest=0))
    for row in changed:
        row.data = {**row.data, "firstname": f"{row.data.get('firstname', '')}-changed"}
    Record.objects.bulk_update(changed, ["data"], batch_size=1000)
    return len(changed)


def _ceiling(workdir: Path) -> float:
    """Return rows/s of a raw executemany of the index's rows into a bare SQLite table."""
    rows = list(Contact.objects.values_list(*CEILING_COLUMNS))
    params = [[json.dumps(v) if isinstance(v, list | dict) else v for v in row] for row in rows]
    path = workdir / "ceiling.sqlite3"
    path.unlink(missing_ok=True)
    database = sqlite3.connect(path)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute(f"CREATE TABLE contact (id INTEGER PRIMARY KEY, {', '.join(CEILING_COLUMNS)})")
    marks = ", ".join("?" * len(CEILING_COLUMNS))
    with Timer() as timer:
        database.executemany(
            f"INSERT INTO contact ({', '.join(CEILING_COLUMNS)}) VALUES ({marks})",  # noqa: S608
            [[str(v) if v is not None and not isinstance(v, str) else v for v in row]
             for row in params],
        )  # fmt: skip
        database.commit()
    database.close()
    path.unlink(missing_ok=True)
    return len(params) / timer.seconds


def _naive(url: str) -> tuple[float, float]:
    """Return contacts/s of the naive way: the same listing, one ``update_or_create`` per
    remote contact; end to end (fetching included, as the full sync is timed) and of the
    writes alone."""
    connection = bench_connection(url, name="naive")
    connector = get_connector(connection.spec())
    written = 0
    writing = Timer()
    with Timer() as total:
        for page in connector.iter_contact_pages(page_size=500):
            with Timer() as timer:
                for contact in page.contacts[: NAIVE_SAMPLE - written]:
                    row = row_from_remote(contact, country=connection.country)
                    Contact.objects.update_or_create(
                        connection=connection,
                        remote_id=row.remote_id,
                        defaults={**row.values, "content_hash": row.content_hash},
                    )
                    written += 1
            writing.seconds += timer.seconds
            if written >= NAIVE_SAMPLE:
                break
    connector.close()
    return written / total.seconds, written / writing.seconds


def bench_connection(url: str, *, name: str) -> Connection:
    """Return a connection to the AllClients sandbox served at ``url``, never rate-limited."""
    return sandbox_connection(kind=KIND, public_url=url, name=name, rate_limit=RATE_LIMIT)


def section(ctx: BenchContext) -> list[Row]:
    """Return full / unchanged / 1%-changed sync speeds beside the ceiling and naive way."""
    size = min(ctx.contacts, SYNC_SIZE)
    ctx.write(f"sync: seeding the AllClients sandbox with {size} people ...")
    sandbox_seed(people=size, kinds=(KIND,), reset=True)
    with served_in_process() as url:
        connection = bench_connection(url, name="bench allclients")
        ctx.write("sync: full sync ...")
        full, full_s = sync_timed(connection.pk)
        ctx.write("sync: again, nothing changed ...")
        same, same_s = sync_timed(connection.pk)
        changed = _change_one_percent()
        ctx.write(f"sync: again, {changed} changed ...")
        some, some_s = sync_timed(connection.pk)
        with Timer() as match_timer:
            persons_match()
        with Timer() as compact_timer:
            search_index_compact(written=full.written)
        ctx.write("sync: the naive way (update_or_create per row) ...")
        naive, naive_writes = _naive(url)
    ceiling = _ceiling(ctx.workdir)
    speed = full.fetched / full_s
    return [
        Row("sync", f"full sync of {full.fetched} contacts (HTTP, XML)", speed, "contacts/s",
            naive, "naive sync: update_or_create", target=">= 5000/s and >= 10x"),
        Row("sync", "  full sync beside the naive writes alone (no fetch)", speed, "contacts/s",
            naive_writes, "update_or_create alone"),
        Row("sync", "  physical ceiling: raw executemany into SQLite", ceiling, "rows/s"),
        Row("sync", "  full sync, share of the ceiling", speed, "contacts/s", ceiling,
            "raw executemany"),
        Row("sync", "second sync, nothing changed", same.fetched / same_s, "contacts/s"),
        Row("sync", "  rows written by it", same.written, "rows", target="0"),
        Row("sync", f"sync with 1% changed ({changed})", some.fetched / some_s, "contacts/s"),
        Row("sync", "  rows written by it", some.written, "rows", target=f"{changed}"),
        Row("sync", "person matching after the first sync", match_timer.seconds, "s"),
        Row("sync", "search index merged after the first sync", compact_timer.seconds, "s"),
    ]  # fmt: skip
