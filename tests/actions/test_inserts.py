"""``actions_insert``: a bulk run's actions written as ``bulk_create`` would write them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import DataError
from django.db import connection as db

from crmhub.actions import inserts
from crmhub.actions.inserts import actions_insert
from crmhub.actions.models import Action, Batch
from crmhub.core import queues
from tests.actions.conftest import make_contacts

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
#: Parameters whose text needs quoting or escaping every way a statement could get wrong.
AWKWARD = [
    {"note": "bulk", "n": [1, "é"]},
    {"note": 'say "hi", {then} \\ leave', "when": NOW, "amount": Decimal("12.30")},
    {"note": "NULL", "empty": {}, "none": None, "list": [], "nested": {"a": [{"b": "}{,"}]}},
    {"note": "tab\tnewline\n'quote'", "emoji": "🙂", "big": 2**53 + 1, "float": 0.1},
    {},
]

#: A JSON column that is SQL NULL on one row only.
ANSWERS = [{"a": 1}, None, "text", [1, None], {"b": '"'}]


def _columns(action: Action) -> dict[str, object]:
    return {
        field.attname: getattr(action, field.attname)
        for field in Action._meta.concrete_fields
        if field.attname not in ("id", "idempotency_key", "batch_id")
    }


def _shared(connection, user) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "operation": "touch", "safe": True, "queue": queues.ACTIONS, "connection": connection,
        "requested_by": user, "not_before": NOW, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip


def _batches(connection, count: int) -> list[Batch]:  # type: ignore[no-untyped-def]
    return [
        Batch.objects.create(operation="touch", connection=connection, size=5) for _ in range(count)
    ]


def _written(batch: Batch) -> list[Action]:
    """Return the batch's actions in the order they were written (their ids)."""
    return list(Action.objects.filter(batch=batch).order_by("id"))


def test_the_rows_written_are_those_bulk_create_writes(connection):
    user = User.objects.create_user("bulk-writer")
    contacts = make_contacts(connection, 5)[::-1]  # ids follow the rows, not the contacts
    batches = _batches(connection, 2)
    shared = _shared(connection, user)
    params = [
        {**p, "contact_remote_id": c.remote_id} for c, p in zip(contacts, AWKWARD, strict=True)
    ]
    Action.objects.bulk_create(
        Action(**shared, batch=batches[0], contact=contact, params=values)
        for contact, values in zip(contacts, params, strict=True)
    )

    written = actions_insert(
        shared={**shared, "batch": batches[1]},
        rows=[
            {"contact_id": c.pk, "params": values}
            for c, values in zip(contacts, params, strict=True)
        ],
    )

    assert written == 5
    by_orm, by_insert = (_written(batch) for batch in batches)
    assert [_columns(a) for a in by_insert] == [_columns(a) for a in by_orm]
    assert [a.contact_id for a in by_insert] == [c.pk for c in contacts]
    assert by_insert[0].state == Action.State.QUEUED and by_insert[0].result == {}
    assert by_insert[0].not_before == NOW  # microseconds kept
    assert by_insert[1].params["when"] == "2026-03-04T05:06:07.891Z"  # the field's encoder
    keys = [a.idempotency_key for a in by_orm + by_insert]
    assert len(set(keys)) == 10 and all(len(key) == 32 for key in keys)  # one new key per row


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL's one statement")
def test_one_statement_writes_the_rows_a_statement_per_row_writes(connection, monkeypatch):
    user = User.objects.create_user("bulk-writer")
    contacts = make_contacts(connection, 4)
    one, each = _batches(connection, 2)
    # A row without a contact; a JSON column with an SQL null in it.
    rows = [
        {"contact_id": c.pk if c else None, "params": p, "answer": answer}
        for c, p, answer in zip([*contacts, None], AWKWARD, ANSWERS, strict=True)
    ]
    statements: list[str] = []

    def executed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    with db.execute_wrapper(executed):
        assert actions_insert(shared={**_shared(connection, user), "batch": one}, rows=rows) == 5
    monkeypatch.setattr(inserts, "_insert_unnest", inserts._insert_each)
    actions_insert(shared={**_shared(connection, user), "batch": each}, rows=rows)

    assert len(statements) == 1 and "ROWS FROM" in statements[0]
    by_one, by_each = _written(one), _written(each)
    assert [_columns(a) for a in by_one] == [_columns(a) for a in by_each]
    assert [a.contact_id for a in by_one] == [c.pk for c in contacts] + [None]
    assert [a.answer for a in by_one] == ANSWERS
    assert Action.objects.filter(batch=one, answer__isnull=True).count() == 1  # SQL null
    ids = [a.pk for a in by_one]
    assert ids == list(range(ids[0], ids[0] + 5))  # drawn in the rows' order
    assert len({a.idempotency_key for a in by_one + by_each}) == 10


@pytest.mark.skipif(db.vendor != "postgresql", reason="SQLite does not check lengths")
def test_a_value_too_long_for_its_column_is_refused_not_cut(connection):
    contacts = make_contacts(connection, 2)
    with pytest.raises(DataError):
        actions_insert(
            shared={**_shared(connection, None), "operation": "x" * 61},
            rows=[{"contact_id": c.pk, "params": {}} for c in contacts],
        )


def test_no_rows_write_nothing(connection):
    assert actions_insert(shared={"operation": "touch", "connection": connection}, rows=[]) == 0
    assert not Action.objects.exists()
