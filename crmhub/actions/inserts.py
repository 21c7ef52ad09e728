"""Write the actions of a bulk run in one statement run once per row.

A bulk run's actions differ in a few fields (the contact, its parameters, the idempotency
key) and share every other. ``bulk_create`` builds a model instance per action and
prepares each of its ~30 values for the database, row after row: for 2,000 actions that
was most of the confirmation's time. ``actions_insert`` prepares the shared values once,
with the fields' own methods (the values written are those ``bulk_create`` writes), and
the rows' own values per row, and hands the rows to the database driver at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Field

from crmhub.actions.models import Action
from crmhub.core import rows as plain

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
    (the new ids are not read back)."""
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
        field.attname: field.get_db_prep_save(field.pre_save(template, True), connection)
        for field in fields
        if field not in per_row
    }
    values = []
    for row in rows:
        prepared = dict(fixed)
        for field in per_row:
            value = row[field.attname] if field.attname in row else field.get_default()
            prepared[field.attname] = field.get_db_prep_save(value, connection)
        values.append([prepared[field.attname] for field in fields])
    # Names from the model, values as parameters.
    table = plain.table(Action)
    columns = ", ".join(plain.columns(Action)[field.name] for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)  # noqa: S608
    return len(values)
