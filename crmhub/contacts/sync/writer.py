"""The statements that write contacts into the index.

Every write is a bulk statement: one ``SELECT`` of a page's existing rows, one upsert
(``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE``) of the new and changed rows
only, and the ``ContactKey`` rows of the contacts whose keys changed. An upsert keyed on
the unique ``(connection, remote_id)`` is what makes a page safe to write twice (a retry,
a run killed and started again): it can never duplicate a contact.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db

from crmhub.contacts import spelling
from crmhub.contacts.models import Contact, ContactKey
from crmhub.contacts.sync.rows import JSON_OPTIONS, Row, json_dumps
from crmhub.core.sqlite import statement_pieces

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


def _marks(count: int) -> str:
    """Return ``count`` parameter marks: ``?`` on SQLite (Django's cursor then has nothing
    to rewrite in a 5,000-mark statement), ``%s`` elsewhere."""
    return ", ".join(["?" if db.vendor == "sqlite" else "%s"] * count)


class Prepared(NamedTuple):
    """A contact ready to write: its statement values, and what its keys are."""

    remote_id: str
    email_keys: tuple[str, ...]
    phone_keys: tuple[str, ...]
    #: The values of ``_INSERT_COLUMNS`` (``synced_at`` set when written).
    params: list[object]

    @property
    def search_names(self) -> str:
        return str(self.params[_NAMES])


def existing(connection_id: int, remote_ids: Sequence[str]) -> dict[str, tuple]:
    """Return ``remote_id -> (pk, content_hash, deleted_at, email_keys, phone_keys,
    search_names)`` of the page's contacts already in the index (the keys as stored: JSON
    text or a list)."""
    found: dict[str, tuple] = {}
    with db.cursor() as cursor:
        if db.vendor == "postgresql":  # one array, not a mark an id (see ``_staged``)
            cursor.execute(_EXISTING_ANY, [connection_id, list(remote_ids)])
            return {row[0]: row[1:] for row in cursor.fetchall()}
        for start, size in statement_pieces(len(remote_ids), _IDS_PER_STATEMENT):
            cursor.execute(
                _existing_statement(db.vendor, size),
                [connection_id, *remote_ids[start : start + size]],
            )
            found.update((row[0], row[1:]) for row in cursor.fetchall())
    return found


def stored_list(value: str | bytes | list[Any] | None) -> list[Any]:
    """Return a JSON list column as read by ``existing`` (text on SQLite) as a list."""
    return orjson.loads(value) if isinstance(value, str | bytes) else list(value or [])


#: A pass has the index's statistics refreshed once it has created at least this many
#: contacts since they were gathered, and as many as they count (the table has doubled).
ANALYZE_MIN_CREATED = 2_000


def statistics_refresh(*, created: int) -> bool:
    """Refresh PostgreSQL's statistics of the contacts when ``created`` contacts (created
    since the last refresh) have at least doubled the rows they know; return whether it
    did. Call it outside a batch's transaction.

    Without them (a table new or emptied, or grown since autovacuum last analysed it, at
    most once a minute) the planner takes the 4,000 remote ids of ``existing`` for 0.5%
    of the rows each, so for all of them: it scanned every contact of the connection and
    filtered them by the ids, a batch's lookup growing with the index (56 ms at 80,000
    contacts, 0.7 s with the ids as one parameter) instead of 4,000 probes of the unique
    ``(connection, remote_id)`` index (5 ms). ``ANALYZE`` samples at most 30,000 rows
    and is told of the two columns only (the other columns' statistics, and autovacuum's
    own count of changed rows, stay as they were); a pass filling an empty index to
    1,000,000 runs it about ten times. ``SKIP_LOCKED``: when a vacuum holds the table the
    pass goes on without waiting (it refreshes again once it has doubled the table).
    """
    if db.vendor != "postgresql" or created < ANALYZE_MIN_CREATED:
        return False
    with db.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'contacts_contact'::regclass")
        (known,) = cursor.fetchone()
        if created < known:
            return False
        cursor.execute("ANALYZE (SKIP_LOCKED) contacts_contact (connection_id, remote_id)")
    return True


def keys_write(rows: Sequence[tuple[int, Prepared]], *, replace: Sequence[int]) -> None:
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
            _insert_new(cursor, _KEY_INSERT, "", " ON CONFLICT DO NOTHING", keys)


_INSERT_COLUMNS = ("connection_id", "remote_id", "person_id", "matched_by", *UPSERT_FIELDS)
_INSERT = f"INSERT INTO contacts_contact ({', '.join(_INSERT_COLUMNS)}) VALUES "  # noqa: S608
#: Rows already in the index: the upsert still keys on (connection, remote_id), so a row
#: a concurrent writer inserted meanwhile is updated, never duplicated.
_ON_CONFLICT = " ON CONFLICT (connection_id, remote_id) DO UPDATE SET " + ", ".join(
    f"{name} = EXCLUDED.{name}" for name in UPSERT_FIELDS
)
_SYNCED = _INSERT_COLUMNS.index("synced_at")
_NAMES = _INSERT_COLUMNS.index("search_names")
_SKIP_CONFLICT = " ON CONFLICT (connection_id, remote_id) DO NOTHING"
_RETURNING = " RETURNING remote_id, id"
_KEY_INSERT = "INSERT INTO contacts_contactkey (contact_id, type, value) VALUES "
#: Rows per statement: a page in one (under SQLite's 32,766 parameters: 22 a contact).
_ROWS_PER_STATEMENT = 1000
_IDS_PER_STATEMENT = 4096
_EXISTING = (
    "SELECT remote_id, id, content_hash, deleted_at, email_keys, phone_keys, "
    "search_names FROM contacts_contact WHERE connection_id = {mark} AND remote_id IN ({marks})"
)
#: PostgreSQL: the remote ids as one array.
_EXISTING_ANY = _EXISTING.format(mark="%s", marks="%s").replace(
    "remote_id IN (%s)", "remote_id = ANY(%s::text[])"
)


#: PostgreSQL: the type of each column the statements write (JSON is staged as its text
#: and cast: the text is built already, and psycopg would encode it again with ``json``).
_TYPES = {
    "connection_id": "bigint", "remote_id": "text", "person_id": "bigint",
    "matched_by": "text", "record_type": "text", "first_name": "text", "last_name": "text",
    "full_name": "text", "company": "text", "emails": "jsonb", "phones": "jsonb",
    "email_keys": "jsonb", "phone_keys": "jsonb", "remote_updated_at": "timestamptz",
    "raw": "jsonb", "search_names": "text", "search_other": "text", "search_phones": "text",
    "content_hash": "text", "synced_at": "timestamptz", "deleted_at": "timestamptz",
    "needs_match": "boolean", "contact_id": "bigint", "type": "text", "value": "text",
}  # fmt: skip


class _Staged(NamedTuple):
    """How rows of one ``INSERT`` head reach PostgreSQL through a staging table."""

    #: Create the session's temporary staging table if it is not there.
    create: str
    copy: str
    #: The staged columns' types, for psycopg's binary ``COPY``.
    types: tuple[str, ...]
    #: The ``INSERT … SELECT`` of the rows it takes out of the staging table (``tail``
    #: appended): the table is empty again after each statement.
    insert: str


@functools.lru_cache(maxsize=16)
def _staged(head: str, tail: str) -> _Staged:
    """Return the PostgreSQL form of ``head`` (an ``INSERT … VALUES``) + ``tail``: the rows
    are copied (binary ``COPY``) into a temporary table of the session, then moved from it
    by the insert. Not marks (psycopg parses and quotes a statement of 22,000 marks in
    Python: most of a sync's CPU) nor one JSON parameter (PostgreSQL parsing the JSON text
    of each page). The staging table lives as long as the connection and is emptied by
    each insert and at each commit; it is created when missing, since a transaction rolled
    back takes away the one it created. Not ``TRUNCATE`` before each use: on a table of an
    earlier transaction that makes a new file each time, a third of the cost of a copy."""
    columns = _columns(head)
    target = head[head.index("INTO ") + 5 : head.index(" (")]
    staging = f"{target}_staging"
    types = tuple("text" if _TYPES[name] == "jsonb" else _TYPES[name] for name in columns)
    fields = ", ".join(f"{name} {kind}" for name, kind in zip(columns, types, strict=True))
    values = ", ".join(f"{name}::jsonb" if _TYPES[name] == "jsonb" else name for name in columns)
    into = head[: head.index(")") + 1]
    return _Staged(
        create=f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ({fields}) ON COMMIT DELETE ROWS",
        copy=f"COPY {staging} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)",
        types=types,
        insert=f"WITH staged AS (DELETE FROM {staging} RETURNING *) "  # noqa: S608
        f"{into} SELECT {values} FROM staged{tail}",
    )


def _staged_write(cursor: Any, staged: _Staged, rows: Sequence[Sequence[object]]) -> None:
    """Copy ``rows`` into the staging table of ``staged`` (empty: see ``_staged``)."""
    cursor.execute(staged.create)
    with cursor.cursor.copy(staged.copy) as copy:
        copy.set_types(staged.types)
        for row in rows:
            copy.write_row(row)


@functools.lru_cache(maxsize=16)
def _columns(head: str) -> tuple[str, ...]:
    return tuple(head[head.index("(") + 1 : head.index(")")].split(", "))


@functools.lru_cache(maxsize=64)
def _statement(vendor: str, head: str, tail: str, width: int, count: int) -> str:
    """Return ``head`` + ``count`` rows of ``width`` marks + ``tail`` (built once)."""
    row = f"({_marks(width)})"
    return head + ", ".join([row] * count) + tail


@functools.lru_cache(maxsize=32)
def _existing_statement(vendor: str, count: int) -> str:
    """Return the statement of ``existing`` for ``count`` remote ids (built once)."""
    return _EXISTING.format(mark=_marks(1), marks=_marks(count))


def _insert_many(
    cursor: Any, head: str, tail: str, rows: Sequence[Sequence[object]]
) -> list[tuple]:
    """Write ``rows`` with one multi-row ``INSERT`` per ``_ROWS_PER_STATEMENT`` rows; return
    what a ``RETURNING`` ``tail`` returned.

    One statement for many rows rather than ``executemany`` (a statement a row): SQLite
    runs the full-text trigger of each row of an ``executemany`` in its own sub-statement,
    and FTS5 writes its pending terms out at each one; in one statement it writes them
    once (about four times less work a contact, see ``manage.py bench``). PostgreSQL
    takes all the rows in one ``COPY`` and one statement (``_staged``).
    """
    if db.vendor == "postgresql":
        staged = _staged(head, tail)
        # All the rows at once (no statement grows with them), in one transaction: the
        # staging table is emptied at each commit.
        with transaction.atomic(savepoint=False):
            _staged_write(cursor, staged, rows)
            cursor.execute(staged.insert)
            return cursor.fetchall() if tail.endswith(_RETURNING) else []
    returned: list[tuple] = []
    for start, size in statement_pieces(len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + size]
        sql = _statement(db.vendor, head, tail, len(chunk[0]), len(chunk))
        cursor.execute(sql, list(chain.from_iterable(chunk)))
        if tail.endswith(_RETURNING):
            returned += cursor.fetchall()
    return returned


def _insert_new(
    cursor: Any, head: str, tail: str, conflict: str, rows: Sequence[Sequence[object]]
) -> list[tuple]:
    """Write ``rows``, which no other row should conflict with, as ``_insert_many`` does
    with ``conflict`` + ``tail`` (``conflict``: an ``ON CONFLICT`` clause); return what a
    ``RETURNING`` ``tail`` returned.

    PostgreSQL first tries them without the clause, in a savepoint: an ``ON CONFLICT``
    insert is a speculative one (the unique index probed before the row goes in, the row
    confirmed after, a WAL record more), a quarter of the server's CPU a key row and a
    tenth a contact row (100,000 rows, min of 2-3). Only a writer racing this one (a
    zombie worker of a reaped run) makes a conflict: the savepoint is then rolled back
    and the rows written again with the clause, as before.
    """
    if db.vendor != "postgresql":
        return _insert_many(cursor, head, conflict + tail, rows)
    try:
        with transaction.atomic():
            return _insert_many(cursor, head, tail, rows)
    except IntegrityError:
        return _insert_many(cursor, head, conflict + tail, rows)


def prepared(connection_id: int, row: Row, ops: Any, *, utc: bool | None = None) -> Prepared:
    """Return ``row`` ready to write (its values no longer needed: not kept). ``utc`` is
    ``sqlite_utc(ops)``, when the caller prepares many rows (looked up here otherwise)."""
    params = statement_values(connection_id, row, None, ops, utc=utc)
    return Prepared(row.remote_id, row.email_keys, row.phone_keys, params)


def statement_values(
    connection_id: int, row: Row, synced: object, ops: Any, *, utc: bool | None = None
) -> list[object]:
    """Return the statement values of ``row`` (``_INSERT_COLUMNS`` order); ``utc`` as for
    ``prepared``."""
    values = row.values
    # JSON goes as text on both: PostgreSQL's statement casts it (``_staged``).
    emails, phones, email_keys, phone_keys, raw = _json_texts(values)
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
        _datetime(ops, values["remote_updated_at"], utc=utc),
        raw,
        values["search_names"],
        values["search_other"],
        values["search_phones"],
        row.content_hash,
        synced,
        None,
        True,
    ]


def _json_texts(values: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """Return the JSON columns' texts: ``json_dumps`` of each, with orjson called directly
    (a sync writes five a contact) and ``json_dumps`` only if orjson refuses one."""
    try:
        return (
            orjson.dumps(values["emails"], default=str, option=JSON_OPTIONS).decode(),
            orjson.dumps(values["phones"], default=str, option=JSON_OPTIONS).decode(),
            orjson.dumps(values["email_keys"], default=str, option=JSON_OPTIONS).decode(),
            orjson.dumps(values["phone_keys"], default=str, option=JSON_OPTIONS).decode(),
            orjson.dumps(values["raw"], default=str, option=JSON_OPTIONS).decode(),
        )
    except orjson.JSONEncodeError:
        return (
            json_dumps(values["emails"]),
            json_dumps(values["phones"]),
            json_dumps(values["email_keys"]),
            json_dumps(values["phone_keys"]),
            json_dumps(values["raw"]),
        )


def _datetime(ops: Any, value: datetime | None, *, utc: bool | None = None) -> object:
    """Return ``value`` as the database takes it (Django's own adaptation, without its
    settings lookups on SQLite in UTC: a tenth of a sync's time in the prefetch thread).
    ``utc`` is ``sqlite_utc(ops)`` when the caller knows it."""
    if value is None:
        return None
    if utc is None:
        utc = sqlite_utc(ops)
    if utc and value.utcoffset() is not None:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return ops.adapt_datetimefield_value(value)


def sqlite_utc(ops: Any) -> bool:
    """Return whether ``ops`` writes aware datetimes as SQLite's UTC text (``_datetime``)."""
    return (
        ops.connection.vendor == "sqlite"
        and settings.USE_TZ
        and ops.connection.timezone_name == "UTC"
    )


def upsert(
    connection_id: int, rows: Sequence[Prepared], now: datetime, new: set[str], *,
    absent: bool = False,
) -> dict:  # fmt: skip
    """Write ``rows`` in multi-row statements; return the ids of the ``new`` ones.

    New rows take an ``INSERT … DO NOTHING`` (half the cost of an upsert in SQLite); one
    that appeared meanwhile (a zombie worker of a reaped run) returns no id and is then
    upserted. With ``absent`` (the caller knows none is in the index) they take a plain
    ``INSERT``, and one there after all fails it with ``IntegrityError``. Plain SQL
    rather than ``bulk_create``: building 20 model fields per row through the ORM cost
    more than the database write itself (see ``manage.py bench``).
    """
    synced = db.ops.adapt_datetimefield_value(now)
    inserts: list[list[object]] = []
    updates: list[list[object]] = []
    for row in rows:
        row.params[_SYNCED] = synced
        (inserts if row.remote_id in new else updates).append(row.params)
    ids: dict[str, int] = {}
    with db.cursor() as cursor:
        if updates:
            _insert_many(cursor, _INSERT, _ON_CONFLICT, updates)
        if inserts and absent:
            ids = dict(_insert_many(cursor, _INSERT, _RETURNING, inserts))
        elif inserts:
            ids = dict(_insert_new(cursor, _INSERT, _RETURNING, _SKIP_CONFLICT, inserts))
            if len(ids) < len(inserts):  # inserted meanwhile by another writer: update them
                late = [params for params in inserts if params[1] not in ids]
                ids.update(_insert_many(cursor, _INSERT, _ON_CONFLICT + _RETURNING, late))
    return ids


def vocabulary_follow(written: Sequence[Prepared], existing: dict[str, tuple]) -> None:
    """Move the spelling index with the name words ``written`` (live now) brings and those
    of the rows ``existing`` had before (as ``existing`` returned them) takes away.

    Call inside the transaction that wrote the rows.
    """
    added: list[str] = []
    removed: list[str] = []
    for row in written:
        names = row.search_names
        known = existing.get(row.remote_id)
        if known is not None and known[2] is None:  # it was live, with these names
            if known[5] == names:
                continue
            removed.append(known[5] or "")
        added.append(names)
    spelling.vocabulary_change(spelling.words_moved(added, removed))


def live_ids(*, connection_id: int) -> Iterator[int]:
    """Yield the ids of the connection's contacts not marked deleted, in id order."""
    query = Contact.objects.filter(connection_id=connection_id, deleted_at__isnull=True)
    yield from query.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=5000)


def contacts_mark_deleted(*, pks: Sequence[int], now: datetime) -> int:
    """Mark contacts deleted (never drop them); return how many rows changed. Their name
    words leave the spelling index (with the last live contact carrying them)."""
    changed = 0
    gone: Counter[str] = Counter()
    for start in range(0, len(pks), _CHUNK):
        chunk = list(pks[start : start + _CHUNK])
        live = Contact.objects.filter(pk__in=chunk, deleted_at__isnull=True)
        gone.update(spelling.words_moved((), live.values_list("search_names", flat=True)))
        changed += live.update(deleted_at=now, synced_at=now, needs_match=True)
    spelling.vocabulary_change(gone)
    return changed
