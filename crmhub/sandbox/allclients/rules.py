"""What the simulated AllClients checks in a request, read from the vendor documents.

The documents give the rules (numeric account id, max lengths that trim instead of failing,
identify methods, the start time format and zone); they do not give the error texts except
"Authentication failed": the others are this simulator's assumptions (``assumptions.py``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from crmhub.sandbox.allclients.assumptions import error_text

AUTH_FAILED = "Authentication failed"
#: Documented max lengths: longer values are trimmed silently, never refused.
MAX_LENGTHS = {"identifymethod": 1, "identifyvalue": 75, "url": 255, "label": 50}
#: RunActionSet's ``startdatetime`` is "server time, which is US Central Time" (documented),
#: whatever the account's own time zone.
SERVER_TIME_ZONE = ZoneInfo("America/Chicago")
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: ``M/D/YYYY h:mm AM/PM`` (the document prints ``MM/DD/YYYY hh:mm AM/PM`` and examples
#: without leading zeros; both are accepted).
_START = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])")


class VendorError(Exception):
    """A request the vendor refuses; answered as ``<results><error>text</error></results>``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def refuse(key: str, **values: object) -> VendorError:
    """Return the ``VendorError`` of assumed error text ``key``."""
    return VendorError(error_text(key, **values))


def authenticate(fields: Mapping[str, str], credentials: Mapping[str, str]) -> None:
    """Raise ``VendorError("Authentication failed")`` unless account id and key match."""
    account_id = fields.get("accountid", "").strip()
    api_key = fields.get("apikey", "")
    expected_id = credentials.get("account_id", "")
    expected_key = credentials.get("api_key", "")
    if not (_DIGITS.fullmatch(account_id) and expected_id and expected_key):
        raise VendorError(AUTH_FAILED)
    same_id = int(account_id) == int(expected_id)
    same_key = hmac.compare_digest(api_key.encode(), expected_key.encode())
    if not (same_id and same_key):
        raise VendorError(AUTH_FAILED)


def check_fields(
    fields: Mapping[str, str], known: frozenset[str], unsupported: frozenset[str] = frozenset()
) -> None:
    """Refuse a field the method does not document, or documents but this simulator lacks.

    Never ignore one: an ignored filter would answer every contact, and a misspelt field
    would pass unseen.
    """
    for name in fields:
        if name in unsupported:
            raise refuse("unsupported_filter", name=name[:40])
        if name not in known:
            raise refuse("unknown_field", name=name[:40])


def trim(fields: Mapping[str, str]) -> dict[str, str]:
    """Return ``fields`` with over-long values cut to their documented max length."""
    return {
        name: value[: MAX_LENGTHS[name]] if name in MAX_LENGTHS else value
        for name, value in fields.items()
    }


def number(fields: Mapping[str, str], name: str, *, default: int | None = None) -> int | None:
    """Return the numeric field ``name`` (``default`` when blank); refuse anything else."""
    value = fields.get(name, "").strip()
    if not value:
        return default
    if not _DIGITS.fullmatch(value):
        raise refuse("not_numeric", name=name)
    return int(value)


def is_email(value: str) -> bool:
    """Return whether ``value`` looks like an email address."""
    return bool(_EMAIL.fullmatch(value.strip()))


def start_time(value: str) -> datetime:
    """Return ``startdatetime`` (``M/D/YYYY h:mm AM/PM``, US Central) in UTC."""
    match = _START.fullmatch(value.strip())
    if not match:
        raise refuse("invalid_start")
    month, day, year, hour, minute, half = match.groups()
    hour_24 = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
    if not 1 <= int(hour) <= 12:
        raise refuse("invalid_start")
    try:
        local = datetime(
            int(year), int(month), int(day), hour_24, int(minute), tzinfo=SERVER_TIME_ZONE
        )
    except ValueError:
        raise refuse("invalid_start") from None
    return local.astimezone(UTC)
