"""Validation of the AllClients operations' parameters, before anything is sent.

The vendor trims over-long fields silently instead of refusing them, so the documented
max lengths are checked here and reported to staff: nothing is ever cut without a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from crmhub.connectors.errors import InvalidParams

#: Documented max lengths (RunActionSet, AddContactLink).
MAX_IDENTIFY_VALUE = 75
MAX_URL = 255
MAX_LABEL = 50
IDENTIFY_METHODS = {1: "contact id", 2: "primary email", 3: "email or other email"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
REQUIRED = "This field is required."

Cleaner = Callable[[dict[str, Any], dict[str, list[str]]], dict[str, Any]]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _whole(value: Any) -> int | None:
    """Return ``value`` as a non-negative whole number, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _contact_id(params: dict[str, Any], errors: dict[str, list[str]]) -> str:
    value = params.get("contact_remote_id")
    if _blank(value):
        errors["contact_remote_id"] = [REQUIRED]
        return ""
    number = _whole(value)
    if number is None or number == 0:
        errors["contact_remote_id"] = ["An AllClients contact id is a positive whole number."]
        return ""
    return str(number)


def _max_length(name: str, value: str, limit: int, errors: dict[str, list[str]]) -> None:
    if len(value) > limit:
        errors.setdefault(name, []).append(
            f"At most {limit} characters (this one has {len(value)}); "
            "AllClients would cut the rest silently."
        )


def _start_at(value: Any, errors: dict[str, list[str]]) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            errors["start_at"] = ["Give an ISO-8601 date and time, e.g. 2025-04-15T10:00-05:00."]
            return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors["start_at"] = ["Give the time zone offset too, e.g. 2025-04-15T10:00-05:00."]
        return None
    return moment.isoformat()


def _identify(
    params: dict[str, Any], contact_id: str, errors: dict[str, list[str]]
) -> tuple[int, str]:
    raw_method = params.get("identify_method")
    method = 1 if _blank(raw_method) else _whole(raw_method)
    if method not in IDENTIFY_METHODS:
        errors["identify_method"] = ["Choose 1 (contact id), 2 (primary email) or 3 (any email)."]
        return 1, contact_id
    value = _text(params.get("identify_value"))
    if method == 1:
        if value and value != contact_id:
            errors["identify_value"] = [
                "With identify method 1 the contact is identified by its id; leave this empty."
            ]
        return 1, contact_id
    if not value:
        errors["identify_value"] = ["Give the contact's email address (identify method 2 or 3)."]
    elif not _EMAIL.fullmatch(value):
        errors["identify_value"] = ["Enter a valid email address."]
    else:
        _max_length("identify_value", value, MAX_IDENTIFY_VALUE, errors)
    return method, value


def _action_set(params: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    raw_id, name = params.get("action_set_id"), _text(params.get("action_set_name"))
    if _blank(raw_id) == (not name):
        message = "Give either an action set id or an action set name (exactly one)."
        errors["action_set_id"] = [message]
        errors["action_set_name"] = [message]
        return {}
    if name:
        return {"action_set_name": name}
    action_set_id = _whole(raw_id)
    if not action_set_id:
        errors["action_set_id"] = ["An action set id is a positive whole number."]
        return {}
    return {"action_set_id": action_set_id}


def clean_run_action_set(params: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Return the cleaned parameters of ``run_action_set``."""
    contact_id = _contact_id(params, errors)
    method, value = _identify(params, contact_id, errors)
    cleaned: dict[str, Any] = {
        "contact_remote_id": contact_id,
        "identify_method": method,
        "identify_value": value,
        **_action_set(params, errors),
    }
    if not _blank(params.get("team_member_id")):
        team_member_id = _whole(params.get("team_member_id"))
        if team_member_id is None:
            errors["team_member_id"] = ["A team member id is a whole number (0: account owner)."]
        cleaned["team_member_id"] = team_member_id
    start_at = _start_at(params.get("start_at"), errors)
    if start_at is not None:
        cleaned["start_at"] = start_at
    return cleaned


def _url(value: str, errors: dict[str, list[str]]) -> str:
    if not value:
        errors["url"] = [REQUIRED]
        return ""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        errors["url"] = ["Enter a full web address starting with http:// or https://."]
        return value
    if _CONTROL.search(value):
        errors["url"] = ["A web address cannot contain spaces or control characters."]
        return value
    url = parts.scheme.lower() + value[len(parts.scheme) :]
    _max_length("url", url, MAX_URL, errors)
    return url


def clean_add_contact_link(params: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Return the cleaned parameters of ``add_contact_link``."""
    contact_id = _contact_id(params, errors)
    url = _url(_text(params.get("url")), errors)
    label = _text(params.get("label"))
    if not label:
        errors["label"] = [REQUIRED]
    _max_length("label", label, MAX_LABEL, errors)
    return {"contact_remote_id": contact_id, "url": url, "label": label}


def clean_contact_only(params: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Return the cleaned parameters of a read about one contact."""
    return {"contact_remote_id": _contact_id(params, errors)}


def clean_nothing(params: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Return no parameters (an account-wide read)."""
    return {}


CLEANERS: dict[str, tuple[Cleaner, frozenset[str]]] = {
    "run_action_set": (
        clean_run_action_set,
        frozenset(
            {
                "contact_remote_id",
                "identify_method",
                "identify_value",
                "action_set_id",
                "action_set_name",
                "team_member_id",
                "start_at",
            }
        ),
    ),
    "add_contact_link": (clean_add_contact_link, frozenset({"contact_remote_id", "url", "label"})),
    "get_contact": (clean_contact_only, frozenset({"contact_remote_id"})),
    "get_contact_links": (clean_contact_only, frozenset({"contact_remote_id"})),
    # An account-wide read: a contact given by the caller is ignored.
    "get_categories": (clean_nothing, frozenset({"contact_remote_id"})),
}


def clean(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return ``params`` of ``operation`` cleaned; raise ``InvalidParams`` naming each field."""
    cleaner, allowed = CLEANERS[operation]
    errors: dict[str, list[str]] = {
        name: ["Unknown parameter."] for name in sorted(set(params) - allowed)
    }
    cleaned = cleaner(params, errors)
    if errors:
        raise InvalidParams(errors)
    return cleaned
