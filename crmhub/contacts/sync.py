"""Write one page of a remote listing into the index, and find what a full pass missed.

Every write is a bulk statement: one ``SELECT`` of the page's existing rows, one upsert
(``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE``) of the new and changed rows
only, and the ``ContactKey`` rows of the contacts whose keys changed. An upsert keyed on
the unique ``(connection, remote_id)`` is what makes a page safe to write twice (a retry,
a run killed and started again): it can never duplicate a contact.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from django.db import connection as db

from crmhub.connectors.base import RemoteContact
from crmhub.contacts.models import Contact, ContactKey
from crmhub.contacts.records import Row, content_hash, row_from_remote

#: Columns an upsert rewrites when the remote record changed (or came back).
UPSERT_FIELDS = (
    "record_type",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "emails",
    "phones",
    "email_keys",
    "phone_keys",
    "remote_updated_at",
    "raw",
    "search_names",
    "search_other",
    "search_phones",
    "content_hash",
    "synced_at",
    "deleted_at",
    "needs_match",
)
_CHUNK = 500


class SeenSet:
    """The contact ids a pass has seen, one bit each (1,000,000 ids take 125 kB)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, pk: int) -> bool:
        """Add ``pk``; return whether it was new."""
        index, bit = pk >> 3, 1 << (pk & 7)
        if index >= len(self._bits):
            self._bits.extend(bytes(max(index + 1 - len(self._bits), len(self._bits))))
        if self._bits[index] & bit:
            return False
        self._bits[index] |= bit
        self.count += 1
        return True

    def __contains__(self, pk: int) -> bool:
        index = pk >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (pk & 7)))


@dataclass
class PageOutcome:
    """What writing one page did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Contacts of the page this pass had already seen on an earlier page.
    repeated: int = 0
    latest_update: datetime | None = None
    pks: list[int] = field(default_factory=list)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a remote without a zone: read as UTC
    return value


def _latest(contacts: Iterable[RemoteContact]) -> datetime | None:
    stamps = [stamp for c in contacts if (stamp := _aware(c.updated_at)) is not None]
    return max(stamps) if stamps else None


def _existing(connection_id: int, remote_ids: Sequence[str]) -> dict[str, tuple]:
    rows = Contact.objects.filter(connection_id=connection_id, remote_id__in=remote_ids)
    return {
        row[0]: row[1:]
        for row in rows.values_list(
            "remote_id", "pk", "content_hash", "deleted_at", "email_keys", "phone_keys"
        )
    }


def _keys_write(rows: Sequence[tuple[int, Row]], *, replace: Sequence[int]) -> None:
    """Replace the ``ContactKey`` rows of ``replace`` and insert those of ``rows``."""
    for start in range(0, len(replace), _CHUNK):
        ContactKey.objects.filter(contact_id__in=replace[start : start + _CHUNK]).delete()
    keys = [
        (pk, kind, value)
        for pk, row in rows
        for kind, values in (("email", row.email_keys), ("phone", row.phone_keys))
        for value in values
    ]
    if keys:
        with db.cursor() as cursor:
            _insert_many(cursor, _KEY_INSERT, _KEY_ROW, " ON CONFLICT DO NOTHING", keys)


def _json_default(value: object) -> object:
    """Encode what JSON lacks in a remote record: dates as ISO text, the rest as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))


_INSERT_COLUMNS = ("connection_id", "remote_id", "person_id", "matched_by", *UPSERT_FIELDS)
_ROW = f"({', '.join(['%s'] * len(_INSERT_COLUMNS))})"
_INSERT = f"INSERT INTO contacts_contact ({', '.join(_INSERT_COLUMNS)}) VALUES "  # noqa: S608
#: Rows already in the index: the upsert still keys on (connection, remote_id), so a row
#: a concurrent writer inserted meanwhile is updated, never duplicated.
_ON_CONFLICT = " ON CONFLICT (connection_id, remote_id) DO UPDATE SET " + ", ".join(
    f"{name} = EXCLUDED.{name}" for name in UPSERT_FIELDS
)
_KEY_INSERT = "INSERT INTO contacts_contactkey (contact_id, type, value) VALUES "
_KEY_ROW = "(%s, %s, %s)"
#: Rows per statement: under SQLite's 32,766 parameters (22 columns a contact row).
_ROWS_PER_STATEMENT = 250


def _insert_many(
    cursor: Any, head: str, row: str, tail: str, rows: Sequence[Sequence[object]]
) -> None:
    """Write ``rows`` with one multi-row ``INSERT`` per ``_ROWS_PER_STATEMENT`` rows.

    One statement for many rows rather than ``executemany`` (a statement a row): SQLite
    runs the full-text trigger of each row of an ``executemany`` in its own sub-statement,
    and FTS5 writes its pending terms out at each one; in one statement it writes them
    once (about four times less work a contact, see ``manage.py bench``).
    """
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = head + ", ".join([row] * len(chunk)) + tail
        cursor.execute(sql, [value for values in chunk for value in values])


def _params(connection_id: int, row: Row, synced: object, ops: Any) -> list[object]:
    values = row.values
    encode = _ENCODER.encode
    emails, phones, email_keys, phone_keys, raw = (
        encode(values[name]) for name in ("emails", "phones", "email_keys", "phone_keys", "raw")
    )
    if ops.connection.vendor != "sqlite":  # psycopg: JSON values go as Jsonb
        emails, phones, email_keys, phone_keys, raw = (
            ops.adapt_json_value(json.loads(text), None)
            for text in (emails, phones, email_keys, phone_keys, raw)
        )
    return [
        connection_id,
        row.remote_id,
        None,
        "",
        values["record_type"],
        values["first_name"],
        values["last_name"],
        values["full_name"],
        values["company"],
        emails,
        phones,
        email_keys,
        phone_keys,
        _datetime(ops, values["remote_updated_at"]),
        raw,
        values["search_names"],
        values["search_other"],
        values["search_phones"],
        row.content_hash,
        synced,
        None,
        True,
    ]


def _datetime(ops: Any, value: datetime | None) -> object:
    return ops.adapt_datetimefield_value(value) if value is not None else None


def _upsert(connection_id: int, rows: Sequence[Row], now: datetime, new: set[str]) -> dict:
    """Write ``rows`` in multi-row statements; return the ids of the ``new`` ones.

    New rows take a plain ``INSERT`` (half the cost of an upsert in SQLite); should one
    appear meanwhile (a zombie worker of a reaped run), the page falls back to the upsert
    for every row. Plain SQL rather than ``bulk_create``: building 20 model fields per row
    through the ORM cost more than the database write itself (see ``manage.py bench``).
    """
    ops = db.ops
    synced = ops.adapt_datetimefield_value(now)
    inserts = [_params(connection_id, row, synced, ops) for row in rows if row.remote_id in new]
    updates = [_params(connection_id, row, synced, ops) for row in rows if row.remote_id not in new]
    with db.cursor() as cursor:
        if updates:
            _insert_many(cursor, _INSERT, _ROW, _ON_CONFLICT, updates)
        if inserts:
            try:
                with transaction.atomic():
                    _insert_many(cursor, _INSERT, _ROW, "", inserts)
            except IntegrityError:
                _insert_many(cursor, _INSERT, _ROW, _ON_CONFLICT, inserts)
    if not new:
        return {}
    query = Contact.objects.filter(connection_id=connection_id, remote_id__in=list(new))
    return dict(query.values_list("remote_id", "pk"))


def page_apply(
    *,
    connection_id: int,
    country: str,
    contacts: Sequence[RemoteContact],
    now: datetime,
    seen: SeenSet,
) -> PageOutcome:
    """Write the new and changed contacts of one page; return the counts.

    Unchanged contacts (same content hash, not deleted) are not written at all. A contact
    marked deleted that the remote lists again comes back (``deleted_at`` cleared).
    Call inside a transaction.
    """
    by_id: dict[str, RemoteContact] = {}
    for contact in contacts:
        by_id[str(contact.remote_id)[:64]] = contact  # a page repeating an id: the last wins
    outcome = PageOutcome(latest_update=_latest(by_id.values()))
    existing = _existing(connection_id, list(by_id))
    to_write: list[Row] = []
    for remote_id, contact in by_id.items():
        hash_ = content_hash(contact, country=country)
        known = existing.get(remote_id)
        if known is not None and known[1] == hash_ and known[2] is None:
            outcome.unchanged += 1
            outcome.pks.append(known[0])
            continue
        to_write.append(row_from_remote(contact, country=country, hash_=hash_))
    if to_write:
        new = {row.remote_id for row in to_write if row.remote_id not in existing}
        ids = _upsert(connection_id, to_write, now, new)
        rekeyed: list[tuple[int, Row]] = []
        replace: list[int] = []
        for row in to_write:
            known = existing.get(row.remote_id)
            pk = known[0] if known is not None else ids[row.remote_id]
            outcome.pks.append(pk)
            if known is None:
                outcome.created += 1
                rekeyed.append((pk, row))
                continue
            outcome.updated += 1
            if list(known[3] or []) != list(row.email_keys) or list(known[4] or []) != list(
                row.phone_keys
            ):
                rekeyed.append((pk, row))
                replace.append(pk)
        _keys_write(rekeyed, replace=replace)
    for pk in outcome.pks:
        if not seen.add(pk):
            outcome.repeated += 1
    return outcome


def live_ids(*, connection_id: int) -> Iterator[int]:
    """Yield the ids of the connection's contacts not marked deleted, in id order."""
    query = Contact.objects.filter(connection_id=connection_id, deleted_at__isnull=True)
    yield from query.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=5000)


def missing_ids(*, connection_id: int, seen: SeenSet) -> array:
    """Return the ids of live contacts a full pass did not see (8 bytes each)."""
    missing = array("q")
    for pk in live_ids(connection_id=connection_id):
        if pk not in seen:
            missing.append(pk)
    return missing


def contacts_mark_deleted(*, pks: Sequence[int], now: datetime) -> int:
    """Mark contacts deleted (never drop them); return how many rows changed."""
    changed = 0
    for start in range(0, len(pks), _CHUNK):
        chunk = list(pks[start : start + _CHUNK])
        changed += Contact.objects.filter(pk__in=chunk, deleted_at__isnull=True).update(
            deleted_at=now, synced_at=now, needs_match=True
        )
    return changed
