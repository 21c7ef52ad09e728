"""Turn stored objects into the shapes the CRM.COM documents print.

Records are stored lean (a million contacts must seed in minutes); every field the vendor
samples show, nulls included, is filled in here.
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.crmcom.api import iso
from crmhub.sandbox.crmcom.store import (
    CATEGORY,
    COMMUNICATION,
    CONTACT,
    EXTERNAL_SYSTEM,
    GROUP,
    PRIVACY_LEVEL,
    QUEUE,
    collection_query,
    derived,
    object_id,
    object_number,
)
from crmhub.sandbox.models import Record

REFERRING_ENTITIES = (
    "payment_gateway_card",
    "service_request",
    "payment",
    "bill",
    "notification",
    "activity",
    "spend_reward_transaction",
    "award_reward_transaction",
    "buy_in_advance_request",
    "accounts_receivable",
    "communication",
    "rewards_participant",
    "payment_gateway_request",
    "lead",
    "subscription",
    "job",
)
UNIT = {
    "community_name": "Internal Community",
    "id": "48305F8849E3C18B227C5BE3A27BA6DF",
    "name": "Admin Unit",
    "group_name": "Main Group",
    "description": "Sandbox unit",
    "alternative_code": "MG",
}
USER = {"person_name": "crmhub API", "username": "crmhub_api", "id": "1"}


def display_name(data: dict[str, Any]) -> str | None:
    if data.get("type") == "COMPANY":
        return data.get("company_name") or None
    return " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p) or None


def log_information(record: Record) -> dict[str, Any]:
    created = record.data.get("created") or iso(record.updated_at)
    return {
        "updated_date": iso(record.updated_at),
        "created_date": created,
        "created_by_unit": UNIT,
        "updated_by_unit": UNIT,
        "created_by_user": USER,
        "updated_by_user": USER,
    }


def _demographics(record: Record) -> dict[str, Any] | None:
    if record.data.get("type") != "PERSON":
        return None
    rid = record.remote_id
    return {
        "gender": None,
        "passport_issued_by_country": None,
        "social_security_number": derived("social_security_number", rid),
        "passport_number": derived("passport_number", rid),
        "industry_sector": None,
        "name_day": {"month": None, "day": None},
        "date_of_birth": {"month": None, "day": None, "year": None},
        "id_number": derived("id_number", rid),
        "industry": None,
        "id_issued_by_country": None,
    }


def contact_summary(record: Record) -> dict[str, Any]:
    """Return a contact as nested in a communication."""
    data = record.data
    company = data.get("type") == "COMPANY"
    return {
        "last_name": data.get("last_name") or None,
        "middle_name": data.get("middle_name") or None,
        "life_cycle_state": data.get("life_cycle_state", "FINANCIAL"),
        "company_profile": (
            {
                "vat_registration_number": derived("vat_registration_number", record.remote_id),
                "registration_number": derived("registration_number", record.remote_id),
            }
            if company
            else None
        ),
        "title": data.get("title") or None,
        "first_name": data.get("first_name") or None,
        "type": data.get("type", "PERSON"),
        "id": object_id(CONTACT, record.remote_id),
        "name": display_name(data),
        "company_name": data.get("company_name") or None,
        "demographics": _demographics(record),
    }


def contact_full(record: Record) -> dict[str, Any]:
    """Return a contact as ``contact_information/show`` and ``/list`` answer it."""
    data = record.data
    full = contact_summary(record)
    full.update(
        number=object_number(CONTACT, record.remote_id),
        notes=None,
        preferred_language="ENG",
        email_set=(
            [{"email_address": data["email"], "type": "PERSONAL", "is_primary": True}]
            if data.get("email")
            else []
        ),
        phone_set=(
            [{"number": data["phone"], "type": "MOBILE", "is_primary": True}]
            if data.get("phone")
            else []
        ),
        log_information=log_information(record),
    )
    full.update({f"udf_string_{i}": None for i in range(1, 9)})
    full.update({f"udf_float_{i}": None for i in range(1, 5)})
    return full


class Fixed:
    """The small fixed collections (categories, groups...), loaded once per request."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[int, Record]] = {
            name: {r.remote_id: r for r in collection_query(name)}
            for name in (CATEGORY, EXTERNAL_SYSTEM, GROUP, PRIVACY_LEVEL)
        }

    def show(self, collection: str, remote_id: int | None) -> dict[str, Any] | None:
        record = self.rows[collection].get(remote_id) if remote_id else None
        if record is None:
            return None
        return {"id": object_id(collection, record.remote_id), **record.data}


def communication(record: Record, contact: Record | None, fixed: Fixed) -> dict[str, Any]:
    """Return a communication as ``communications/show`` answers it."""
    data = record.data
    referring = {name: None for name in REFERRING_ENTITIES}
    referring.update(data.get("referring_to") or {})
    shown: dict[str, Any] = {
        "id": object_id(COMMUNICATION, record.remote_id),
        "number": object_number(COMMUNICATION, record.remote_id),
        "code": str(record.remote_id),
        "life_cycle_state": data["life_cycle_state"],
        "direction": data.get("direction"),
        "media": data.get("media"),
        "subject": data.get("subject"),
        "content": data.get("content"),
        "to": data.get("to"),
        "from": data.get("from"),
        "notes": data.get("notes"),
        "viewed": data.get("viewed", 0),
        "viewed_on": data.get("viewed_on"),
        "contact_information": contact_summary(contact) if contact else None,
        "category": fixed.show(CATEGORY, data.get("category")),
        "communication_queue_external_system": fixed.show(
            EXTERNAL_SYSTEM, data.get("external_system")
        ),
        "owned_by_group": fixed.show(GROUP, data.get("owned_by_group")),
        "privacy_level": fixed.show(PRIVACY_LEVEL, data.get("privacy_level")),
        "follow_up_set": [],
        "referring_to": referring,
        "unrestricted_parameter_set": data.get("unrestricted_parameter_set", []),
        "log_information": log_information(record),
    }
    udf = data.get("udf", {})
    for i in range(1, 9):
        shown[f"udf_string_{i}"] = udf.get(f"udf_string_{i}")
    for kind in ("float", "date"):
        for i in range(1, 5):
            shown[f"udf_{kind}_{i}"] = udf.get(f"udf_{kind}_{i}")
    return shown


def queue_entry(
    record: Record, comm: Record | None, contact: Record | None, fixed: Fixed
) -> dict[str, Any]:
    """Return a communication queue entry as ``communications/queue/show`` answers it."""
    data = record.data
    nested = None
    if comm is not None:
        nested = {
            "life_cycle_state": comm.data["life_cycle_state"],
            "number": object_number(COMMUNICATION, comm.remote_id),
            "id": object_id(COMMUNICATION, comm.remote_id),
            "subject": comm.data.get("subject"),
            "contact_information": contact_summary(contact) if contact else None,
        }
    return {
        "log_information": log_information(record),
        "error_code": data.get("error_code"),
        "error_description": data.get("error_description"),
        "life_cycle_state": data["life_cycle_state"],
        "communication": nested,
        "number": object_number(QUEUE, record.remote_id),
        "id": object_id(QUEUE, record.remote_id),
        "communication_queue_external_system": fixed.show(
            EXTERNAL_SYSTEM, data.get("external_system")
        ),
    }
