"""``actions_insert``: a bulk run's actions written as ``bulk_create`` would write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from crmhub.actions.inserts import actions_insert
from crmhub.actions.models import Action, Batch
from crmhub.core import queues
from tests.actions.conftest import make_contacts

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _columns(action: Action) -> dict[str, object]:
    return {
        field.attname: getattr(action, field.attname)
        for field in Action._meta.concrete_fields
        if field.attname not in ("id", "idempotency_key", "batch_id")
    }


def test_the_rows_written_are_those_bulk_create_writes(connection):
    user = User.objects.create_user("bulk-writer")
    contacts = make_contacts(connection, 5)
    batches = [
        Batch.objects.create(operation="touch", connection=connection, size=5) for _ in range(2)
    ]
    shared = {
        "operation": "touch", "safe": True, "queue": queues.ACTIONS, "connection": connection,
        "requested_by": user, "not_before": NOW, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip
    params = [{"note": "bulk", "contact_remote_id": c.remote_id, "n": [1, "é"]} for c in contacts]
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
    by_orm, by_insert = (
        list(Action.objects.filter(batch=batch).order_by("contact_id")) for batch in batches
    )
    assert [_columns(a) for a in by_insert] == [_columns(a) for a in by_orm]
    assert by_insert[0].state == Action.State.QUEUED and by_insert[0].result == {}
    assert by_insert[0].not_before == NOW  # microseconds kept
    keys = [a.idempotency_key for a in by_orm + by_insert]
    assert len(set(keys)) == 10 and all(len(key) == 32 for key in keys)  # one new key per row


def test_no_rows_write_nothing(connection):
    assert actions_insert(shared={"operation": "touch", "connection": connection}, rows=[]) == 0
    assert not Action.objects.exists()
