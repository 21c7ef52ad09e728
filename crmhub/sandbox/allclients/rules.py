"""What the simulated AllClients checks in a request, read from the vendor documents.

The documents give the rules (numeric account id, max lengths that trim instead of failing,
identify methods, the start time format); they do not give the error texts except
"Authentication failed", so the other texts here are this simulator's assumption.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

AUTH_FAILED = "Authentication failed"
#: Documented max lengths: longer values are trimmed silently, never refused.
MAX_LENGTHS = {"identifyvalue": 75, "url": 255, "label": 50}
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
        raise VendorError(f"{name} must be numeric")
    return int(value)


def is_email(value: str) -> bool:
    """Return whether ``value`` looks like an email address."""
    return bool(_EMAIL.fullmatch(value.strip()))


def start_time(value: str, zone: ZoneInfo) -> datetime:
    """Return ``startdatetime`` (``M/D/YYYY h:mm AM/PM`` in the account's zone) in UTC."""
    match = _START.fullmatch(value.strip())
    if not match:
        raise VendorError("Invalid startdatetime")
    month, day, year, hour, minute, half = match.groups()
    hour_24 = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
    if not 1 <= int(hour) <= 12:
        raise VendorError("Invalid startdatetime")
    try:
        local = datetime(int(year), int(month), int(day), hour_24, int(minute), tzinfo=zone)
    except ValueError:
        raise VendorError("Invalid startdatetime") from None
    return local.astimezone(UTC)
