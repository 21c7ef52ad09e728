"""Pure functions from AllClients answers (XML or JSON bytes) to frozen dataclasses.

Both formats are read into the same shape first: ``results`` as a dict whose values are
text, dicts, or lists of repeated elements (the vendor's JSON is a naive conversion of its
XML, so a one-item list arrives as an object and an empty element as ``null``; ``items``
undoes that). A ``<results><error>`` answer (HTTP 200) becomes a typed error here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crmhub.connectors import xml
from crmhub.connectors.base import RemoteContact
from crmhub.connectors.errors import AuthFailed, BadResponse, ConnectorError, NotFound, Rejected

AUTH_FAILED_TEXT = "authentication failed"
_BOM = b"\xef\xbb\xbf"
#: ``2/15/2014 1:15:05 PM`` (PHP ``n/j/Y g:i:s A``); seconds and AM/PM optional.
_DATETIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?"
)
#: Assumption: the document names four phone fields without naming them; every field
#: called ``phone``, ``phone2``... or ``...phone`` (cellphone, workphone) is a phone.
_PHONE_FIELD = re.compile(r"phone\d*|[a-z]+phone")
EMAIL_FIELDS = ("email", "otheremail")


@dataclass(frozen=True)
class Category:
    category_id: str
    name: str


@dataclass(frozen=True)
class ContactLink:
    link_id: str
    url: str
    label: str
    added_at: datetime | None = None


@dataclass(frozen=True)
class Confirmation:
    """A state-changing call's answer: ``<message>Success</message>`` plus details."""

    message: str
    details: str = ""
    source_id: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


# -- errors ----------------------------------------------------------------------------------
def vendor_error(text: str) -> ConnectorError:
    """Return the typed error for a vendor ``<error>`` text (the one place this is decided)."""
    text = text.strip() or "AllClients answered with an empty error."
    if text.lower() == AUTH_FAILED_TEXT:
        return AuthFailed(text, code="allclients_error")
    if "not found" in text.lower():
        return NotFound(text, code="allclients_error")
    return Rejected(text, code="allclients_error")


# -- both formats to one shape ---------------------------------------------------------------
def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _element_value(element: Any) -> Any:
    if not len(element):  # a leaf (the common case: one call, no list built)
        return element.text or ""
    value: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag.rsplit("}", 1)[-1] if "}" in tag else tag  # _local_name, inlined
        item = _element_value(child) if len(child) else child.text or ""
        if name in repeated:
            value[name].append(item)
        elif name in value:
            value[name] = [value[name], item]
            repeated.add(name)
        else:
            value[name] = item
    return value if value else element.text or ""


def _from_xml(body: bytes) -> Any:
    root = xml.parse(body)
    tag = str(root.tag)  # a parsed document's root element is named by a str
    if _local_name(tag) != "results":
        raise BadResponse(f"The XML answer's root is <{tag}>, not <results>.")
    return _element_value(root)


def _from_json(body: bytes) -> Any:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        snippet = body[:80].decode("utf-8", errors="replace")
        raise BadResponse(f"The answer is not valid JSON (starts {snippet!r}).") from exc
    if not isinstance(document, dict) or "results" not in document:
        raise BadResponse("The JSON answer has no 'results' object.")
    return document["results"]


def _looks_like_html(start: bytes) -> bool:
    lowered = start[:200].lower()
    return lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered


def read_results(body: bytes) -> dict[str, Any]:
    """Return the ``results`` of an answer in either format; raise on a vendor error.

    Raises ``AuthFailed``/``NotFound``/``Rejected`` for ``<results><error>`` and
    ``BadResponse`` for anything that is not an AllClients answer (HTML, truncated...).
    """
    start = body.removeprefix(_BOM).lstrip()
    if not start:
        raise BadResponse("The answer is empty.")
    if _looks_like_html(start):
        raise BadResponse("The server answered with an HTML page instead of XML or JSON.")
    if start.startswith(b"<"):
        results = _from_xml(start)
    elif start.startswith((b"{", b"[")):
        results = _from_json(start)
    else:
        snippet = start[:80].decode("utf-8", errors="replace")
        raise BadResponse(f"The answer is neither XML nor JSON (starts {snippet!r}).")
    if results in (None, ""):
        return {}
    if not isinstance(results, dict):
        raise BadResponse("The answer's <results> has no elements.")
    if "error" in results:
        raise vendor_error(text(results, "error"))
    return results


def items(results: Mapping[str, Any], collection: str, item: str) -> list[dict[str, Any]]:
    """Return the ``item`` records under ``collection`` as a list, whatever the format did.

    A missing collection is a bad answer; an empty one (``""``/``null``) is an empty list;
    a single record (an object, not an array) is a one-item list.
    """
    if collection not in results:
        raise BadResponse(f"The answer has no <{collection}> element.")
    container = results[collection]
    if container in (None, ""):
        return []
    if not isinstance(container, dict):
        raise BadResponse(f"The answer's <{collection}> is not a list of <{item}>.")
    found = container.get(item)
    if found in (None, ""):
        return []
    records = found if isinstance(found, list) else [found]
    if not all(isinstance(record, dict) for record in records):
        raise BadResponse(f"An <{item}> in the answer has no fields.")
    return records


def text(record: Mapping[str, Any], name: str) -> str:
    """Return field ``name`` of ``record`` as text ("" when absent or not a plain value)."""
    value = record.get(name)
    if type(value) is str:
        return value
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# -- dates -----------------------------------------------------------------------------------
def parse_datetime(value: str, zone: ZoneInfo) -> datetime | None:
    """Return a vendor date (``2/15/2014 1:15:05 PM`` in the account's zone) in UTC.

    Returns None for an empty or unreadable value: one odd date must not stop a sync.
    """
    match = _DATETIME.fullmatch(value.strip())
    if not match:
        return None
    month, day, year, hour, minute, second, half = match.groups()
    hour_value = int(hour)
    if half:
        if not 1 <= hour_value <= 12:
            return None
        hour_value = hour_value % 12 + (12 if half.upper() == "P" else 0)
    try:
        local = datetime(int(year), int(month), int(day), hour_value, int(minute), int(second or 0))
    except ValueError:
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)


def format_start(moment: datetime, zone: ZoneInfo) -> str:
    """Return ``moment`` as RunActionSet's ``startdatetime`` (``M/D/YYYY h:mm AM/PM``, ``zone``)."""
    local = moment.astimezone(zone)
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return f"{local.month}/{local.day}/{local.year} {hour}:{local.minute:02d} {half}"


# -- records ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _is_phone_field(name: str) -> bool:
    return _PHONE_FIELD.fullmatch(name) is not None


def contact_id(record: Mapping[str, Any]) -> str:
    """Return the id of one GetContacts record; raise ``BadResponse`` when it has none."""
    remote_id = (text(record, "id") or text(record, "contactid")).strip()
    if not remote_id:
        raise BadResponse("A contact in the answer has no id.")
    return remote_id


def contact(record: Mapping[str, Any], zone: ZoneInfo) -> RemoteContact:
    """Return one GetContacts record as a ``RemoteContact``."""
    remote_id = contact_id(record)
    first, last = text(record, "firstname"), text(record, "lastname")
    emails = tuple(value for name in EMAIL_FIELDS if (value := text(record, name)).strip())
    phones = tuple(
        value for name in record if _is_phone_field(name) and (value := text(record, name)).strip()
    )
    updated = text(record, "editdate") or text(record, "adddate")
    return RemoteContact(
        remote_id=remote_id,
        record_type="person",
        first_name=first,
        last_name=last,
        full_name=" ".join(part for part in (first.strip(), last.strip()) if part),
        company=text(record, "company"),
        emails=emails,
        phones=phones,
        updated_at=parse_datetime(updated, zone) if updated else None,
        raw=record,
    )


def contact_records(body: bytes) -> list[dict[str, Any]]:
    """Return the contact records of a GetContacts answer, not yet read as contacts (what
    says how long the page is, and its ids: a third of the work of ``parse_contacts``)."""
    return items(read_results(body), "contacts", "contact")


def parse_contacts(body: bytes, zone: ZoneInfo) -> tuple[RemoteContact, ...]:
    """Return the contacts of a GetContacts answer."""
    return tuple(contact(record, zone) for record in contact_records(body))


def parse_categories(body: bytes) -> tuple[Category, ...]:
    """Return the categories of a GetCategories answer."""
    results = read_results(body)
    return tuple(
        Category(
            category_id=text(record, "categoryid") or text(record, "id"),
            name=text(record, "name"),
        )
        for record in items(results, "categories", "category")
    )


def parse_links(body: bytes, zone: ZoneInfo) -> tuple[ContactLink, ...]:
    """Return the links of a GetContactLinks answer (an assumed method)."""
    results = read_results(body)
    return tuple(
        ContactLink(
            link_id=text(record, "id") or text(record, "linkid") or text(record, "sourceid"),
            url=text(record, "url"),
            label=text(record, "label"),
            added_at=parse_datetime(text(record, "adddate"), zone),
        )
        for record in items(results, "links", "link")
    )


def parse_confirmation(body: bytes) -> Confirmation:
    """Return the answer of a change (RunActionSet, AddContactLink); it must say Success."""
    results = read_results(body)
    message = text(results, "message").strip()
    if not message:
        raise BadResponse("The answer has neither <message> nor <error>.")
    if message.lower() != "success":
        raise Rejected(message, code="allclients_error")
    return Confirmation(
        message=message,
        details=text(results, "details").strip(),
        source_id=text(results, "sourceid").strip(),
        raw=results,
    )
