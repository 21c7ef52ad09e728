"""Fixtures of the contact index tests: connections served by in-memory fake CRMs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from crmhub.connectors import registry
from crmhub.connectors.base import RemoteContact
from crmhub.contacts.models import Contact
from tests.contacts.helpers import sync
from tests.factories import ConnectionFactory
from tests.fakes import FakeConnector

KINDS = ("allclients", "apptivo", "collect", "crmcom")


def remote(
    remote_id: str | int,
    first: str = "Ann",
    last: str = "Lee",
    *,
    email: str | None = None,
    phone: str | None = None,
    company: str = "",
    record_type: str = "person",
    updated_at: datetime | None = None,
) -> RemoteContact:
    """Return one remote contact for a fake CRM."""
    return RemoteContact(
        remote_id=str(remote_id),
        record_type=record_type,
        first_name=first,
        last_name=last,
        company=company,
        emails=(email,) if email else (),
        phones=(phone,) if phone else (),
        updated_at=updated_at or datetime(2026, 1, 1, tzinfo=UTC),
        raw={"id": str(remote_id)},
    )


def fake_class(kind: str) -> type[FakeConnector]:
    """Return a FakeConnector subclass with its own contact list, for one kind."""
    return type(
        f"Fake{kind.title()}",
        (FakeConnector,),
        {"kind": kind, "contacts": [], "performed": [], "script": [], "page_error_at": None},
    )


class FakeCrms:
    """One fake CRM per real kind, registered for the test and removed after."""

    classes: ClassVar[dict[str, type[FakeConnector]]]

    def __init__(self) -> None:
        self.classes = {kind: fake_class(kind) for kind in KINDS}

    def __getitem__(self, kind: str) -> type[FakeConnector]:
        return self.classes[kind]


@pytest.fixture
def fake_crms() -> Iterator[FakeCrms]:
    crms = FakeCrms()
    for kind, cls in crms.classes.items():
        registry.register(kind, cls)
    yield crms
    for kind in KINDS:
        registry.unregister(kind)


@pytest.fixture
def connection(db, fake_crms):  # type: ignore[no-untyped-def]
    """An AllClients connection served by the fake ``fake_crms["allclients"]``."""
    return ConnectionFactory(kind="allclients", name="AC")


@pytest.fixture
def make_connection(db, fake_crms):  # type: ignore[no-untyped-def]
    def make(kind: str, **fields):  # type: ignore[no-untyped-def]
        return ConnectionFactory(kind=kind, **fields)

    return make


@pytest.fixture
def crms(make_connection, fake_crms):  # type: ignore[no-untyped-def]
    """Three connections (AllClients, Apptivo, Collect!) with their fake CRMs."""

    class Crms:
        connections = {
            kind: make_connection(kind, name=kind) for kind in ("allclients", "apptivo", "collect")
        }

        def set(self, kind: str, *contacts) -> None:  # type: ignore[no-untyped-def]
            fake_crms[kind].contacts = list(contacts)

        def sync(self, *kinds: str) -> None:
            for kind in kinds or tuple(self.connections):
                sync(self.connections[kind], mode="full")

        def fake(self, kind: str) -> type[FakeConnector]:
            return fake_crms[kind]

        def get(self, kind: str, remote_id: str) -> Contact:
            return Contact.objects.get(connection=self.connections[kind], remote_id=remote_id)

    return Crms()
