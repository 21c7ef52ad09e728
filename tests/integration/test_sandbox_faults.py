"""The real connectors against the real sandbox, with worker subprocesses killed mid-way.

RunActionSet and AddContactLink (AllClients) and communications/create (CRM.COM): whatever
point a worker dies at, the sandbox's ledger shows each change applied at most once, and
every action ends succeeded, failed or unknown — never stuck, never silently doubled.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from crmhub.actions.models import Action
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Account, Call
from tests.integration.harness import sandbox_connection, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def allclients(sandbox_spec) -> Connection:  # type: ignore[no-untyped-def]
    return sandbox_connection(sandbox_spec("allclients", people=12))


@pytest.fixture
def crmcom(sandbox_spec) -> Connection:  # type: ignore[no-untyped-def]
    from crmhub.connectors.crmcom import client

    client.forget_all_tokens()
    return sandbox_connection(sandbox_spec("crmcom", people=12))


def _contacts(connection: Connection, count: int) -> list[Contact]:
    return list(Contact.objects.filter(connection=connection).order_by("pk")[:count])


def _enqueue_each_kind(allclients: Connection, crmcom: Connection, tag: str) -> list[Action]:
    people = _contacts(allclients, 6)
    actions = [
        action_enqueue(
            operation="run_action_set",
            connection=allclients,
            contact=contact,
            params={"action_set_id": "103"},
            user=None,
        )
        for contact in people[:3]
    ]
    actions += [
        action_enqueue(
            operation="add_contact_link",
            connection=allclients,
            contact=contact,
            params={"url": f"https://example.com/{tag}/{n}", "label": f"Link {n}"},
            user=None,
        )
        for n, contact in enumerate(people[3:])
    ]
    actions += [
        action_enqueue(
            operation="communication_create",
            connection=crmcom,
            contact=contact,
            params={
                "direction": "outgoing",
                "media": "PHONE",
                "subject": f"Call {tag} {n}",
                "content": "Please call back.",
            },
            user=None,
        )
        for n, contact in enumerate(_contacts(crmcom, 3))
    ]
    return actions


def _applied() -> Counter[str]:
    return Counter(Call.objects.filter(applied=True).values_list("effect", flat=True))


def _effect(action: Action) -> str:
    params = action.params
    if action.operation == "run_action_set":
        return f"runactionset:{params['contact_remote_id']}:103"
    if action.operation == "add_contact_link":
        return f"addcontactlink:{params['contact_remote_id']}:{params['url']}"
    from crmhub.sandbox.crmcom import store

    number = store.remote_id_of(store.CONTACT, params["contact_remote_id"])
    contact_id = store.object_id(store.CONTACT, int(number or 0))
    raw = f"{contact_id}|{params['subject']}|{params['content']}".encode()
    return f"create:{hashlib.sha256(raw).hexdigest()[:16]}"


@pytest.mark.parametrize("point", ["before_send", "after_send", "after_response"])
def test_r1_real_connectors_survive_a_worker_killed_at_each_point(
    workers, allclients, crmcom, point
):
    # The first try of every even-numbered action kills its pool child at ``point``.
    worker = workers(env={"CRMHUB_FAULT": point, "CRMHUB_FAULT_MODE": "half"}, beat=True)
    actions = settle([a.pk for a in _enqueue_each_kind(allclients, crmcom, point)], timeout=45)
    assert "SIGKILL" in worker.text()
    applied = _applied()
    assert all(count == 1 for count in applied.values()), applied
    for action in actions:
        count = applied[_effect(action)]
        if action.pk % 2:
            assert action.state == Action.State.SUCCEEDED, (action, action.error)
            assert count == 1
        else:
            assert action.state == Action.State.UNKNOWN, action
            assert action.attempts == 1, "never resent silently"
            assert count == (0 if point == "before_send" else 1), action


def test_a_crmcom_token_that_expires_mid_batch_is_renewed_and_nothing_doubles(workers, crmcom):
    account = Account.objects.get(kind="crmcom")
    # Tokens live 1-2 s (the server stamps them with whole seconds; with 1 s one could live
    # ~0 s and be refused again at once); 10 calls at 4 a second outlive one.
    account.credentials = {**account.credentials, "token_lifetime_seconds": "2"}
    account.save()
    crmcom.rate_limit = 4
    crmcom.save()
    workers(beat=True)
    contacts = _contacts(crmcom, 10)
    batch = batch_enqueue(
        operation="communication_create",
        connection=crmcom,
        params={
            "direction": "outgoing",
            "media": "PHONE",
            "subject": "Batch call",
            "content": "Please call back.",
        },
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    actions = settle(Action.objects.filter(batch=batch).values_list("pk", flat=True), timeout=45)
    assert {a.state for a in actions} == {Action.State.SUCCEEDED}
    applied = _applied()
    assert len([e for e in applied if e.startswith("create:")]) == 10
    assert all(count == 1 for count in applied.values())
    logins = Call.objects.filter(kind="crmcom", operation__contains="authentication").count()
    assert logins >= 2, "the expired token was renewed during the batch"
