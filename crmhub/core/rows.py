"""Plain SQL for the few statements a worker runs for every action it carries out.

The ORM spends far more CPU building a statement than the database spends running it
(measured on SQLite: a conditional update of an action took 0.40 ms to build and run
through a queryset, 0.04 ms as SQL; loading an action with its connection 0.68 ms), and
every action runs about ten of them; at a high rate limit that CPU is what the fan-out
waits for. These helpers write such a statement directly, converting each value as its
model field does (``get_db_prep_save`` on the way in, the field's database converters on
the way out: JSON, dates and times, booleans, foreign keys), so the rows written and the
instances read are the ones the ORM would give, on SQLite and PostgreSQL alike. They run
on the connection of the model's database and inside whatever transaction is open, like a
queryset's ``update``; no signal is sent (``update`` sends none either, and the models
written here have no receivers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class Sql:
    """A value given as SQL (``"deliveries + 1"``), with its parameters."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Table:
    """What the statements need to know of one model, worked out once per process."""

    alias: str
    name: str  # quoted
    fields: tuple[models.Field[Any, Any], ...]  # the concrete ones, in order
    by_name: Mapping[str, models.Field[Any, Any]]
    columns: Mapping[str, str]  # quoted, by field name
    #: Per field: the column expression and its converters (database value → Python).
    readers: tuple[tuple[Any, tuple[Converter, ...]], ...]


@cache
def _table(model: type[models.Model]) -> _Table:
    alias = router.db_for_write(model)
    db = connections[alias]
    fields = tuple(model._meta.concrete_fields)
    readers = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        readers.append((col, (*db.ops.get_db_converters(col), *col.get_db_converters(db))))
    return _Table(
        alias=alias,
        name=db.ops.quote_name(model._meta.db_table),
        fields=fields,
        by_name=MappingProxyType({field.name: field for field in fields}),
        columns=MappingProxyType(
            {field.name: db.ops.quote_name(str(field.column)) for field in fields}
        ),
        readers=tuple(readers),
    )


def database(model: type[models.Model]) -> BaseDatabaseWrapper:
    """Return the database connection that ``model``'s rows are written on."""
    return connections[_table(model).alias]


def table(model: type[models.Model]) -> str:
    """Return ``model``'s table name, quoted for its database."""
    return _table(model).name


def columns(model: type[models.Model]) -> Mapping[str, str]:
    """Return the quoted column of each of ``model``'s concrete fields, by field name."""
    return _table(model).columns


def value(model: type[models.Model], name: str, python: Any) -> Any:
    """Return ``python`` as the database parameter of ``model``'s field ``name``."""
    return _prepared(_table(model), database(model), name, python)


def _prepared(table: _Table, db: BaseDatabaseWrapper, name: str, python: Any) -> Any:
    if isinstance(python, models.Model):
        python = python.pk
    return table.by_name[name].get_db_prep_save(python, db)


def rows_update(
    model: type[models.Model],
    *,
    values: Mapping[str, Any],
    where: str,
    params: Sequence[Any] = (),
) -> int:
    """Set ``values`` (field name: Python value, or ``Sql``) on the rows of ``model`` that
    match ``where`` (SQL with ``%s`` placeholders for ``params``); return how many."""
    described = _table(model)
    db = connections[described.alias]
    sets: list[str] = []
    args: list[Any] = []
    for name, given in values.items():
        if isinstance(given, Sql):
            sets.append(f"{described.columns[name]} = {given.sql}")
            args.extend(given.params)
        else:
            sets.append(f"{described.columns[name]} = %s")
            args.append(_prepared(described, db, name, given))
    sql = f"UPDATE {described.name} SET {', '.join(sets)} WHERE {where}"  # noqa: S608
    with transaction.mark_for_rollback_on_error(using=db.alias), db.cursor() as cursor:
        cursor.execute(sql, [*args, *params])
        return int(cursor.rowcount)


def row_insert(instance: models.Model) -> None:
    """Insert ``instance`` as a new row (every concrete field but an automatic primary
    key, as the ORM would write it) and set its primary key."""
    described = _table(type(instance))
    db = connections[described.alias]
    automatic = type(instance)._meta.auto_field
    fields = [field for field in described.fields if field is not automatic]
    names = ", ".join(described.columns[field.name] for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    args = [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
    pk = described.columns[type(instance)._meta.pk.name]
    sql = f"INSERT INTO {described.name} ({names}) VALUES ({marks}) RETURNING {pk}"  # noqa: S608
    with transaction.mark_for_rollback_on_error(using=db.alias), db.cursor() as cursor:
        cursor.execute(sql, args)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = db.alias


def _instance(model: type[M], described: _Table, db: BaseDatabaseWrapper, row: Sequence[Any]) -> M:
    values = []
    for raw, (col, converters) in zip(row, described.readers, strict=True):
        for convert in converters:
            raw = convert(raw, col, db)
        values.append(raw)
    return model.from_db(db.alias, [field.attname for field in described.fields], values)


def row_get(model: type[M], *, pk: Any, related: str) -> M | None:
    """Return ``model``'s row ``pk`` with the row its foreign key ``related`` points to (as
    ``select_related(related).get(pk=pk)`` would), or None if there is no such row."""
    described = _table(model)
    field = described.by_name[related]
    if not isinstance(field, models.ForeignKey):
        raise TypeError(f"{model.__name__}.{related} is not a foreign key.")
    target = _table(field.related_model)
    if target.alias != described.alias:
        raise ValueError(f"{model.__name__}.{related} points to another database.")
    db = connections[described.alias]
    mine = ", ".join(f"a.{column}" for column in described.columns.values())
    theirs = ", ".join(f"b.{column}" for column in target.columns.values())
    joined = target.columns[field.target_field.name]
    sql = (
        f"SELECT {mine}, {theirs} FROM {described.name} a "  # noqa: S608
        f"JOIN {target.name} b ON b.{joined} = a.{described.columns[related]} "
        f"WHERE a.{described.columns[model._meta.pk.name]} = %s"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(described.fields)
    instance = _instance(model, described, db, row[:split])
    field.set_cached_value(instance, _instance(field.related_model, target, db, row[split:]))
    return instance


@cache
def _find_sql(model: type[models.Model], names: tuple[str, ...]) -> str:
    described = _table(model)
    wanted = ", ".join(described.columns[field.name] for field in described.fields)
    where = " AND ".join(f"{described.columns[name]} = %s" for name in names)
    return f"SELECT {wanted} FROM {described.name} WHERE {where} LIMIT 1"  # noqa: S608


def row_find(model: type[M], **equal: Any) -> M | None:
    """Return the row of ``model`` whose fields equal ``equal``, or None if there is none.

    For a unique key (as ``filter(**equal).first()`` would find it; with no order asked for,
    which row of several matches is returned is the database's choice).
    """
    described = _table(model)
    db = connections[described.alias]
    names = tuple(equal)
    params = [_prepared(described, db, name, equal[name]) for name in names]
    with db.cursor() as cursor:
        cursor.execute(_find_sql(model, names), params)
        row = cursor.fetchone()
    return None if row is None else _instance(model, described, db, row)
