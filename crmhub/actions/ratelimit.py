"""The per-connection rate limit that every worker shares.

A token bucket kept as its "theoretical arrival time" (GCRA): taking a slot moves the
connection's next free time one interval (1 / rate) later, and a worker may send once that
time, less the burst tolerance, has come. A slot closer than ``max_wait`` is reserved and
the worker sleeps until it; a farther one is not reserved and the action is put back for
later. A connection's ``daily_quota`` counts slots per UTC day; once it is used up, work
pauses until midnight UTC (a pause, not a failure).

The state lives in the database (``RateBucket``, one conditional update per slot, works on
SQLite and PostgreSQL) or, when the Celery broker is Redis, in Redis (one Lua script).
One slot is taken per action, not per HTTP request of that action (assumption: a login
call that precedes the action is not counted).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import F, Q

from crmhub.actions.models import RateBucket
from crmhub.connections.models import Connection

#: Waits shorter than this do not mark the connection "throttled".
THROTTLE_NOTE_SECONDS = 1.0
_DB_TRIES = 50


@dataclass(frozen=True)
class Slot:
    """The answer to "may this connection send now?".

    ``granted``: a slot is reserved; sleep ``wait`` seconds, then send. Otherwise nothing is
    reserved and the caller should try again in ``wait`` seconds (``quota``: the daily
    quota is used up and ``wait`` runs to midnight UTC).
    """

    granted: bool
    wait: float
    quota: bool = False


@dataclass(frozen=True)
class Limits:
    interval: float  # seconds between slots (1 / rate)
    tolerance: float  # how far ahead of its slot a request may go (the burst)
    quota: int | None
    max_wait: float

    @classmethod
    def of(cls, connection: Connection, *, max_wait: float) -> Limits:
        rate = max(float(connection.rate_limit or 0), 0.001)
        burst = max(1.0, rate)  # one second's worth of requests may go back to back
        return cls(
            interval=1.0 / rate,
            tolerance=(burst - 1.0) / rate,
            quota=connection.daily_quota or None,
            max_wait=max_wait,
        )


def seconds_to_midnight(now: float) -> float:
    """Return the seconds from ``now`` (Unix time) to the next midnight UTC."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - moment).total_seconds()


def decide(
    next_at: float, day: date | None, day_count: int, *, now: float, limits: Limits
) -> tuple[Slot, tuple[float, date, int] | None]:
    """Return the slot for a request at ``now`` and the bucket's new state (None: unchanged).

    The pure rule shared by both backends (the Redis script mirrors it).
    """
    today = datetime.fromtimestamp(now, tz=UTC).date()
    used = day_count if day == today else 0
    if limits.quota is not None and used >= limits.quota:
        return Slot(granted=False, wait=seconds_to_midnight(now), quota=True), None
    tat = max(next_at, now)
    wait = max(0.0, tat - limits.tolerance - now)
    if wait > limits.max_wait:
        return Slot(granted=False, wait=wait), None
    return Slot(granted=True, wait=wait), (tat + limits.interval, today, used + 1)


# -- database backend ----------------------------------------------------------------------
def _take_database(connection: Connection, limits: Limits) -> Slot:
    for _ in range(_DB_TRIES):
        bucket, _ = RateBucket.objects.get_or_create(connection_id=connection.pk)
        slot, state = decide(
            bucket.next_at, bucket.day, bucket.day_count, now=time.time(), limits=limits
        )
        if state is None:
            return slot
        next_at, day, day_count = state
        taken = RateBucket.objects.filter(pk=bucket.pk, version=bucket.version).update(
            next_at=next_at, day=day, day_count=day_count, version=F("version") + 1
        )
        if taken:
            return slot
    # Heavy contention: behave as if the bucket were full for one interval.
    return Slot(granted=False, wait=limits.interval)


# -- Redis backend -------------------------------------------------------------------------
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local to_midnight = tonumber(ARGV[5])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if quota > 0 and used >= quota then
  return {0, tostring(to_midnight), 1}
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then
  return {0, tostring(wait), 0}
end
redis.call('SET', KEYS[1], tostring(tat + interval), 'EX',
  math.ceil(tat + interval - now + tolerance) + 60)
if quota > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], math.ceil(to_midnight) + 3600)
end
return {1, tostring(wait), 0}
"""


@cache
def _redis_script(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url).register_script(_LUA)


def _take_redis(connection: Connection, limits: Limits, url: str) -> Slot:
    now = time.time()
    today = datetime.fromtimestamp(now, tz=UTC).date().isoformat()
    keys = [f"crmhub:rate:{connection.uid}", f"crmhub:quota:{connection.uid}:{today}"]
    args = [limits.interval, limits.tolerance, limits.quota or 0, limits.max_wait]
    granted, wait, quota = _redis_script(url)(keys=keys, args=[*args, seconds_to_midnight(now)])
    return Slot(granted=bool(granted), wait=float(wait), quota=bool(quota))


def backend() -> str:
    """Return ``redis`` when the Celery broker is Redis, else ``database``."""
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    return "redis" if url.startswith(("redis://", "rediss://")) else "database"


def slot_take(*, connection: Connection, max_wait: float | None = None) -> Slot:
    """Return a slot of ``connection``'s rate limit (reserved only when ``granted``)."""
    limits = Limits.of(
        connection,
        max_wait=settings.CRMHUB_RATE_MAX_WAIT_SECONDS if max_wait is None else max_wait,
    )
    if backend() == "redis":
        return _take_redis(connection, limits, settings.CELERY_BROKER_URL)
    return _take_database(connection, limits)


def throttle_note(*, connection: Connection, wait: float) -> None:
    """Record that ``connection`` is throttled for ``wait`` seconds (for the console).

    Written only when the wait is worth showing and moves the time later by a second or
    more, so a paced bulk run does not write on every slot.
    """
    if wait < THROTTLE_NOTE_SECONDS:
        return
    until = datetime.now(tz=UTC) + timedelta(seconds=math.ceil(wait))
    Connection.objects.filter(pk=connection.pk).filter(
        Q(throttled_until__isnull=True) | Q(throttled_until__lt=until - timedelta(seconds=1))
    ).update(throttled_until=until)
