"""The console's one way to write a moment: in the reader's zone, the zone always shown.

``moment_text`` gives the absolute form ("2026-03-04 14:05:07 CET"), ``relative_text``
the relative one ("just now", "5 minutes ago", "in 2 hours"), both in the zone active for
the request (the user's profile, else the site's ``TIME_ZONE``). Text from a CRM is read
as ISO 8601; one without an offset is taken as UTC (as the connectors write them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.utils import timezone

#: The absolute form, everywhere (strftime): date, time to the second, the zone's abbreviation.
FORMAT = "%Y-%m-%d %H:%M:%S %Z"
#: Closer to now than this reads "just now" (never "0 minutes ago").
JUST_NOW = timedelta(seconds=45)
#: Further from now than this, the relative form gives way to the absolute one.
RELATIVE_LIMIT = timedelta(days=30)


def as_moment(value: Any) -> datetime | None:
    """Return ``value`` (a datetime or ISO text) as an aware datetime, or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def zone_of(name: str) -> ZoneInfo | None:
    """Return the zone called ``name`` (an IANA name), or None if there is no such zone."""
    if not name or name not in zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_NAMES: frozenset[str] = frozenset()


def zone_names() -> frozenset[str]:
    """Return every IANA zone name this machine knows (read once)."""
    global _NAMES
    if not _NAMES:
        _NAMES = frozenset(available_timezones())
    return _NAMES


def moment_text(value: Any) -> str:
    """Return ``value`` in the active zone, as ``FORMAT`` ("" if it is not a moment)."""
    moment = as_moment(value)
    if moment is None:
        return ""
    return timezone.localtime(moment).strftime(FORMAT)


def _amount(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        count, unit = max(minutes, 1), "minute"
    elif seconds < 86_400 - 1_800:
        count, unit = round(seconds / 3_600), "hour"
    else:
        count, unit = max(round(seconds / 86_400), 1), "day"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def relative_text(value: Any, *, now: datetime | None = None) -> str:
    """Return how long ago (or how soon) ``value`` is: "just now", "3 minutes ago", "in 2
    hours"; past ``RELATIVE_LIMIT``, the absolute ``moment_text``."""
    moment = as_moment(value)
    if moment is None:
        return ""
    delta = (now or timezone.now()) - moment
    seconds = abs(delta.total_seconds())
    if seconds < JUST_NOW.total_seconds():
        return "just now"
    if seconds > RELATIVE_LIMIT.total_seconds():
        return moment_text(moment)
    amount = _amount(seconds)
    return f"{amount} ago" if delta.total_seconds() > 0 else f"in {amount}"
