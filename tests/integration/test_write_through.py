"""Write-through: an Apptivo customer created, changed or deleted through crmhub shows in the
contact search and on the person's page at once, and the next sync confirms it (a real
worker, the sandbox Apptivo over HTTP, the console's pages)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from crmhub.actions.services import action_enqueue
from crmhub.bench.sandboxes import connection_from_spec
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from tests.conftest import wait_for
from tests.integration.harness import settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _synced(connection: Connection) -> SyncRun:
    run = sync_request(connection=connection, mode="full", requested_by="test")
    ended = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk).exclude(state__in=SyncRun.ACTIVE_STATES).first(),
        timeout=60,
        message=f"the sync of {connection.name} did not end",
    )
    # The run ends before its matching: wait until the people are placed too.
    wait_for(lambda: not Contact.objects.filter(needs_match=True).exists(), timeout=30)
    return ended


def _act(operation: str, connection: Connection, operator, contact=None, **params) -> Action:  # type: ignore[no-untyped-def]
    action = action_enqueue(
        operation=operation, connection=connection, contact=contact, params=params, user=operator
    )
    (done,) = settle([action.pk])
    assert done.state == Action.State.SUCCEEDED, done.error
    return done


def _search(client, query: str) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("console:contact-list"), {"q": query}).content.decode()


def test_apptivo_changes_show_at_once_and_the_next_sync_confirms_them(
    workers, sandbox_spec, client, operator
):
    allclients = connection_from_spec(sandbox_spec("allclients", people=12), name="Marketing")
    apptivo = connection_from_spec(sandbox_spec("apptivo", people=12), name="Sales")
    workers(beat=True)
    for connection in (allclients, apptivo):
        assert _synced(connection).state == SyncRun.State.SUCCEEDED
    client.force_login(operator)
    # Someone known in AllClients only (no person yet), by an email no Apptivo record has.
    lead = next(
        c
        for c in Contact.objects.filter(connection=allclients, person__isnull=True)
        if c.email_keys
        and not Contact.objects.filter(connection=apptivo, email_keys__icontains=c.email_keys[0])
    )

    created = _act(
        "create_customer", apptivo, operator, customer_name="Zelda Quist", email=lead.emails[0]
    )
    customer = Contact.objects.get(connection=apptivo, remote_id=created.result["remote_id"])
    assert (customer.full_name, customer.deleted_at) == ("Zelda Quist", None)
    assert created.contact_id == customer.pk
    lead.refresh_from_db()
    assert customer.person_id is not None and customer.person_id == lead.person_id
    person_url = reverse("console:person-detail", args=[customer.person_id])
    assert person_url in _search(client, "zelda")  # the person the new record joined
    assert "Zelda Quist" in client.get(person_url).content.decode()
    apptivo.refresh_from_db()
    live = Contact.objects.filter(connection=apptivo, deleted_at__isnull=True).count()
    assert apptivo.contacts_live == live

    _act("update_customer", apptivo, operator, contact=customer, customer_name="Zelda Moreau")
    customer.refresh_from_db()
    assert customer.full_name == "Zelda Moreau"
    assert person_url in _search(client, "moreau")
    assert "Zelda Moreau" in client.get(person_url).content.decode()

    confirmed = _synced(apptivo)  # the CRM's listing agrees: nothing new, nothing duplicated
    assert confirmed.state == SyncRun.State.SUCCEEDED
    assert confirmed.created == 0 and confirmed.deleted == 0
    assert Contact.objects.filter(connection=apptivo, remote_id=customer.remote_id).count() == 1
    customer.refresh_from_db()
    assert customer.full_name == "Zelda Moreau"

    _act("delete_customer", apptivo, operator, contact=customer)
    customer.refresh_from_db()
    assert customer.deleted_at is not None
    assert person_url not in _search(client, "zelda moreau")
    assert "Zelda Moreau" not in client.get(person_url).content.decode()
    page = client.get(reverse("console:contact-detail", args=[customer.pk])).content.decode()
    assert reverse("console:contact-act", args=[customer.pk, "delete_customer"]) not in page

    after = _synced(apptivo)  # the record is gone from the listing too: nothing more to do
    assert after.state == SyncRun.State.SUCCEEDED
    assert after.deleted == 0
    customer.refresh_from_db()
    assert customer.deleted_at is not None
