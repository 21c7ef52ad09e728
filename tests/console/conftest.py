"""Console test data: one connection per CRM, an indexed person found in several CRMs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.bench.index import contacts_write
from crmhub.connections.models import Connection
from crmhub.connectors.base import RemoteContact
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact
from tests.factories import ConnectionFactory

KIND_SETTINGS: dict[str, dict[str, str]] = {
    "allclients": {"account_id": "1001", "time_zone": "America/Chicago"},
    "apptivo": {},
    "collect": {
        "operator_id": "op",
        "database": "cv_masterdb",
        "websocket_path": "/api/v1/ws",
        "prompting_plans": "PRM, DEL",
        "quiet_plans": "REV",
    },
    "crmcom": {"username": "u", "organisation": "org", "release": "14"},
}
KIND_SECRETS: dict[str, dict[str, str]] = {
    "allclients": {"api_key": "A" * 32},
    "apptivo": {"api_key": "k-apptivo", "access_key": "a-apptivo"},
    "collect": {"password": "p-collect"},
    "crmcom": {"password": "p-crmcom"},
}
RECORD_TYPES = {
    "allclients": "person",
    "apptivo": "customer",
    "collect": "debtor",
    "crmcom": "person",
}


def remote(
    remote_id: str,
    first: str,
    last: str,
    *,
    email: str = "",
    phone: str = "",
    record_type: str = "person",
    raw: dict[str, Any] | None = None,
) -> RemoteContact:
    """Return one remote record as a connector would list it."""
    return RemoteContact(
        remote_id=remote_id,
        record_type=record_type,
        first_name=first,
        last_name=last,
        emails=(email,) if email else (),
        phones=(phone,) if phone else (),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        raw=raw or {"id": remote_id},
    )


def index(connection: Connection, contacts: list[RemoteContact]) -> list[Contact]:
    """Write ``contacts`` into the index as a sync page would, then match people."""
    contacts_write(connection=connection, contacts=contacts)
    persons_match()
    ids = [c.remote_id for c in contacts]
    return list(
        Contact.objects.filter(connection=connection, remote_id__in=ids).order_by("remote_id")
    )


@pytest.fixture
def connections(db) -> dict[str, Connection]:  # type: ignore[no-untyped-def]
    """Return one active connection per kind (no remote is ever called by the console)."""
    made = {}
    for kind in KIND_SETTINGS:
        connection = ConnectionFactory.build(
            name=f"Test {kind}", kind=kind, settings=KIND_SETTINGS[kind]
        )
        connection.set_secrets(KIND_SECRETS[kind])
        connection.save()
        made[kind] = connection
    return made


@pytest.fixture
def ann(connections) -> dict[str, Contact]:  # type: ignore[no-untyped-def]
    """Return Ann Lee's records in each CRM (same email, one person)."""
    email, phone = "ann.lee@example.com", "+1 312 555 0100"
    records = {
        "allclients": remote("501", "Ann", "Lee", email=email, phone=phone),
        "apptivo": remote(
            "9001",
            "Ann",
            "Lee",
            email=email,
            record_type="customer",
            raw={
                "customerId": 9001,
                "customerName": "Ann Lee",
                "statusId": 1,
                "customerCategoryId": 2,
            },
        ),
        "collect": remote(
            "debtor:77", "Ann", "Leigh", email=email, phone="(312) 555-0100", record_type="debtor"
        ),
        "crmcom": remote("C-1", "Ann", "Lee", email="ANN.LEE@example.com", record_type="person"),
    }
    made = {kind: index(connections[kind], [records[kind]])[0] for kind in records}
    for contact in made.values():
        contact.refresh_from_db()
    return made


def make_action(
    connection: Connection,
    operation: str,
    *,
    contact: Contact | None = None,
    state: str = Action.State.SUCCEEDED,
    user: Any = None,
    **fields: Any,
) -> Action:
    """Create an action row directly (as the executor would have left it)."""
    now = timezone.now()
    return Action.objects.create(
        operation=operation,
        connection=connection,
        contact=contact,
        state=state,
        requested_by=user,
        params=fields.pop("params", {}),
        created_at=now,
        updated_at=now,
        finished_at=now if state in Action.TERMINAL else None,
        **fields,
    )


def apptivo_config_read(connection: Connection) -> Action:
    """Return a succeeded Apptivo configuration read: one status, one category."""
    return make_action(
        connection,
        "get_config",
        safe=True,
        result={
            "message": "ok",
            "data": {
                "statuses": [{"id": "10000", "name": "Active"}],
                "categories": [{"id": "27792", "name": "SMB"}],
            },
        },
    )
