"""Fill the contact index with demo people directly, as syncs would have written them.

The ``search`` and ``pages`` sections measure reads, so they write their index with the
sync's own writer (``page_prepare`` and ``pages_apply``) without a remote to fetch from.
The console's tests write their few contacts the same way (``contacts_write``).

The demo people's names come from short lists (55 last names). Real customer lists have a
long tail of rare surnames, which is what makes a person findable by name at all, and what
a spelling index has to hold: so one person in ``RARE_SHARE`` gets a surname of its own
(``rare_surname``), the same in every CRM the person is in.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from crmhub.connections.models import Connection
from crmhub.connectors.base import RemoteContact
from crmhub.contacts.matching import persons_match
from crmhub.contacts.search import search_index_compact
from crmhub.contacts.sync.pages import PageOutcome, SeenSet, page_prepare, pages_apply
from crmhub.contacts.sync.runs import contacts_live_count
from crmhub.sandbox.people import PersonSpec, people_for

RECORD_TYPES = {"allclients": "person", "apptivo": "customer", "collect": "debtor",
                "crmcom": "person"}  # fmt: skip
BATCH = 5000
#: One person in this many has a rare surname.
RARE_SHARE = 5
_ONSETS = ("b", "br", "ch", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p",
           "pr", "r", "s", "sch", "st", "t", "tr", "v", "w", "z")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou", "ie")
_CODAS = ("", "", "n", "r", "s", "l", "k", "t", "nd", "rs")


def rare_surname(key: int) -> str | None:
    """Return the rare surname of demo person ``key`` (None for most people)."""
    if key % RARE_SHARE:
        return None
    rng = random.Random(key * 104729 + 3)
    parts = (rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
             for _ in range(rng.choice((2, 2, 3))))  # fmt: skip
    return "".join(parts).capitalize()


def remote_from_person(person: PersonSpec, *, record_type: str) -> RemoteContact:
    """Return a demo person as a connector would list it (with its rare surname)."""
    rare = rare_surname(person.key)
    if rare is not None:
        person = dataclasses.replace(person, last_name=rare)
    return RemoteContact(
        remote_id=str(person.key),
        record_type=record_type,
        first_name=person.first_name,
        last_name=person.last_name,
        company=person.company,
        emails=(person.email,) if person.email else (),
        phones=(person.phone,) if person.phone else (),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        raw={"key": person.key, "shared": person.shared},
    )


def contacts_write(
    *, connection: Connection, contacts: Sequence[RemoteContact], seen: SeenSet | None = None
) -> PageOutcome:
    """Write ``contacts`` into the index as one page of a sync (one transaction); return
    what it did. ``seen`` carries the ids written over several calls (a pass)."""
    page = page_prepare(
        contacts, connection_id=connection.pk, country=connection.country, ops=db.ops,
        build=False,
    )  # fmt: skip
    with transaction.atomic():
        return pages_apply(
            connection_id=connection.pk, country=connection.country, now=timezone.now(),
            seen=SeenSet() if seen is None else seen, pages=[page],
        )[0]  # fmt: skip


def bench_connections() -> dict[str, Connection]:
    """Return one connection per kind (never called: the index is written directly)."""
    made = {}
    for kind in RECORD_TYPES:
        made[kind], _ = Connection.objects.get_or_create(
            name=f"bench {kind}", defaults={"kind": kind, "base_url": "https://crm.example.com/"}
        )
    return made


def index_fill(
    connections: dict[str, Connection],
    *,
    contacts: int,
    write: Callable[[str], None] | None = None,
) -> None:
    """Write ``contacts`` demo contacts over the four CRMs (upserts: a second call with more
    grows the index) and finish as the syncs would: live counts, people, search index."""
    started = time.perf_counter()
    for kind, record_type in RECORD_TYPES.items():
        connection, seen, batch = connections[kind], SeenSet(), []
        for person in people_for(kind, contacts // len(RECORD_TYPES)):
            batch.append(remote_from_person(person, record_type=record_type))
            if len(batch) >= BATCH:
                contacts_write(connection=connection, contacts=batch, seen=seen)
                batch = []
        if batch:
            contacts_write(connection=connection, contacts=batch, seen=seen)
        contacts_live_count(connection_id=connection.pk)  # as the end of a sync does
        if write:
            write(f"  index: {kind} written ({time.perf_counter() - started:.0f} s)")
    persons_match(full=True)
    search_index_compact(written=contacts)  # as after the syncs that would have written them
    if write:
        write(f"  index: people matched ({time.perf_counter() - started:.0f} s)")
