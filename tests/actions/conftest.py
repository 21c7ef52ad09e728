"""Fixtures of the actions tests: the in-memory FakeConnector under a real kind name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmhub.connections.models import Connection
from crmhub.connectors import registry
from crmhub.contacts.models import Contact
from tests.console.conftest import ann, connections  # noqa: F401  (fixtures: one per CRM)
from tests.fakes import FakeConnector

KIND = "allclients"


class FakeAllClients(FakeConnector):
    kind = KIND


@pytest.fixture
def fake_crm() -> Iterator[type[FakeConnector]]:
    """Register the FakeConnector as the ``allclients`` connector, with clean state."""
    FakeConnector.performed.clear()
    FakeConnector.script.clear()
    FakeConnector.contacts.clear()
    registry.register(KIND, FakeAllClients)
    yield FakeAllClients
    registry.unregister(KIND)
    FakeConnector.performed.clear()
    FakeConnector.script.clear()


class Published(list[tuple[int, float | None]]):
    """Task messages recorded instead of sent: (action id, countdown); ``queues`` by id."""

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[int, str] = {}


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    """Record task messages instead of sending them: (action id, countdown), and queues."""
    sent = Published()

    def publish(action_ids, *, countdown=None, queue="actions"):  # type: ignore[no-untyped-def]
        for action_id in action_ids:
            sent.append((action_id, countdown))
            sent.queues[action_id] = queue
        return True

    monkeypatch.setattr("crmhub.actions.dispatch.publish", publish)
    return sent


@pytest.fixture
def connection(db, fake_crm) -> Connection:  # type: ignore[no-untyped-def]
    conn = Connection(
        name="Fake AllClients",
        kind=KIND,
        base_url="https://crm.example.com/api/",
        rate_limit=1000.0,
        settings={"account_id": "42"},
    )
    conn.set_secrets({"api_key": "sekrit-api-key-123"})
    conn.save()
    return conn


def make_contacts(connection: Connection, count: int, *, start: int = 1) -> list[Contact]:
    return Contact.objects.bulk_create(
        Contact(
            connection=connection,
            remote_id=str(start + i),
            record_type="person",
            full_name=f"Person {start + i}",
        )
        for i in range(count)
    )


@pytest.fixture
def contact(connection: Connection) -> Contact:
    return make_contacts(connection, 1)[0]
