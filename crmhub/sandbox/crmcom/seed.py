"""Seed the simulated CRM.COM: contacts in bulk, plus its fixed data.

Contacts are mostly PERSONs; a person with a company whose key ends in 0 is kept as a
COMPANY contact. Fixed data: communication templates, categories, queue external systems,
groups, privacy levels, and a few communications and queue entries on the first contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from crmhub.sandbox.crmcom import store
from crmhub.sandbox.crmcom.api import KIND, iso
from crmhub.sandbox.crmcom.compose import SENDER
from crmhub.sandbox.models import Record
from crmhub.sandbox.people import PersonSpec

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

CATEGORIES = (
    {"name": "Customer Care Information", "description": "Customer care", "code": "cci"},
    {"name": "Billing", "description": "Bills and payments", "code": "BIL"},
    {"name": "Marketing", "description": "Campaigns", "code": "MKT"},
)
EXTERNAL_SYSTEMS = (
    {"name": "External SMS System", "alternative_code": "ESMSS"},
    {"name": "EXT 1", "alternative_code": "E1"},
)
GROUPS = (
    {
        "community_name": "Internal Community",
        "name": "Main Group",
        "description": "Main Group",
        "alternative_code": "MG1",
    },
    {
        "community_name": "Internal Community",
        "name": "Collaboration Group 1",
        "description": None,
        "alternative_code": "CG1",
    },
)
PRIVACY_LEVELS = (
    {"name": "Public", "number": "1", "description": "Visible to every unit"},
    {"name": "Restricted", "number": "8", "description": "Visible to the owning group"},
)
TEMPLATES = (
    {
        "name": "Payment Reminder",
        "alternative_code": "PAYREM",
        "direction": "OUTGOING",
        "media": "EMAIL",
        "subject": "Payment reminder",
        "content": "Dear #contact_information.first_name, your bill is due. Regards",
        "category": 2,
    },
    {
        "name": "Welcome SMS",
        "alternative_code": "WELSMS",
        "direction": "OUTGOING",
        "media": "SMS",
        "subject": "Welcome",
        "content": "Welcome #contact_information.first_name!",
        "category": 1,
    },
    {
        "name": "Call Notes",
        "alternative_code": "CALL",
        "direction": "INCOMING",
        "media": "PHONE",
        "subject": "Phone call",
        "content": "Notes of the call.",
        "category": 1,
    },
)


def _contact(spec: PersonSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "COMPANY" if spec.company and spec.key % 10 == 0 else "PERSON",
        "life_cycle_state": "MARKETING" if spec.key % 7 == 0 else "FINANCIAL",
    }
    if data["type"] == "PERSON":
        data["first_name"] = spec.first_name
        data["last_name"] = spec.last_name
    if spec.company:
        data["company_name"] = spec.company
    if spec.email:
        data["email"] = spec.email
    if spec.phone:
        data["phone"] = spec.phone
    return data


def _rows(collection: str, items: Iterable[dict[str, Any]]) -> list[Record]:
    return [
        Record(kind=KIND, collection=collection, remote_id=i, data=dict(d), updated_at=EPOCH)
        for i, d in enumerate(items, start=1)
    ]


def _communications(contacts: list[Record]) -> tuple[list[Record], list[Record]]:
    """Return a few communications on the first contacts, and their queue entries."""
    plans = (
        ("OUTGOING", "EMAIL", "COMPLETED", None),
        ("OUTGOING", "SMS", "COMPLETED", 1),
        ("INCOMING", "PHONE", "COMPLETED", None),
        ("OUTGOING", "EMAIL", "DRAFT", None),
        ("OUTGOING", "LETTER", "DRAFT", None),
        ("OUTGOING", "EMAIL", "COMPLETED", 2),
    )
    comms: list[Record] = []
    entries: list[Record] = []
    for number, (contact, plan) in enumerate(zip(contacts, plans, strict=False), start=1):
        direction, media, state, system = plan
        email = contact.data.get("email", "").strip()
        if media == "EMAIL" and not email:
            media = "LETTER"
        data = {
            "contact": contact.remote_id,
            "direction": direction,
            "media": media,
            "subject": f"Seeded {media.lower()} {number}",
            "content": f"Hello, this is seeded communication {number}.",
            "to": email if media == "EMAIL" else contact.data.get("phone"),
            "from": SENDER if media == "EMAIL" else None,
            "life_cycle_state": state,
            "viewed": 0,
            "category": 1,
            "external_system": system,
            "created": iso(EPOCH),
        }
        comms.append(
            Record(
                kind=KIND,
                collection=store.COMMUNICATION,
                remote_id=number,
                data=data,
                updated_at=EPOCH,
            )
        )
        if state == "COMPLETED" and (media in ("EMAIL", "SMS") or system):
            entry = {
                "communication": number,
                "contact": contact.remote_id,
                "media": media,
                "external_system": system,
                "life_cycle_state": "COMPLETED" if number == 6 else "PENDING",
                "viewed": False,
                "error_code": None,
                "error_description": None,
                "created": iso(EPOCH),
            }
            entries.append(
                Record(
                    kind=KIND,
                    collection=store.QUEUE,
                    remote_id=len(entries) + 1,
                    data=entry,
                    updated_at=EPOCH,
                )
            )
    return comms, entries


def seed(people: Iterable[PersonSpec], *, batch_size: int) -> int:
    """Store ``people`` as contacts (bulk inserts) plus the fixed data; return rows written."""
    written = 0
    first: list[Record] = []
    batch: list[Record] = []
    with transaction.atomic(using="sandbox"):
        for remote_id, spec in enumerate(people, start=1):
            moment = EPOCH + timedelta(seconds=spec.key % 31_536_000)
            batch.append(
                Record(
                    kind=KIND,
                    collection=store.CONTACT,
                    remote_id=remote_id,
                    data=_contact(spec),
                    updated_at=moment,
                )
            )
            if len(batch) >= batch_size:
                first = first or batch[:6]
                written += len(Record.objects.bulk_create(batch, batch_size=batch_size))
                batch = []
        if batch:
            first = first or batch[:6]
            written += len(Record.objects.bulk_create(batch, batch_size=batch_size))
        comms, entries = _communications(first)
        fixed = [
            *_rows(store.CATEGORY, CATEGORIES),
            *_rows(store.EXTERNAL_SYSTEM, EXTERNAL_SYSTEMS),
            *_rows(store.GROUP, GROUPS),
            *_rows(store.PRIVACY_LEVEL, PRIVACY_LEVELS),
            *_rows(store.TEMPLATE, TEMPLATES),
            *comms,
            *entries,
        ]
        written += len(Record.objects.bulk_create(fixed))
    return written
