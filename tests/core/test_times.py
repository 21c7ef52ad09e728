"""One way to write a moment: the reader's zone, the zone shown, "just now" near now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmhub.core.times import as_moment, moment_text, relative_text, zone_of

NOON = datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)


def test_a_moment_is_written_in_the_active_zone_with_its_name():
    assert moment_text(NOON) == "2026-07-01 12:00:05 UTC"
    with timezone.override(ZoneInfo("Europe/Paris")):
        assert moment_text(NOON) == "2026-07-01 14:00:05 CEST"
    with timezone.override(ZoneInfo("America/Chicago")):
        assert moment_text(NOON.replace(month=1)) == "2026-01-01 06:00:05 CST"


def test_text_from_a_crm_is_read_as_iso_and_utc_when_it_has_no_offset():
    assert as_moment("2026-07-01T12:00:05+00:00") == NOON
    assert as_moment("2026-07-01T12:00:05Z") == NOON
    assert as_moment("2026-07-01T12:00:05") == NOON
    assert as_moment("not a date") is None
    assert as_moment(None) is None
    assert moment_text("") == ""


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=44), "just now"),
        (timedelta(seconds=50), "1 minute ago"),
        (timedelta(minutes=5), "5 minutes ago"),
        (timedelta(minutes=59, seconds=40), "1 hour ago"),
        (timedelta(hours=3), "3 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=12), "12 days ago"),
        (-timedelta(minutes=10), "in 10 minutes"),
    ],
)
def test_relative_times_never_say_zero(before: timedelta, expected: str):
    assert relative_text(NOON - before, now=NOON) == expected


def test_a_relative_time_far_back_is_the_moment_itself():
    assert relative_text(NOON - timedelta(days=90), now=NOON) == "2026-04-02 12:00:05 UTC"


def test_only_known_zones_are_zones():
    assert zone_of("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert zone_of("") is None
    assert zone_of("Mars/Olympus_Mons") is None
    assert zone_of("../../etc/passwd") is None
