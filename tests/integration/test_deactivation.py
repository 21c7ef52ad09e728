"""Switching a connection off stops its work: queued actions and bulk runs are cancelled with
the reason, and nothing more of it is dispatched or sent (a real worker, the admin page, the
sandbox over HTTP)."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django.utils import timezone

from crmhub.actions import dispatch
from crmhub.actions.models import Action, Batch
from crmhub.actions.services import batch_enqueue
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Call
from tests.conftest import wait_for
from tests.integration.harness import sandbox_connection, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
SIZE = 40
RATE = 2.0


def _admin_switch_off(client, connection: Connection) -> None:  # type: ignore[no-untyped-def]
    """Untick "active" on the connection's admin page and save, as an admin does."""
    data = {
        "name": connection.name,
        "base_url": connection.base_url,
        "country": connection.country,
        "rate_limit": str(connection.rate_limit),
        "sync_interval_minutes": str(connection.sync_interval_minutes),
        "full_sync_interval_hours": str(connection.full_sync_interval_hours),
        "allow_private_network": "on",
        **{f"setting_{name}": value for name, value in connection.settings.items()},
    }
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_switching_a_connection_off_cancels_its_queued_work(
    workers, sandbox_spec, client, superuser, operator
):
    connection = sandbox_connection(sandbox_spec("allclients", people=SIZE), rate_limit=RATE)
    workers(beat=True)
    batch = batch_enqueue(
        operation="run_action_set",
        connection=connection,
        params={"action_set_id": "103"},
        user=operator,
        contact_ids=list(
            Contact.objects.filter(connection=connection).values_list("pk", flat=True)
        ),
    )
    wait_for(
        lambda: Action.objects.filter(batch=batch, state=Action.State.SUCCEEDED).count() >= 3,
        timeout=60,
        message="the bulk did not start",
    )
    client.force_login(superuser)
    _admin_switch_off(client, connection)

    connection.refresh_from_db()
    assert connection.is_active is False
    actions = settle(Action.objects.filter(batch=batch).values_list("pk", flat=True))
    cancelled = [a for a in actions if a.state == Action.State.CANCELLED]
    succeeded = [a for a in actions if a.state == Action.State.SUCCEEDED]
    assert len(cancelled) + len(succeeded) == SIZE and len(cancelled) >= SIZE // 2
    reason = f"the connection {connection.name} was deactivated by root."
    assert {a.error for a in cancelled} == {f"Cancelled before it was sent: {reason}"}
    batch.refresh_from_db()
    assert batch.cancel_reason == reason
    assert batch.cancelled_at is not None and batch.cancelled_by == superuser
    # Only what was sent before reached the CRM, and nothing more arrives.
    sent = Call.objects.filter(kind="allclients", operation="RunActionSet", applied=True)
    assert sent.count() == len(succeeded)
    wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, state=Batch.State.FINISHED).exists(),
        timeout=20,
        message="the sweeper did not close the cancelled batch",
    )
    client.force_login(operator)
    page = client.get(reverse("console:batch-detail", args=[batch.pk])).content.decode()
    assert f"Cancelled: {reason}" in page

    # A queued row of the switched-off connection (as if left over) is not dispatched, and
    # a message that still arrives for one cancels it without sending.
    now = timezone.now()
    row = {"operation": "run_action_set", "connection": connection, "params": {}}
    left_over = Action.objects.create(**row, contact=cancelled[0].contact, not_before=now)
    delivered = Action.objects.create(**row, contact=cancelled[1].contact, not_before=now)
    dispatch.publish([delivered.pk])
    (gone,) = settle([delivered.pk])
    assert gone.state == Action.State.CANCELLED
    assert gone.error.endswith("is switched off.")
    time.sleep(3)  # three sweeps
    left_over.refresh_from_db()
    assert (left_over.state, left_over.published_at) == (Action.State.QUEUED, None)
    assert sent.count() == len(succeeded)
