"""Seed the simulated Collect! database: people split over the record types, plus plans."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from django.db import transaction

from crmhub.sandbox.collect.tables import KIND, PLANS, SPLIT, modified_at, person_row
from crmhub.sandbox.models import Record
from crmhub.sandbox.people import PersonSpec


def _records(people: Iterable[PersonSpec]) -> Iterator[Record]:
    """Yield one unsaved ``Record`` per person; each table numbers its rows from 1.

    A person is put in the table it names (``record_type``: a household's debtor and
    cosigner), else the tables take the people in turn (``SPLIT``).
    """
    next_rowid = dict.fromkeys(SPLIT, 1)
    for index, person in enumerate(people):
        table = person.record_type if person.record_type in SPLIT else SPLIT[index % len(SPLIT)]
        rowid = next_rowid[table]
        next_rowid[table] = rowid + 1
        modified = modified_at(person.key)
        yield Record(
            kind=KIND,
            collection=table,
            remote_id=rowid,
            data=person_row(table, rowid, person, modified),
            updated_at=modified,
        )


def _plans() -> Iterator[Record]:
    for plan in PLANS:
        yield Record(
            kind=KIND,
            collection="contact_plan",
            remote_id=plan["cp_rowid"],
            data=dict(plan),
            updated_at=modified_at(0),
        )


def seed(people: Iterable[PersonSpec], *, batch_size: int = 5000) -> int:
    """Bulk-insert ``people`` and the seeded contact plans; return how many rows were written."""
    written = 0
    rows = itertools.chain(_plans(), _records(people))
    while batch := list(itertools.islice(rows, batch_size)):
        with transaction.atomic(using="sandbox"):
            Record.objects.bulk_create(batch, batch_size=batch_size)
        written += len(batch)
    return written
