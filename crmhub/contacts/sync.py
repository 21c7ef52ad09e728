"""Write one page of a remote listing into the index, and find what a full pass missed.

Every write is a bulk statement: one ``SELECT`` of the page's existing rows, one upsert
(``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE``) of the new and changed rows
only, and the ``ContactKey`` rows of the contacts whose keys changed. An upsert keyed on
the unique ``(connection, remote_id)`` is what makes a page safe to write twice (a retry,
a run killed and started again): it can never duplicate a contact.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db import connection as db

from crmhub.connectors.base import RemoteContact
from crmhub.contacts.models import Contact, ContactKey
from crmhub.contacts.records import Row, content_hash, json_dumps, remote_key, row_from_remote

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
T = TypeVar("T")


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


def _marks(count: int) -> str:
    """Return ``count`` parameter marks: ``?`` on SQLite (Django's cursor then has nothing
    to rewrite in a 5,000-mark statement), ``%s`` elsewhere."""
    return ", ".join(["?" if db.vendor == "sqlite" else "%s"] * count)


def _existing(connection_id: int, remote_ids: Sequence[str]) -> dict[str, tuple]:
    """Return ``remote_id -> (pk, content_hash, deleted_at, email_keys, phone_keys)`` of
    the page's contacts already in the index (the keys as stored: JSON text or a list)."""
    if not remote_ids:
        return {}
    sql = (
        "SELECT remote_id, id, content_hash, deleted_at, email_keys, phone_keys "  # noqa: S608
        f"FROM contacts_contact WHERE connection_id = {_marks(1)} "
        f"AND remote_id IN ({_marks(len(remote_ids))})"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [connection_id, *remote_ids])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _stored_list(value: object) -> list:
    """Return a JSON list column as read by ``_existing`` (text on SQLite) as a list."""
    return orjson.loads(value) if isinstance(value, str | bytes) else list(value or [])


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
            _insert_many(cursor, _KEY_INSERT, " ON CONFLICT DO NOTHING", keys)


_INSERT_COLUMNS = ("connection_id", "remote_id", "person_id", "matched_by", *UPSERT_FIELDS)
_INSERT = f"INSERT INTO contacts_contact ({', '.join(_INSERT_COLUMNS)}) VALUES "  # noqa: S608
#: Rows already in the index: the upsert still keys on (connection, remote_id), so a row
#: a concurrent writer inserted meanwhile is updated, never duplicated.
_ON_CONFLICT = " ON CONFLICT (connection_id, remote_id) DO UPDATE SET " + ", ".join(
    f"{name} = EXCLUDED.{name}" for name in UPSERT_FIELDS
)
_SYNCED = _INSERT_COLUMNS.index("synced_at")
_SKIP_CONFLICT = " ON CONFLICT (connection_id, remote_id) DO NOTHING"
_RETURNING = " RETURNING remote_id, id"
_KEY_INSERT = "INSERT INTO contacts_contactkey (contact_id, type, value) VALUES "
#: Rows per statement: a page in one (under SQLite's 32,766 parameters: 22 a contact).
_ROWS_PER_STATEMENT = 1000


@functools.lru_cache(maxsize=64)
def _statement(vendor: str, head: str, tail: str, width: int, count: int) -> str:
    """Return ``head`` + ``count`` rows of ``width`` marks + ``tail`` (built once)."""
    row = f"({_marks(width)})"
    return head + ", ".join([row] * count) + tail


def _insert_many(
    cursor: Any, head: str, tail: str, rows: Sequence[Sequence[object]]
) -> list[tuple]:
    """Write ``rows`` with one multi-row ``INSERT`` per ``_ROWS_PER_STATEMENT`` rows; return
    what a ``RETURNING`` ``tail`` returned.

    One statement for many rows rather than ``executemany`` (a statement a row): SQLite
    runs the full-text trigger of each row of an ``executemany`` in its own sub-statement,
    and FTS5 writes its pending terms out at each one; in one statement it writes them
    once (about four times less work a contact, see ``manage.py bench``).
    """
    returned: list[tuple] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = _statement(db.vendor, head, tail, len(chunk[0]), len(chunk))
        cursor.execute(sql, list(chain.from_iterable(chunk)))
        if tail.endswith(_RETURNING):
            returned += cursor.fetchall()
    return returned


def _params(connection_id: int, row: Row, synced: object, ops: Any) -> list[object]:
    """Return the statement values of ``row`` (``_INSERT_COLUMNS`` order)."""
    values = row.values
    emails, phones, email_keys, phone_keys, raw = (
        json_dumps(values["emails"]),
        json_dumps(values["phones"]),
        json_dumps(values["email_keys"]),
        json_dumps(values["phone_keys"]),
        json_dumps(values["raw"]),
    )
    if ops.connection.vendor != "sqlite":  # psycopg: JSON values go as Jsonb
        emails, phones, email_keys, phone_keys, raw = (
            ops.adapt_json_value(orjson.loads(text), None)
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
    """Return ``value`` as the database takes it (Django's own adaptation, without its
    settings lookups on SQLite in UTC: a tenth of a sync's time in the prefetch thread)."""
    if value is None:
        return None
    if ops.connection.vendor == "sqlite" and value.utcoffset() is not None and _utc(ops):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return ops.adapt_datetimefield_value(value)


def _utc(ops: Any) -> bool:
    return settings.USE_TZ and ops.connection.timezone_name == "UTC"


def _upsert(
    connection_id: int, rows: Sequence[tuple[Row, list[object]]], now: datetime, new: set[str]
) -> dict:
    """Write ``rows`` (each with its statement values) in multi-row statements; return the
    ids of the ``new`` ones.

    New rows take an ``INSERT … DO NOTHING`` (half the cost of an upsert in SQLite); one
    that appeared meanwhile (a zombie worker of a reaped run) returns no id and is then
    upserted. Plain SQL rather than ``bulk_create``: building 20 model fields per row
    through the ORM cost more than the database write itself (see ``manage.py bench``).
    """
    synced = db.ops.adapt_datetimefield_value(now)
    inserts: list[list[object]] = []
    updates: list[list[object]] = []
    for row, params in rows:
        params[_SYNCED] = synced
        (inserts if row.remote_id in new else updates).append(params)
    ids: dict[str, int] = {}
    with db.cursor() as cursor:
        if updates:
            _insert_many(cursor, _INSERT, _ON_CONFLICT, updates)
        if inserts:
            ids = dict(_insert_many(cursor, _INSERT, _SKIP_CONFLICT + _RETURNING, inserts))
            if len(ids) < len(inserts):  # inserted meanwhile by another writer: update them
                late = [params for params in inserts if params[1] not in ids]
                ids.update(_insert_many(cursor, _INSERT, _ON_CONFLICT + _RETURNING, late))
    return ids


@dataclass
class PreparedPage:
    """One page made ready for writing without the database (``page_prepare``)."""

    #: The page's contacts by remote id (a page repeating an id: the last wins).
    contacts: dict[str, RemoteContact]
    hashes: dict[str, str]
    #: Rows and statement values built ahead (``build``), by remote id.
    built: dict[str, tuple[Row, list[object]]]
    latest_update: datetime | None


def _built(
    contact: RemoteContact, connection_id: int, country: str, hash_: str, ops: Any
) -> tuple[Row, list[object]]:
    """Return the index row of ``contact`` and its statement values (``synced_at`` unset)."""
    row = row_from_remote(contact, country=country, hash_=hash_)
    return row, _params(connection_id, row, None, ops)


def page_prepare(
    contacts: Sequence[RemoteContact], *, connection_id: int, country: str, ops: Any,
    build: bool,
) -> PreparedPage:  # fmt: skip
    """Hash the contacts of a page and, with ``build``, build their rows too.

    Pure work, no query: the sync runs it in the thread that fetches the pages, while the
    database writes the pages before (``ops`` is the writing connection's, for the values).
    Rows are worth building ahead when most contacts will be written (a first sync);
    otherwise ``page_apply`` builds only those of the new and changed contacts.
    """
    by_id: dict[str, RemoteContact] = {}
    for contact in contacts:
        by_id[remote_key(contact)] = contact
    hashes = {remote_id: content_hash(c, country=country) for remote_id, c in by_id.items()}
    built = {}
    if build:
        for remote_id, contact in by_id.items():
            built[remote_id] = _built(contact, connection_id, country, hashes[remote_id], ops)
    return PreparedPage(
        contacts=by_id, hashes=hashes, built=built, latest_update=_latest(by_id.values())
    )


def page_apply(
    *,
    connection_id: int,
    country: str,
    now: datetime,
    seen: SeenSet,
    contacts: Sequence[RemoteContact] = (),
    prepared: PreparedPage | None = None,
) -> PageOutcome:
    """Write the new and changed contacts of one page (``contacts``, or ``prepared`` by
    ``page_prepare``); return the counts (see ``pages_apply``). Call inside a transaction.
    """
    page = prepared or page_prepare(
        contacts, connection_id=connection_id, country=country, ops=db.ops, build=False
    )
    return pages_apply(
        connection_id=connection_id, country=country, now=now, seen=seen, pages=[page]
    )[0]


def disjoint_runs(
    items: Sequence[T], contacts: Callable[[T], Iterable[str]] = lambda page: page.contacts
) -> list[list[T]]:
    """Split ``items`` (prepared pages, or what carries them: ``contacts`` gives an item's
    remote ids) into runs of consecutive items that share no remote id."""
    runs: list[list[T]] = []
    ids: set[str] = set()
    for item in items:
        if not runs or not ids.isdisjoint(contacts(item)):
            runs.append([])
            ids = set()
        runs[-1].append(item)
        ids.update(contacts(item))
    return runs


def pages_apply(
    *,
    connection_id: int,
    country: str,
    now: datetime,
    seen: SeenSet,
    pages: Sequence[PreparedPage],
) -> list[PageOutcome]:
    """Write the new and changed contacts of ``pages`` (no remote id in two of them: see
    ``disjoint_runs``) with one statement of each kind; return each page's counts.

    Unchanged contacts (same content hash, not deleted) are not written at all. A contact
    marked deleted that the remote lists again comes back (``deleted_at`` cleared).
    Call inside a transaction.
    """
    existing = _existing(connection_id, [rid for page in pages for rid in page.contacts])
    outcomes = [PageOutcome(latest_update=page.latest_update) for page in pages]
    to_write: list[tuple[Row, list[object]]] = []
    owners: list[PageOutcome] = []
    for page, outcome in zip(pages, outcomes, strict=True):
        for remote_id, hash_ in page.hashes.items():
            known = existing.get(remote_id)
            if known is not None and known[1] == hash_ and known[2] is None:
                outcome.unchanged += 1
                outcome.pks.append(known[0])
                continue
            ready = page.built.get(remote_id) or _built(
                page.contacts[remote_id], connection_id, country, hash_, db.ops
            )
            to_write.append(ready)
            owners.append(outcome)
    if to_write:
        new = {row.remote_id for row, _ in to_write if row.remote_id not in existing}
        ids = _upsert(connection_id, to_write, now, new)
        rekeyed: list[tuple[int, Row]] = []
        replace: list[int] = []
        for (row, _), outcome in zip(to_write, owners, strict=True):
            known = existing.get(row.remote_id)
            pk = known[0] if known is not None else ids[row.remote_id]
            outcome.pks.append(pk)
            if known is None:
                outcome.created += 1
                rekeyed.append((pk, row))
                continue
            outcome.updated += 1
            if _stored_list(known[3]) != list(row.email_keys) or _stored_list(known[4]) != list(
                row.phone_keys
            ):
                rekeyed.append((pk, row))
                replace.append(pk)
        _keys_write(rekeyed, replace=replace)
    for outcome in outcomes:
        for pk in outcome.pks:
            if not seen.add(pk):
                outcome.repeated += 1
    return outcomes


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
