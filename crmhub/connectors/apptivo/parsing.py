"""Pure functions from Apptivo answers (JSON bytes) to crmhub values and typed errors.

Apptivo answers errors with HTTP 200 and ``{"status": "FAILURE", "reason": "..."}``, so
every body is decoded and checked here before anything else reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from crmhub.connectors.base import RemoteContact
from crmhub.connectors.errors import AuthFailed, BadResponse, ConnectorError, NotFound, Rejected

#: Assumption (documents silent): customer dates ("YYYY-MM-DD HH:MM:SS") are in UTC.
#: Correcting it against a real firm is this one line.
REMOTE_TIME_ZONE: tzinfo = UTC
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: A FAILURE whose reason names a key is a credentials problem (Airbyte's rule: "Key").
_AUTH_REASON = re.compile(r"(api|access|session)\s*key", re.IGNORECASE)
_NOT_FOUND_REASON = re.compile(r"not\s+found|does\s+not\s+exist|no\s+such", re.IGNORECASE)
#: Used when getConfigData does not say (the vendor's search sample: objectId=3).
CUSTOMERS_OBJECT_ID = 3


@dataclass(frozen=True)
class Choice:
    """One option of a configured list (a status, a category, a phone or email type)."""

    id: str
    name: str


@dataclass(frozen=True)
class ApptivoConfig:
    """What crmhub needs of the customers app's getConfigData."""

    object_id: int
    statuses: tuple[Choice, ...]
    categories: tuple[Choice, ...]
    phone_types: tuple[Choice, ...]
    email_types: tuple[Choice, ...]
    layout_sections: tuple[str, ...]

    def status(self, status_id: int) -> Choice | None:
        return next((s for s in self.statuses if s.id == str(status_id)), None)

    def category(self, category_id: int) -> Choice | None:
        return next((c for c in self.categories if c.id == str(category_id)), None)


# -- envelope ------------------------------------------------------------------------------------
def error_for_failure(reason: str) -> ConnectorError:
    """Return the typed error of a ``FAILURE`` answer (the one place this is decided)."""
    message = f"Apptivo refused the request: {reason}" if reason else "Apptivo refused the request."
    if _AUTH_REASON.search(reason):
        return AuthFailed(message, code="FAILURE")
    if _NOT_FOUND_REASON.search(reason):
        return NotFound(message, code="FAILURE")
    return Rejected(message, code="FAILURE")


def decode(body: bytes) -> dict[str, Any]:
    """Return the JSON object of an answer; raise ``BadResponse`` or the vendor's error."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        snippet = body[:80].decode("utf-8", errors="replace").strip()
        raise BadResponse(f"Apptivo did not answer with JSON (got {snippet!r}).") from None
    if not isinstance(document, dict):
        raise BadResponse("Apptivo answered JSON that is not an object.")
    if str(document.get("status", "")).upper() == "FAILURE":
        raise error_for_failure(str(document.get("reason") or "").strip())
    return document


# -- values --------------------------------------------------------------------------------------
def parse_date(value: Any) -> datetime | None:
    """Return an aware UTC datetime of an Apptivo date, or None when empty or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.strptime(value.strip(), DATE_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=REMOTE_TIME_ZONE).astimezone(UTC)


def format_date(moment: datetime) -> str:
    """Return ``moment`` as an Apptivo date in the remote's time zone."""
    return moment.astimezone(REMOTE_TIME_ZONE).strftime(DATE_FORMAT)


def _texts(items: Any, key: str) -> list[str]:
    if isinstance(items, dict):  # tolerate a one-item list sent as an object
        items = [items]
    if not isinstance(items, list):
        return []
    values = [item.get(key) for item in items if isinstance(item, dict)]
    return [v for v in values if isinstance(v, str) and v.strip()]


def _add(values: list[str], extra: Any) -> list[str]:
    if isinstance(extra, str) and extra.strip() and extra not in values:
        values.append(extra)
    return values


def parse_customer(record: Mapping[str, Any]) -> RemoteContact:
    """Return the index entry of one customer record; ``BadResponse`` without an id."""
    customer_id = record.get("customerId")
    if isinstance(customer_id, bool) or customer_id in (None, ""):
        raise BadResponse("An Apptivo customer has no customerId.")
    if isinstance(customer_id, float) and customer_id.is_integer():
        customer_id = int(customer_id)
    name = record.get("customerName")
    return RemoteContact(
        remote_id=str(customer_id),
        record_type="customer",
        full_name=name.strip() if isinstance(name, str) else "",
        emails=tuple(
            _add(_texts(record.get("emailAddresses"), "emailAddress"), record.get("contactEmail"))
        ),
        phones=tuple(
            _add(_texts(record.get("phoneNumbers"), "phoneNumber"), record.get("phoneNumber"))
        ),
        updated_at=parse_date(record.get("lastUpdateDate")),
        raw=dict(record),
    )


def parse_customer_list(document: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """Return the raw records and ``countOfRecords`` of a getAll/search answer."""
    data = document.get("data")
    total = document.get("countOfRecords")
    if isinstance(total, str) and total.isdigit():
        total = int(total)
    if not isinstance(total, int) or isinstance(total, bool):
        total = None
    if data is None:
        if total in (0, None) and "countOfRecords" in document:
            return [], total
        raise BadResponse("The Apptivo listing has no data.")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise BadResponse("The Apptivo listing's data is not a list of records.")
    return data, total


def parse_saved_customer(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return the customer record of a save/update answer (``{"customer": {...}}`` or bare)."""
    customer = document.get("customer", document)
    if not isinstance(customer, dict) or customer.get("customerId") in (None, ""):
        raise BadResponse("Apptivo's answer does not contain the saved customer.")
    return customer


def summary(contact: RemoteContact) -> dict[str, Any]:
    """Return a JSON-safe summary of a customer for an Action's result."""
    raw = contact.raw
    return {
        "customer_id": contact.remote_id,
        "customer_name": contact.full_name,
        "customer_number": raw.get("customerNumber") or "",
        "status": raw.get("statusName") or "",
        "status_id": raw.get("statusId"),
        "category": raw.get("customerCategory") or "",
        "category_id": raw.get("customerCategoryId"),
        "emails": list(contact.emails),
        "phones": list(contact.phones),
        "description": raw.get("description") or "",
        "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
    }


# -- configuration ---------------------------------------------------------------------------
def _choices(
    items: Any, id_keys: tuple[str, ...], name_keys: tuple[str, ...]
) -> tuple[Choice, ...]:
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if not isinstance(item, dict) or str(item.get("isEnabled", "Y")).upper() == "N":
            continue
        ident = next((item[k] for k in id_keys if item.get(k) not in (None, "")), None)
        name = next((item[k] for k in name_keys if item.get(k)), None)
        if ident is not None and name is not None:
            found.append(Choice(id=str(ident), name=str(name)))
    return tuple(found)


def parse_config(document: Mapping[str, Any]) -> ApptivoConfig:
    """Return the customers configuration; ``webLayout`` is JSON inside a string."""
    layout = document.get("webLayout")
    sections: tuple[str, ...] = ()
    if isinstance(layout, str) and layout.strip():
        try:
            decoded = json.loads(layout)
        except (ValueError, RecursionError):
            raise BadResponse("Apptivo's webLayout is not valid JSON.") from None
        raw_sections = decoded.get("sections") if isinstance(decoded, dict) else None
        sections = tuple(
            str(s.get("label"))
            for s in raw_sections or []
            if isinstance(s, dict) and s.get("label")
        )
    object_id = document.get("objectId", CUSTOMERS_OBJECT_ID)
    if isinstance(object_id, bool) or not str(object_id).isdigit():
        raise BadResponse("Apptivo's configuration has an invalid objectId.")
    return ApptivoConfig(
        object_id=int(object_id),
        statuses=_choices(document.get("statuses"), ("statusId", "id"), ("statusName", "name")),
        categories=_choices(
            document.get("categories"), ("categoryId", "id"), ("categoryName", "name")
        ),
        phone_types=_choices(document.get("phoneTypes"), ("code",), ("name",)),
        email_types=_choices(document.get("emailTypes"), ("code",), ("name",)),
        layout_sections=sections,
    )


def config_data(config: ApptivoConfig) -> dict[str, Any]:
    """Return the JSON-safe form of ``config`` (choices for the console's forms)."""
    return {
        "object_id": config.object_id,
        "statuses": [{"id": c.id, "name": c.name} for c in config.statuses],
        "categories": [{"id": c.id, "name": c.name} for c in config.categories],
        "phone_types": [{"code": c.id, "name": c.name} for c in config.phone_types],
        "email_types": [{"code": c.id, "name": c.name} for c in config.email_types],
        "layout_sections": list(config.layout_sections),
    }
