"""Validate the parameters of every Apptivo operation before anything is queued or sent.

Offline checks only (forms call them in a web request): shapes, formats and lengths. That
a status or category id exists is checked against getConfigData when the call is made.
A ``None`` value means "not given". In ``update_customer`` an empty ``email``, ``phone``,
``description`` or ``category_id`` clears that attribute; a name or a status cannot be
cleared. Length limits are assumptions (the documents give none), mirrored in the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from crmhub.connectors.errors import InvalidParams

MAX_NAME = 100
MAX_EMAIL = 100
MAX_PHONE = 30
MAX_DESCRIPTION = 4000
MAX_SEARCH_TEXT = 100
MAX_SEARCH_LIMIT = 100
DEFAULT_SEARCH_LIMIT = 25
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+().\-\s/x]+$")
#: The customer attributes an update can change (also the order they are sent in).
CHANGEABLE = ("customer_name", "status_id", "category_id", "email", "phone", "description")

Errors = dict[str, list[str]]


def _text(value: Any, name: str, errors: Errors, *, limit: int) -> str | None:
    if not isinstance(value, str):
        errors.setdefault(name, []).append("Must be text.")
        return None
    value = value.strip()
    if len(value) > limit:
        errors.setdefault(name, []).append(f"At most {limit} characters (got {len(value)}).")
        return None
    return value


def _positive_int(value: Any, name: str, errors: Errors) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.setdefault(name, []).append("Must be a whole number.")
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        errors.setdefault(name, []).append("Must be a positive whole number.")
        return None
    return int(text)


def _customer_id(params: dict[str, Any], errors: Errors) -> str | None:
    value = params.get("contact_remote_id")
    if value in (None, ""):
        errors.setdefault("contact_remote_id", []).append("This field is required.")
        return None
    number = _positive_int(value, "contact_remote_id", errors)
    return None if number is None else str(number)


def _email(value: Any, errors: Errors) -> str | None:
    email = _text(value, "email", errors, limit=MAX_EMAIL)
    if email and not EMAIL_RE.match(email):
        errors.setdefault("email", []).append("Enter a valid email address.")
        return None
    return email


def _phone(value: Any, errors: Errors) -> str | None:
    phone = _text(value, "phone", errors, limit=MAX_PHONE)
    if phone and (not PHONE_RE.match(phone) or not any(ch.isdigit() for ch in phone)):
        errors.setdefault("phone", []).append(
            "Use digits, spaces and + ( ) - . / x only, e.g. (312) 555-0100."
        )
        return None
    return phone


def _attributes(params: dict[str, Any], errors: Errors, *, update: bool) -> dict[str, Any]:
    """Return the cleaned customer attributes given; "" clears (update) or is dropped."""
    cleaned: dict[str, Any] = {}
    for name in CHANGEABLE:
        value = params.get(name)
        if value is None or (value == "" and not update):
            continue
        if name == "customer_name":
            text = _text(value, name, errors, limit=MAX_NAME)
            if text == "":
                errors.setdefault(name, []).append("This field is required.")
            elif text is not None:
                cleaned[name] = text
        elif name == "status_id":
            if value != "":
                number = _positive_int(value, name, errors)
                if number is not None:
                    cleaned[name] = number
        elif name == "category_id":
            number = None if value == "" else _positive_int(value, name, errors)
            if value == "" or number is not None:
                cleaned[name] = "" if value == "" else number
        elif name in ("email", "phone", "description"):
            check: Callable[[Any, Errors], str | None] = {
                "email": _email,
                "phone": _phone,
                "description": lambda v, e: _text(v, "description", e, limit=MAX_DESCRIPTION),
            }[name]
            text = check(value, errors)
            if text is not None and (text or update):
                cleaned[name] = text
    return cleaned


def _unknown(params: dict[str, Any], allowed: tuple[str, ...], errors: Errors) -> None:
    for name in params:
        if name not in allowed:
            errors.setdefault(name, []).append("Unknown parameter.")


def clean_create(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    _unknown(params, CHANGEABLE, errors)
    cleaned = _attributes(params, errors, update=False)
    if params.get("customer_name") in (None, ""):
        errors.setdefault("customer_name", []).append("This field is required.")
    return cleaned, errors


def clean_update(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    _unknown(params, ("contact_remote_id", *CHANGEABLE), errors)
    customer_id = _customer_id(params, errors)
    cleaned = _attributes(params, errors, update=True)
    if not cleaned and not errors:
        errors["__all__"] = ["Give at least one field to change."]
    return {"contact_remote_id": customer_id, **cleaned}, errors


def clean_delete(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    _unknown(params, ("contact_remote_id",), errors)
    return {"contact_remote_id": _customer_id(params, errors)}, errors


def clean_get_config(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    _unknown(params, (), errors)
    return {}, errors


def clean_search(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    _unknown(params, ("search_text", "limit"), errors)
    text = params.get("search_text")
    cleaned: dict[str, Any] = {"limit": DEFAULT_SEARCH_LIMIT}
    if text in (None, "") or (isinstance(text, str) and not text.strip()):
        errors.setdefault("search_text", []).append("This field is required.")
    else:
        value = _text(text, "search_text", errors, limit=MAX_SEARCH_TEXT)
        if value:
            cleaned["search_text"] = value
    if params.get("limit") not in (None, ""):
        limit = _positive_int(params["limit"], "limit", errors)
        if limit is not None and limit > MAX_SEARCH_LIMIT:
            errors.setdefault("limit", []).append(f"At most {MAX_SEARCH_LIMIT}.")
        elif limit is not None:
            cleaned["limit"] = limit
    return cleaned, errors


CLEANERS: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], Errors]]] = {
    "create_customer": clean_create,
    "update_customer": clean_update,
    "delete_customer": clean_delete,
    "get_config": clean_get_config,
    "search_customers": clean_search,
}


def clean(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return ``params`` of ``operation`` cleaned; raise ``InvalidParams`` listing every error."""
    given = {name: value for name, value in params.items() if value is not None}
    cleaned, errors = CLEANERS[operation](given)
    if errors:
        raise InvalidParams(errors)
    return cleaned
