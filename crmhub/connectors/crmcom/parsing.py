"""Pure parsing of CRM.COM answers: JSON envelopes to typed values and typed errors.

Every answer, errors included, is ``{"status": {"code", "message", "description"},
"data"}``, usually with HTTP 200: a ``status.code`` other than ``OK`` becomes a typed error
carrying the vendor's code, message and description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from crmhub.connectors.base import RemoteContact
from crmhub.connectors.errors import AuthFailed, BadResponse, ConnectorError, NotFound, Rejected

# -- decisions where the documents are silent (spec README; mirrored by the sandbox) -------
#: The vendor publishes no error codes. Codes naming a token mean "log in again"; codes
#: about authentication mean wrong credentials; NOT_FOUND is a missing record.
INVALID_TOKEN_CODES = re.compile(r"TOKEN", re.IGNORECASE)
AUTH_CODES = re.compile(r"AUTH|LOGIN|CREDENTIAL|PASSWORD|PERMISSION|ACCESS", re.IGNORECASE)
NOT_FOUND_CODES = re.compile(r"NOT_FOUND|NOT_EXIST|UNKNOWN_ENTITY", re.IGNORECASE)
#: The API writes date-times without an offset ("2015-04-30T13:23:51"): read them as UTC.
API_ZONE = UTC
#: Offsets of the zone names Java's ``Date.toString`` prints ("Mon May 22 12:42:03 EEST 2017").
ZONE_NAMES = {"UTC": 0, "GMT": 0, "WET": 0, "CET": 1, "BST": 1, "EET": 2, "CEST": 2, "EEST": 3}
#: Where the contact's emails and phones are (assumption: the list items are not printed).
EMAIL_SET, EMAIL_FIELD = "email_set", "email_address"
PHONE_SET, PHONE_FIELD = "phone_set", "number"


@dataclass(frozen=True)
class VendorStatus:
    code: str
    message: str = ""
    description: str = ""


@dataclass(frozen=True)
class Envelope:
    status: VendorStatus
    data: Any


class CrmComError(ConnectorError):
    """An error envelope: ``code``, ``vendor_message`` and ``description`` as CRM.COM said."""

    def __init__(self, status: VendorStatus, *, url: str | None = None) -> None:
        detail = " ".join(p for p in (status.message, status.description) if p) or "no detail"
        super().__init__(
            f"CRM.COM refused the call ({status.code}): {detail}", code=status.code, url=url
        )
        self.vendor_message = status.message
        self.description = status.description


class CrmComRejected(CrmComError, Rejected):
    """The call was refused as invalid (a missing or wrong parameter, a wrong state)."""


class CrmComNotFound(CrmComError, NotFound):
    """The record named does not exist."""


class CrmComAuthFailed(CrmComError, AuthFailed):
    """The credentials were refused."""


class InvalidToken(CrmComAuthFailed):
    """The token is unknown or expired: log in again (once)."""


def error_for_status(status: VendorStatus, *, url: str | None = None) -> CrmComError:
    """Return the typed error of a non-OK envelope status. The one place this is decided."""
    if INVALID_TOKEN_CODES.search(status.code):
        return InvalidToken(status, url=url)
    if AUTH_CODES.search(status.code):
        return CrmComAuthFailed(status, url=url)
    if NOT_FOUND_CODES.search(status.code):
        return CrmComNotFound(status, url=url)
    return CrmComRejected(status, url=url)


# -- envelopes ------------------------------------------------------------------------------
def load_json(content: bytes) -> Any:
    """Return the decoded body; raise ``BadResponse`` unless it is JSON.

    Control characters inside strings are accepted: the vendor's own samples carry raw
    line breaks in string values.
    """
    try:
        return json.loads(content.decode("utf-8"), strict=False)
    except (UnicodeDecodeError, ValueError, RecursionError):
        snippet = content[:80].decode("utf-8", errors="replace").strip()
        raise BadResponse(f"CRM.COM did not answer with JSON (got {snippet!r}).") from None


def parse_envelope(content: bytes) -> Envelope:
    """Return the envelope of an answer; raise ``BadResponse`` if it is not one."""
    body = load_json(content)
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("code"), str):
        raise BadResponse("CRM.COM answered JSON without the status envelope.")
    return Envelope(
        VendorStatus(
            code=status["code"],
            message=_text(status.get("message")),
            description=_text(status.get("description")),
        ),
        body.get("data"),
    )


def unwrap(content: bytes, *, url: str | None = None) -> Any:
    """Return the ``data`` of an OK answer; raise the typed error of any other."""
    envelope = parse_envelope(content)
    if envelope.status.code != "OK":
        raise error_for_status(envelope.status, url=url)
    return envelope.data


def parse_token(data: Any) -> str:
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise BadResponse("CRM.COM's login answer carries no token.")
    return token.strip()


def records(data: Any) -> list[dict[str, Any]]:
    """Return the items of a list answer (a lone object is one item; null is none)."""
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise BadResponse("CRM.COM answered a list that is not a list of records.")
    return data


def record(data: Any) -> dict[str, Any]:
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        return data[0]
    if not isinstance(data, dict):
        raise BadResponse("CRM.COM answered without the record asked for.")
    return data


# -- values ---------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_datetime(value: Any) -> datetime | None:
    """Return an aware UTC datetime from the API's ISO or Java-style text, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _java_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=API_ZONE)
    return moment.astimezone(UTC)


def _java_datetime(text: str) -> datetime | None:
    parts = text.split()
    if len(parts) != 6 or parts[4] not in ZONE_NAMES:
        return None
    try:
        moment = datetime.strptime(" ".join(parts[:4] + parts[5:]), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    zone = timezone(timedelta(hours=ZONE_NAMES[parts[4]]))
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _updated(item: Mapping[str, Any]) -> datetime | None:
    log = _mapping(item.get("log_information"))
    return parse_datetime(log.get("updated_date")) or parse_datetime(log.get("created_date"))


def person_name(contact: Mapping[str, Any]) -> str:
    name = _text(contact.get("name")).strip()
    if name:
        return name
    parts = (contact.get("first_name"), contact.get("middle_name"), contact.get("last_name"))
    joined = " ".join(_text(p).strip() for p in parts if _text(p).strip())
    return joined or _text(contact.get("company_name")).strip()


def _values(items: Any, key: str) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    found = (_text(_mapping(item).get(key)) for item in items)
    return tuple(value for value in found if value.strip())


# -- contacts -------------------------------------------------------------------------------
def parse_contact(item: Mapping[str, Any]) -> RemoteContact:
    """Return one contact information record as a ``RemoteContact``."""
    remote_id = _text(item.get("id")).strip()
    if not remote_id:
        raise BadResponse("CRM.COM answered a contact without an id.")
    return RemoteContact(
        remote_id=remote_id,
        record_type=(_text(item.get("type")) or "PERSON").strip().lower(),
        first_name=_text(item.get("first_name")).strip(),
        last_name=_text(item.get("last_name")).strip(),
        full_name=person_name(item),
        company=_text(item.get("company_name")).strip(),
        emails=_values(item.get(EMAIL_SET), EMAIL_FIELD),
        phones=_values(item.get(PHONE_SET), PHONE_FIELD),
        updated_at=_updated(item),
        raw=dict(item),
    )


def parse_contacts(data: Any) -> tuple[RemoteContact, ...]:
    return tuple(parse_contact(item) for item in records(data))


# -- communications and the queue -------------------------------------------------------------
@dataclass(frozen=True)
class Communication:
    id: str
    number: str
    life_cycle_state: str
    direction: str = ""
    media: str = ""
    subject: str = ""
    content: str = ""
    to: str = ""
    sender: str = ""
    notes: str = ""
    contact_id: str = ""
    contact_name: str = ""
    category: str = ""
    external_system: str = ""
    viewed: bool = False
    viewed_on: datetime | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        """Return the communication as JSON-safe data for the Action record and the UI."""
        return _as_data(self)


@dataclass(frozen=True)
class QueueEntry:
    id: str
    number: str
    life_cycle_state: str
    error_code: str = ""
    error_description: str = ""
    communication_id: str = ""
    communication_number: str = ""
    communication_state: str = ""
    subject: str = ""
    contact_id: str = ""
    contact_name: str = ""
    external_system: str = ""
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        return _as_data(self)


def _as_data(value: Communication | QueueEntry) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in value.__dataclass_fields__:
        item = getattr(value, name)
        data[name] = item.isoformat() if isinstance(item, datetime) else item
    data["raw"] = dict(value.raw)
    return data


def parse_communication(data: Any) -> Communication:
    item = record(data)
    contact = _mapping(item.get("contact_information"))
    viewed = item.get("viewed")
    return Communication(
        id=_text(item.get("id")),
        number=_text(item.get("number")),
        life_cycle_state=_text(item.get("life_cycle_state")),
        direction=_text(item.get("direction")),
        media=_text(item.get("media")),
        subject=_text(item.get("subject")),
        content=_text(item.get("content")),
        to=_text(item.get("to")),
        sender=_text(item.get("from")),
        notes=_text(item.get("notes")),
        contact_id=_text(contact.get("id")),
        contact_name=person_name(contact) if contact else "",
        category=_text(_mapping(item.get("category")).get("name")),
        external_system=_text(
            _mapping(item.get("communication_queue_external_system")).get("name")
        ),
        viewed=viewed in (1, True, "1", "true"),
        viewed_on=parse_datetime(item.get("viewed_on")),
        updated_at=_updated(item),
        raw=item,
    )


def parse_communications(data: Any) -> tuple[Communication, ...]:
    return tuple(parse_communication(item) for item in records(data))


def parse_queue_entry(data: Any) -> QueueEntry:
    item = record(data)
    communication = _mapping(item.get("communication"))
    contact = _mapping(communication.get("contact_information"))
    return QueueEntry(
        id=_text(item.get("id")),
        number=_text(item.get("number")),
        life_cycle_state=_text(item.get("life_cycle_state")),
        error_code=_text(item.get("error_code")),
        error_description=_text(item.get("error_description")),
        communication_id=_text(communication.get("id")),
        communication_number=_text(communication.get("number")),
        communication_state=_text(communication.get("life_cycle_state")),
        subject=_text(communication.get("subject")),
        contact_id=_text(contact.get("id")),
        contact_name=person_name(contact) if contact else "",
        external_system=_text(
            _mapping(item.get("communication_queue_external_system")).get("name")
        ),
        updated_at=_updated(item),
        raw=item,
    )


def parse_queue_entries(data: Any) -> tuple[QueueEntry, ...]:
    return tuple(parse_queue_entry(item) for item in records(data))
