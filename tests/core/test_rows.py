"""The plain-SQL statements write and read exactly what the ORM would (on either database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import DatabaseError, transaction
from django.forms.models import model_to_dict

from crmhub.actions.models import Action, Attempt, RateBucket
from crmhub.connections.models import Connection
from crmhub.core import rows
from crmhub.sandbox.models import Record

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.fixture
def connection() -> Connection:
    connection = Connection(
        name="Rows", kind="apptivo", base_url="https://x.test/", settings={"a": [1, "b"]}
    )
    connection.set_secrets({"api_key": "k" * 20, "access_key": "a" * 20})
    connection.save()
    return connection


@pytest.fixture
def action(connection: Connection) -> Action:
    return Action.objects.create(
        operation="update_customer",
        connection=connection,
        params={"name": "Zoë", "tags": ["x", 2], "nested": {"ok": True}},
        received_at=WHEN,
        prompt=None,
    )


def fields(instance: object) -> dict[str, object]:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields  # type: ignore[attr-defined]
    }


def test_a_row_is_read_with_its_foreign_row_as_select_related_reads_it(action):
    read = rows.row_get(Action, pk=action.pk, related="connection")
    orm = Action.objects.select_related("connection").get(pk=action.pk)
    assert fields(read) == fields(orm)
    assert fields(read.connection) == fields(orm.connection)
    assert read.connection.spec().secrets == orm.connection.spec().secrets
    assert read._state.adding is False and read._state.db == "default"
    assert rows.row_get(Action, pk=action.pk + 1000, related="connection") is None


def test_a_row_found_by_its_unique_key_is_the_one_the_orm_finds(action, connection):
    found = rows.row_find(Action, connection=connection, operation="update_customer")
    assert found is not None
    assert fields(found) == fields(Action.objects.get(pk=action.pk))
    assert found._state.adding is False and found._state.db == "default"
    assert rows.row_find(Connection, name="Rows", kind="apptivo").pk == connection.pk
    assert rows.row_find(Connection, name="Rows", kind="collect") is None


@pytest.mark.django_db(databases=["default", "sandbox"])
def test_a_row_is_found_on_its_models_database():
    record = Record.objects.create(
        kind="allclients", collection="contact", remote_id=7, data={"a": ["é", 1]}, updated_at=WHEN
    )
    found = rows.row_find(
        Record, kind="allclients", collection="contact", deleted=False, remote_id=7
    )
    assert found is not None and found._state.db == "sandbox"
    assert fields(found) == fields(Record.objects.get(pk=record.pk))
    assert (
        rows.row_find(Record, kind="allclients", collection="contact", deleted=True, remote_id=7)
        is None
    )


def test_an_update_writes_what_the_orm_writes(action, connection):
    values = {
        "result": {"message": "ok", "data": {"n": 1.5, "when": WHEN}},
        "error": 'it\'s "quoted" %s',
        "finished_at": WHEN,
        "lease_until": None,
        "deliveries": rows.Sql(f"{rows.columns(Action)['deliveries']} + %s", (2,)),
    }
    c = rows.columns(Action)
    changed = rows.rows_update(
        Action,
        values=values,
        where=f"{c['id']} = %s AND {c['received_at']} = %s",
        params=[action.pk, rows.value(Action, "received_at", WHEN)],
    )
    assert changed == 1
    mine = Action.objects.get(pk=action.pk)
    twin = Action.objects.create(
        operation="update_customer", connection=connection, params=action.params
    )
    Action.objects.filter(pk=twin.pk).update(
        result=values["result"], error=values["error"], finished_at=WHEN, deliveries=2
    )
    theirs = Action.objects.get(pk=twin.pk)
    assert mine.result == theirs.result
    assert mine.result["data"]["n"] == 1.5
    assert (mine.error, mine.finished_at, mine.deliveries) == (
        theirs.error,
        theirs.finished_at,
        theirs.deliveries,
    )
    no_match = rows.rows_update(
        Action, values={"error": "x"}, where=f"{c['id']} = %s", params=[twin.pk + 1000]
    )
    assert no_match == 0


def test_an_insert_writes_every_field_and_sets_the_key(action):
    attempt = Attempt(action=action, number=3, started_at=WHEN, task_id="t-1")
    rows.row_insert(attempt)
    assert attempt.pk is not None and attempt._state.adding is False
    stored = Attempt.objects.get(pk=attempt.pk)
    assert model_to_dict(stored) == model_to_dict(attempt)
    assert (stored.outcome, stored.calls, stored.late) == (Attempt.Outcome.RUNNING, [], False)


def test_a_date_field_is_written_and_a_failed_statement_rolls_its_transaction_back(connection):
    RateBucket.objects.create(connection_id=connection.pk)
    where = f"{rows.columns(RateBucket)['connection']} = %s"
    day = date(2026, 1, 2)
    rows.rows_update(RateBucket, values={"day": day}, where=where, params=[connection.pk])
    assert RateBucket.objects.get(pk=connection.pk).day == day

    def both() -> None:
        with transaction.atomic():
            rows.rows_update(
                RateBucket, values={"day_count": 5}, where=where, params=[connection.pk]
            )
            rows.rows_update(RateBucket, values={"day_count": 1}, where="nothing = %s", params=[1])

    with pytest.raises(DatabaseError):
        both()
    assert RateBucket.objects.get(pk=connection.pk).day_count == 0
