"""Write the actions of a bulk run in one statement.

A bulk run's actions differ in a few fields (the contact, its parameters, the idempotency
key) and share every other. ``bulk_create`` builds a model instance per action and
prepares each of its ~30 values for the database, row after row: for 2,000 actions that
was most of the confirmation's time. ``actions_insert`` prepares the shared values once,
with the fields' own methods (the values written are those ``bulk_create`` writes), and
the rows' own values per row.

On PostgreSQL the rows go as one ``INSERT … SELECT``: the shared values once each, the
rows' own as one array per column (a JSON column as one JSON array), read side by side
with ``ROWS FROM``. Run once per row (``executemany``, even pipelined), each row was a
statement of its own with its ~30 values quoted into it, and the server parsed and ran
2,000 of them: 2,000 actions took at best 389 ms (78 ms of it the web process's CPU), as
one statement 62 ms (16 ms). SQLite runs one prepared statement per row in C, which costs
it little: it keeps ``executemany``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

from crmhub.actions.models import Action
from crmhub.core import rows as plain

if TYPE_CHECKING:
    from psycopg.types.json import Jsonb

#: Defaults that are callables but give every row the same value: prepared once.
_SAME_EACH_TIME = (dict, list)


def _fresh_per_row(field: Field, shared: set[str]) -> bool:
    """Whether ``field`` gets a new value per row from its default (a key, a stamp)."""
    if field.attname in shared or not field.has_default():
        return False
    return callable(field.default) and field.default not in _SAME_EACH_TIME


def actions_insert(*, shared: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert one action per row: the fields of ``shared`` (as ``Action(**shared)`` takes
    them) and the row's own (by attribute name: ``contact_id``, ``params``); every other
    field its default, a callable one called for each row. Return how many were written
    (the new ids are not read back; they follow the order of ``rows``)."""
    if not rows:
        return 0
    connection = plain.database(Action)
    template = Action(**shared)
    given = {field.attname for field in Action._meta.concrete_fields if field.name in shared}
    given |= {key for key in shared if key.endswith("_id")}
    fields = [field for field in Action._meta.concrete_fields if not field.primary_key]
    own = set(rows[0])
    per_row = [f for f in fields if f.attname in own or _fresh_per_row(f, given)]
    fixed = {
        field: field.get_db_prep_save(field.pre_save(template, True), connection)
        for field in fields
        if field not in per_row
    }
    # One list of prepared values per column of ``per_row``.
    columns: list[list[Any]] = [[] for _ in per_row]
    for row in rows:
        for field, column in zip(per_row, columns, strict=True):
            value = row[field.attname] if field.attname in row else field.get_default()
            column.append(field.get_db_prep_save(value, connection))
    insert = _insert_unnest if connection.vendor == "postgresql" else _insert_each
    insert(connection, fields, fixed, dict(zip(per_row, columns, strict=True)))
    return len(rows)


def _names(fields: Sequence[Field]) -> str:
    names = plain.columns(Action)
    return ", ".join(names[field.name] for field in fields)


def _insert_each(
    connection: BaseDatabaseWrapper,
    fields: Sequence[Field],
    fixed: Mapping[Field, Any],
    columns: Mapping[Field, list[Any]],
) -> None:
    """Run one ``INSERT … VALUES`` per row (``executemany``)."""
    template = [fixed.get(field) for field in fields]
    slots = [(fields.index(field), column) for field, column in columns.items()]
    values = []
    for i in range(len(slots[0][1])):
        row = list(template)
        for slot, column in slots:
            row[slot] = column[i]
        values.append(row)
    marks = ", ".join(["%s"] * len(fields))
    # Names from the model, values as parameters.
    sql = f"INSERT INTO {plain.table(Action)} ({_names(fields)}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _insert_unnest(
    connection: BaseDatabaseWrapper,
    fields: Sequence[Field],
    fixed: Mapping[Field, Any],
    columns: Mapping[Field, list[Any]],
) -> None:
    """Run one ``INSERT … SELECT`` of the shared values beside one array per row column.

    Each value is cast to its column's type without its length (``varchar``, not
    ``varchar(60)``): an explicit cast would cut a value too long, the column's own
    assignment refuses it, as a row inserted alone would be. ``ROWS FROM`` gives the rows
    in the arrays' order, and the ids are drawn in that order (``bulk_create``'s
    ``UNNEST`` relies on the same for the ids it reads back).
    """

    def cast(field: Field) -> str:
        return str(field.db_type(connection)).split("(")[0]

    own = {field: f"c{i}" for i, field in enumerate(columns)}
    values = [own[field] if field in own else f"%s::{cast(field)}" for field in fields]
    sources: list[str] = []
    arrays: list[Any] = []
    for field, column in columns.items():
        document = _json_array(column)
        if document is None:
            sources.append(f"UNNEST(%s::{cast(field)}[])")
            arrays.append(column)
        else:
            sources.append("JSONB_ARRAY_ELEMENTS(%s::jsonb)")
            arrays.append(document)
    sql = (
        f"INSERT INTO {plain.table(Action)} ({_names(fields)}) "  # noqa: S608
        f"SELECT {', '.join(values)} "
        f"FROM ROWS FROM ({', '.join(sources)}) AS u({', '.join(own.values())})"
    )
    params = [fixed[field] for field in fields if field in fixed]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *arrays])


def _json_array(column: Sequence[Any]) -> Jsonb | None:
    """Return a column of JSON values (as a JSON field prepares them, one encoder) as one
    JSON array; None for any other column, or one with an SQL null.

    Quoted into the statement, an array of ``jsonb`` has each element escaped on its own
    (2,000 parameters: 20 ms); one JSON text is written at once (1 ms), and its elements
    are the values each would have been.
    """
    from psycopg.types.json import Jsonb  # PostgreSQL only

    if not column or not all(type(value) is Jsonb for value in column):
        return None
    dumps = {value.dumps for value in column}
    if len(dumps) != 1:
        return None
    return Jsonb([value.obj for value in column], dumps=dumps.pop())
