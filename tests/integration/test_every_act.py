"""Every act of the product, through ``action_enqueue`` / ``batch_enqueue`` and the executor,
against the real connectors and the sandbox over real HTTP (the executor runs in this
process here; the worker subprocesses are exercised in the other integration tests).
"""

from __future__ import annotations

from typing import Any

import pytest

from crmhub.actions import executor
from crmhub.actions.models import Action
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.connections.models import Connection
from crmhub.connectors.registry import get_connector
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Call
from tests.integration.harness import sandbox_connection

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

#: (kind, operation, params) of every act that runs on a contact.
CONTACT_ACTS = [
    ("allclients", "run_action_set", {"action_set_id": "103"}),
    ("allclients", "add_contact_link", {"url": "https://example.com/offer", "label": "Offer"}),
    ("apptivo", "update_customer", {"description": "Called back on Monday"}),
    ("apptivo", "delete_customer", {}),
    ("collect", "run_plan", {"plan": "REV"}),
    (
        "crmcom",
        "communication_create",
        {"direction": "outgoing", "media": "PHONE", "subject": "Hi", "content": "Call back."},
    ),
]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        "crmhub.actions.dispatch.publish", lambda ids, countdown=None, queue=None: None
    )


@pytest.fixture
def connect(sandbox_spec):  # type: ignore[no-untyped-def]
    from crmhub.connectors.apptivo.connector import clear_config_cache
    from crmhub.connectors.crmcom import client

    client.forget_all_tokens()
    clear_config_cache()
    return lambda kind: sandbox_connection(sandbox_spec(kind, people=8))


def run(action: Action) -> Action:
    executor.action_execute(action_id=action.pk)
    action.refresh_from_db()
    assert action.state == Action.State.SUCCEEDED, (action.operation, action.error)
    assert action.attempt_set.get().calls, "the redacted calls are kept"
    return action


def _contacts(connection: Connection, operation: str) -> list[Contact]:
    spec = get_connector(connection.spec()).operations[operation]
    contacts = Contact.objects.filter(connection=connection).order_by("pk")
    if spec.record_types:
        contacts = contacts.filter(record_type__in=spec.record_types)
    return list(contacts[:3])


@pytest.mark.parametrize(("kind", "operation", "params"), CONTACT_ACTS)
def test_every_contact_act_for_one_contact_and_for_a_batch(
    connect, kind: str, operation: str, params: dict[str, Any]
):
    connection = connect(kind)
    one, *others = _contacts(connection, operation)
    single = action_enqueue(
        operation=operation, connection=connection, contact=one, params=params, user=None
    )
    run(single)
    batch = batch_enqueue(
        operation=operation,
        connection=connection,
        params=params,
        user=None,
        contact_ids=[c.pk for c in others],
    )
    assert batch.size == 2
    for action in Action.objects.filter(batch=batch):
        run(action)
    applied = Call.objects.filter(kind=kind, applied=True).values_list("effect", flat=True)
    assert len(applied) == len(set(applied)) >= 3


def test_apptivo_create_customer(connect):
    connection = connect("apptivo")
    done = run(
        action_enqueue(
            operation="create_customer",
            connection=connection,
            params={"customer_name": "Renée O'Brien", "email": "renee@example.com"},
            user=None,
        )
    )
    assert done.result["remote_id"]


def test_crmcom_communication_and_queue_acts(connect):
    connection = connect("crmcom")
    contact = _contacts(connection, "communication_create")[0]

    def act(operation: str, **params: Any) -> Action:
        return run(
            action_enqueue(
                operation=operation,
                connection=connection,
                contact=contact if operation == "communication_create" else None,
                params=params,
                user=None,
            )
        )

    phone = {"direction": "outgoing", "media": "PHONE", "subject": "Draft", "content": "Hello."}
    draft = act("communication_create", life_cycle_state="DRAFT", **phone)
    number = draft.result["data"]["communication"]["number"]
    act("communication_update", communication=number, subject="Changed")
    act("communication_complete", communication=number)
    act("communication_set_as_viewed", communication=number, viewed_on="2026-02-03")
    connector = get_connector(connection.spec())
    entries = []
    for n in range(3):
        act("communication_create", **{**phone, "media": "SMS", "subject": f"Queued {n}"})
        latest = connector.run("queue_get_latest", {"media": "SMS", "number": 1})
        entries.append(latest.data["queue_entries"][0]["number"])
    act("queue_process", queue_entry=entries[0])
    act("queue_reject", queue_entry=entries[1], error_code="01", error_description="No number.")
    act("queue_remove", queue_entry=entries[2])
