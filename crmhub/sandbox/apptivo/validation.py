"""Check the parameters of a simulated Apptivo call the way this simulator reads the docs.

Every failure raises ``Failure(reason)``, which the view answers as the vendor does:
``{"status": "FAILURE", "reason": ...}`` with HTTP 200. Where the documents are silent
(lengths, type codes, which attributes ``update`` accepts) the rule is an assumption,
named in ``assumptions.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from crmhub.sandbox.apptivo import config
from crmhub.sandbox.apptivo.assumptions import ASSUMPTIONS

MAX_NAME = ASSUMPTIONS.max_name
MAX_EMAIL = ASSUMPTIONS.max_email
MAX_PHONE = ASSUMPTIONS.max_phone
MAX_DESCRIPTION = ASSUMPTIONS.max_description
MAX_TEXT = ASSUMPTIONS.max_text
MAX_PAGE = ASSUMPTIONS.max_page
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+().\-\s/x]+$")
AUTO_NUMBER = "Auto generated number"

#: Simple text attributes of the seed sample that save/update accept as they are.
TEXT_ATTRIBUTES = (
    "website",
    "skypeName",
    "tickerSymbol",
    "faceBookURL",
    "twitterURL",
    "linkedInURL",
    "ownership",
    "creditRating",
)
#: Attribute names ``update`` accepts in attributeName(s); anything else is refused.
UPDATABLE = frozenset(
    (
        "customerName",
        "customerNumber",
        "statusId",
        "statusName",
        "customerCategoryId",
        "customerCategory",
        "description",
        "emailAddresses",
        "phoneNumbers",
        "addresses",
        *TEXT_ATTRIBUTES,
    )
)


class Failure(Exception):
    """A request the simulated Apptivo refuses; ``reason`` is what it answers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- scalar parameters ------------------------------------------------------------------------
def int_param(
    params: Mapping[str, str], name: str, *, default: int | None, minimum: int, maximum: int
) -> int:
    """Return integer parameter ``name``; refuse a missing (without default) or bad value."""
    raw = params.get(name, "")
    if raw == "":
        if default is None:
            raise Failure(f"{name} is required.")
        return default
    if not raw.strip().isdigit():
        raise Failure(f"Invalid {name}: {raw[:40]!r} is not a whole number.")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise Failure(f"Invalid {name}: must be between {minimum} and {maximum}.")
    return value


def json_param(params: Mapping[str, str], name: str, *, expected: type, required: bool) -> Any:
    """Return JSON parameter ``name`` decoded; refuse invalid JSON or the wrong shape."""
    raw = params.get(name, "")
    if raw.strip() == "":
        if required:
            raise Failure(f"{name} is required.")
        return expected()
    try:
        value = json.loads(raw)
    except ValueError:
        raise Failure(f"Invalid {name}: not valid JSON.") from None
    if not isinstance(value, expected):
        raise Failure(f"Invalid {name}: expected a JSON {expected.__name__}.")
    return value


def bool_param(params: Mapping[str, str], name: str) -> bool:
    """Return a "true"/"false" parameter (absent means false)."""
    raw = params.get(name, "false").strip().lower()
    if raw not in ("true", "false"):
        raise Failure(f"Invalid {name}: use true or false.")
    return raw == "true"


def object_id(params: Mapping[str, str]) -> None:
    """Refuse an ``objectId`` that is not the customers app's."""
    raw = params.get("objectId", "")
    if raw and raw != str(config.OBJECT_ID):
        raise Failure(f"Invalid objectId {raw[:20]!r} for customers.")


# -- customer attributes ------------------------------------------------------------------
def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Failure(f"Invalid {name}: expected text.")
    value = value.strip()
    if required and not value:
        raise Failure(f"{name} is required.")
    if len(value) > limit:
        raise Failure(f"{name} is too long (at most {limit} characters).")
    return value


def _id(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Failure(f"Invalid {name}: expected a number.")
    return int(value)


def _list(data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Failure(f"Invalid {name}: expected a list of objects.")
    return value


def emails(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the checked ``emailAddresses`` (format, length, a known emailTypeCode)."""
    checked = []
    for item in _list(data, "emailAddresses"):
        address = _text(item, "emailAddress", MAX_EMAIL, required=True)
        if not EMAIL_RE.match(address):
            raise Failure(f"Invalid emailAddress {address!r}.")
        code = item.get("emailTypeCode") or "BUSINESS"
        name = config.type_name(config.EMAIL_TYPES, code)
        if name is None:
            raise Failure(f"Invalid emailTypeCode {str(code)[:30]!r}.")
        checked.append(
            {
                "emailAddress": address,
                "emailTypeCode": code,
                "emailType": name,
                "id": item.get("id") or "cont_email_input",
            }
        )
    return checked


def phones(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the checked ``phoneNumbers`` (characters, length, a known phoneTypeCode)."""
    checked = []
    for item in _list(data, "phoneNumbers"):
        number = _text(item, "phoneNumber", MAX_PHONE, required=True)
        if not PHONE_RE.match(number):
            raise Failure(f"Invalid phoneNumber {number!r}.")
        code = item.get("phoneTypeCode") or "PHONE_BUSINESS"
        name = config.type_name(config.PHONE_TYPES, code)
        if name is None:
            raise Failure(f"Invalid phoneTypeCode {str(code)[:30]!r}.")
        checked.append(
            {
                "phoneNumber": number,
                "phoneTypeCode": code,
                "phoneType": name,
                "id": item.get("id") or "cust_phone_input",
            }
        )
    return checked


def addresses(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the checked ``addresses`` (each text part at most MAX_TEXT characters)."""
    checked = []
    for item in _list(data, "addresses"):
        for key, value in item.items():
            if isinstance(value, str) and len(value) > MAX_TEXT:
                raise Failure(f"addresses.{key} is too long (at most {MAX_TEXT} characters).")
        checked.append(dict(item))
    return checked


def status(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``statusId``/``statusName`` for the status named by id (or by name)."""
    status_id = _id(data, "statusId")
    if status_id is None:
        wanted = data.get("statusName") or ""
        match = [s for s in config.STATUSES if s["statusName"] == wanted]
        if not match:
            raise Failure(f"Invalid statusName {str(wanted)[:40]!r}.")
        status_id = match[0]["statusId"]
    name = config.status_name(status_id)
    if name is None:
        raise Failure(f"Invalid statusId {status_id}.")
    return {"statusId": status_id, "statusName": name}


def category(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``customerCategoryId``/``customerCategory`` (both empty clears the category)."""
    category_id = _id(data, "customerCategoryId")
    if category_id is None:
        if data.get("customerCategory"):
            raise Failure("customerCategoryId is required with customerCategory.")
        return {"customerCategoryId": None, "customerCategory": ""}
    name = config.category_name(category_id)
    if name is None:
        raise Failure(f"Invalid customerCategoryId {category_id}.")
    return {"customerCategoryId": category_id, "customerCategory": name}


def attribute(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return the stored fields that attribute ``name`` of ``data`` sets, checked."""
    if name in ("statusId", "statusName"):
        return status(data)
    if name in ("customerCategoryId", "customerCategory"):
        return category(data)
    if name == "customerName":
        return {name: _text(data, name, MAX_NAME, required=True)}
    if name == "customerNumber":
        return {name: _text(data, name, ASSUMPTIONS.max_customer_number, required=True)}
    if name == "description":
        return {name: _text(data, name, MAX_DESCRIPTION)}
    if name == "emailAddresses":
        return {name: emails(data)}
    if name == "phoneNumbers":
        return {name: phones(data)}
    if name == "addresses":
        return {name: addresses(data)}
    return {name: _text(data, name, MAX_TEXT)}


def new_customer(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stored fields of a customer to create from ``customerData``."""
    if data.get("customerId") not in (None, ""):
        raise Failure("customerId must be empty when creating a customer.")
    fields: dict[str, Any] = {"customerName": _text(data, "customerName", MAX_NAME, required=True)}
    number = _text(data, "customerNumber", ASSUMPTIONS.max_customer_number)
    if number and number != AUTO_NUMBER:
        fields["customerNumber"] = number
    has_status = data.get("statusId") not in (None, "") or data.get("statusName")
    fields.update(status(data) if has_status else status({"statusId": config.DEFAULT_STATUS_ID}))
    fields.update(category(data))
    for name in ("description", "emailAddresses", "phoneNumbers", "addresses", *TEXT_ATTRIBUTES):
        if name in data:
            fields.update(attribute(data, name))
    return fields


def attribute_names(params: Mapping[str, str]) -> tuple[list[str], str]:
    """Return the attribute names of an update and which parameter carried them.

    The seed document's URL template says ``attributeNames``, its sample ``attributeName``:
    both are accepted (``attributeName`` first) and the one used is reported.
    """
    used = "attributeName" if params.get("attributeName") else "attributeNames"
    names = json_param(params, used, expected=list, required=True)
    if not names or not all(isinstance(name, str) for name in names):
        raise Failure(f"Invalid {used}: expected a non-empty list of attribute names.")
    for name in names:
        if name not in UPDATABLE:
            raise Failure(f"Invalid attribute name {name[:40]!r}.")
    return names, used
