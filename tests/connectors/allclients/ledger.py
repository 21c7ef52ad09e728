"""Helpers for the AllClients connector tests: the sandbox ledger and hand-made contacts."""

from __future__ import annotations

from datetime import UTC, datetime

from crmhub.sandbox.allclients import store
from crmhub.sandbox.models import Account, Call, Record

FIRST = store.CONTACT_ID_BASE  # contactid of the first seeded person


def calls(operation: str) -> list[Call]:
    return list(Call.objects.filter(kind="allclients", operation=operation).order_by("id"))


def applied(operation: str) -> list[str]:
    return [call.effect for call in calls(operation) if call.applied]


def add_contact(remote_id: int, **data: str) -> Record:
    data.setdefault("adddate", "2020-01-01T12:00:00Z")
    return Record.objects.create(
        kind="allclients",
        collection="contact",
        remote_id=remote_id,
        data=data,
        updated_at=datetime(2020, 1, 1, tzinfo=UTC),
    )


def set_account_time_zone(name: str) -> None:
    account = Account.objects.get(kind="allclients")
    account.credentials = {**account.credentials, "time_zone": name}
    account.save()
