"""The per-connection rate limit that every worker shares.

A token bucket kept as its "theoretical arrival time" (GCRA): taking a slot moves the
connection's next free time one interval (1 / rate) later, and a worker may send once that
time, less the burst tolerance, has come. A slot closer than ``max_wait`` is reserved and
the worker sleeps until it; a farther one is not reserved and the action is put back for
later. A connection's ``daily_quota`` counts slots per UTC day; once it is used up, work
pauses until midnight UTC (a pause, not a failure).

The state lives in the database (``RateBucket``, one conditional update per slot, works on
SQLite and PostgreSQL) or in Redis (one Lua script): Redis when the Celery broker is Redis,
unless ``CRMHUB_RATE_LIMIT_STORE`` says otherwise. An action takes one slot, not one per
HTTP request of it (assumption: a login call that precedes the action is not counted);
a sync or a connection check takes one per HTTP request (``RequestPacer``).

A rate-limit answer (429, or 503 with ``Retry-After``) pauses the connection's bucket for
every worker (``bucket_pause``): no slot falls inside the pause, and a worker that
reserved one before the pause looks again before it sends (``pause_remaining``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import F, Q

from crmhub.actions.models import RateBucket
from crmhub.connections.models import Connection
from crmhub.connectors.errors import RateLimited
from crmhub.core import rows

#: Waits shorter than this do not mark the connection "throttled".
THROTTLE_NOTE_SECONDS = 1.0
_DB_TRIES = 50
#: The longest a sync or a check sleeps at once waiting for a slot (then it asks again), and
#: the most slots it reserves at once.
PACER_STEP_SECONDS = 5.0
PACER_MAX_AHEAD = 100


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
    next_at: float,
    day: date | None,
    day_count: int,
    *,
    now: float,
    limits: Limits,
    paused_until: float = 0.0,
) -> tuple[Slot, tuple[float, date, int] | None]:
    """Return the slot for a request at ``now`` and the bucket's new state (None: unchanged).

    The pure rule shared by both backends (the Redis script mirrors it). No slot falls
    before ``paused_until`` (a rate-limit answer's pause), and none is a burst after it.
    """
    today = datetime.fromtimestamp(now, tz=UTC).date()
    used = day_count if day == today else 0
    if limits.quota is not None and used >= limits.quota:
        return Slot(granted=False, wait=seconds_to_midnight(now), quota=True), None
    tat = max(next_at, now, paused_until + limits.tolerance)
    wait = max(0.0, tat - limits.tolerance - now)
    if wait > limits.max_wait:
        return Slot(granted=False, wait=wait), None
    return Slot(granted=True, wait=wait), (tat + limits.interval, today, used + 1)


@dataclass(frozen=True)
class Slots:
    """Several slots taken at once: the wait before each (seconds from now, ascending).

    None granted: ``retry_in`` says when to ask again (``quota``: the daily quota is used
    up and it runs to midnight UTC).
    """

    waits: tuple[float, ...]
    retry_in: float = 0.0
    quota: bool = False


def decide_many(
    next_at: float,
    day: date | None,
    day_count: int,
    *,
    now: float,
    limits: Limits,
    count: int,
    paused_until: float = 0.0,
) -> tuple[Slots, tuple[float, date, int] | None]:
    """Return up to ``count`` consecutive slots (``decide`` for each, stopping at the first
    refused) and the bucket's new state (None: unchanged)."""
    waits: list[float] = []
    state: tuple[float, date | None, int] = (next_at, day, day_count)
    new: tuple[float, date, int] | None = None
    for _ in range(max(1, count)):
        slot, taken = decide(*state, now=now, limits=limits, paused_until=paused_until)
        if taken is None:
            if not waits:
                return Slots((), retry_in=slot.wait, quota=slot.quota), None
            break
        waits.append(slot.wait)
        state = new = taken
    return Slots(tuple(waits)), new


# -- database backend ----------------------------------------------------------------------
# Every action reads and writes its connection's bucket, so both statements are plain SQL
# (``crmhub.core.rows``): besides the CPU, the shorter the time between the read and the
# write, the fewer takes lose the race to another worker and read again.
def _bucket_read(connection_id: int) -> tuple[float, date | None, int, float, int] | None:
    """Return the bucket's (next_at, day, day_count, paused_until, version), or None."""
    c = rows.columns(RateBucket)
    sql = (
        f"SELECT {c['next_at']}, {c['day']}, {c['day_count']}, {c['paused_until']}, "  # noqa: S608
        f"{c['version']} FROM {rows.table(RateBucket)} WHERE {c['connection']} = %s"
    )
    with rows.database(RateBucket).cursor() as cursor:
        cursor.execute(sql, [connection_id])
        row = cursor.fetchone()
    if row is None:
        return None
    next_at, day, day_count, paused_until, version = row
    day = RateBucket._meta.get_field("day").to_python(day)  # SQLite answers text
    return float(next_at), day, int(day_count), float(paused_until), int(version)


def _take_database(connection: Connection, limits: Limits, count: int) -> Slots:
    c = rows.columns(RateBucket)
    for _ in range(_DB_TRIES):
        bucket = _bucket_read(connection.pk)
        if bucket is None:
            RateBucket.objects.get_or_create(connection_id=connection.pk)
            continue
        next_at, day, day_count, paused_until, version = bucket
        slots, state = decide_many(
            next_at,
            day,
            day_count,
            now=time.time(),
            limits=limits,
            count=count,
            paused_until=paused_until,
        )
        if state is None:
            return slots
        next_at, day, day_count = state
        taken = rows.rows_update(
            RateBucket,
            values={
                "next_at": next_at,
                "day": day,
                "day_count": day_count,
                "version": rows.Sql(f"{c['version']} + 1"),
            },
            where=f"{c['connection']} = %s AND {c['version']} = %s",
            params=[connection.pk, version],
        )
        if taken:
            return slots
    # Heavy contention: behave as if the bucket were full for one interval.
    return Slots((), retry_in=limits.interval)


def _pause_database(connection: Connection, seconds: float) -> float:
    until = time.time() + seconds
    RateBucket.objects.get_or_create(connection_id=connection.pk)
    RateBucket.objects.filter(connection_id=connection.pk, paused_until__lt=until).update(
        paused_until=until, version=F("version") + 1
    )
    return _paused_database(connection)


def _paused_database(connection: Connection) -> float:
    bucket = _bucket_read(connection.pk)
    until = bucket[3] if bucket is not None else 0.0
    return max(0.0, until - time.time())


# -- Redis backend -------------------------------------------------------------------------
_LUA_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local to_midnight = tonumber(ARGV[5])
local count = tonumber(ARGV[6])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if tat < paused + tolerance then tat = paused + tolerance end
local waits = {}
local refused = {0, '0', 0}
for i = 1, count do
  if quota > 0 and used >= quota then
    refused = {0, tostring(to_midnight), 1}
    break
  end
  local wait = tat - tolerance - now
  if wait < 0 then wait = 0 end
  if wait > max_wait then
    refused = {0, tostring(wait), 0}
    break
  end
  waits[#waits + 1] = tostring(wait)
  tat = tat + interval
  used = used + 1
end
if #waits == 0 then return refused end
redis.call('SET', KEYS[1], tostring(tat), 'EX', math.ceil(tat - now + tolerance) + 60)
if quota > 0 then
  redis.call('INCRBY', KEYS[2], #waits)
  redis.call('EXPIRE', KEYS[2], math.ceil(to_midnight) + 3600)
end
return {#waits, '0', 0, unpack(waits)}
"""
# Pause the bucket until the server's now + ARGV[1] seconds (never shortening a pause).
_LUA_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + seconds > current then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'EX', math.ceil(seconds) + 60)
  return tostring(seconds)
end
return tostring(current - now)
"""
# Return the seconds left of the bucket's pause (0 when it is not paused).
_LUA_PAUSED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > now then return tostring(current - now) end
return '0'
"""


@cache
def _redis_scripts(url: str) -> tuple[Any, Any, Any]:
    import redis

    client = redis.Redis.from_url(url)
    return (
        client.register_script(_LUA_TAKE),
        client.register_script(_LUA_PAUSE),
        client.register_script(_LUA_PAUSED),
    )


def _pause_key(connection: Connection) -> str:
    return f"crmhub:pause:{connection.uid}"


def _take_redis(connection: Connection, limits: Limits, url: str, count: int) -> Slots:
    now = time.time()
    today = datetime.fromtimestamp(now, tz=UTC).date().isoformat()
    keys = [
        f"crmhub:rate:{connection.uid}",
        f"crmhub:quota:{connection.uid}:{today}",
        _pause_key(connection),
    ]
    args = [limits.interval, limits.tolerance, limits.quota or 0, limits.max_wait]
    take = _redis_scripts(url)[0]
    granted, retry_in, quota, *waits = take(
        keys=keys, args=[*args, seconds_to_midnight(now), max(1, count)]
    )
    if not granted:
        return Slots((), retry_in=float(retry_in), quota=bool(quota))
    return Slots(tuple(float(wait) for wait in waits))


# -- either backend ------------------------------------------------------------------------
def store() -> str:
    """Return where the buckets live: a ``redis://`` URL, or ``database``.

    ``CRMHUB_RATE_LIMIT_STORE`` names it; left empty, Redis when the Celery broker is Redis
    (every worker reaches it), else the database.
    """
    chosen = str(settings.CRMHUB_RATE_LIMIT_STORE or "").strip()
    if not chosen:
        chosen = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    return chosen if chosen.startswith(("redis://", "rediss://")) else "database"


def backend() -> str:
    """Return ``redis`` when the buckets live in Redis, else ``database``."""
    return "database" if store() == "database" else "redis"


def slot_take(*, connection: Connection, max_wait: float | None = None) -> Slot:
    """Return a slot of ``connection``'s rate limit (reserved only when ``granted``)."""
    slots = slots_take(connection=connection, count=1, max_wait=max_wait)
    if not slots.waits:
        return Slot(granted=False, wait=slots.retry_in, quota=slots.quota)
    return Slot(granted=True, wait=slots.waits[0])


def slots_take(*, connection: Connection, count: int, max_wait: float | None = None) -> Slots:
    """Reserve up to ``count`` consecutive slots of ``connection``'s rate limit at once (one
    write however many; each counts towards the daily quota)."""
    limits = Limits.of(
        connection,
        max_wait=settings.CRMHUB_RATE_MAX_WAIT_SECONDS if max_wait is None else max_wait,
    )
    url = store()
    if url != "database":
        return _take_redis(connection, limits, url, count)
    return _take_database(connection, limits, count)


def bucket_pause(*, connection: Connection, seconds: float) -> float:
    """Pause ``connection``'s bucket for ``seconds`` for every worker (a rate-limit answer);
    return the seconds the pause now lasts. A longer pause already set is kept."""
    seconds = max(0.0, float(seconds))
    url = store()
    if url != "database":
        left = float(_redis_scripts(url)[1](keys=[_pause_key(connection)], args=[seconds]))
    else:
        left = _pause_database(connection, seconds)
    throttle_note(connection=connection, wait=left)
    return left


def pause_remaining(*, connection: Connection) -> float:
    """Return the seconds left of ``connection``'s pause (0 when it may send)."""
    url = store()
    if url != "database":
        return float(_redis_scripts(url)[2](keys=[_pause_key(connection)], args=[]))
    return _paused_database(connection)


def rate_limited_pause(error: RateLimited) -> float:
    """Return how long a rate-limit answer pauses the connection: its ``Retry-After``, or
    ``CRMHUB_RATE_PAUSE_SECONDS`` when it gave none."""
    if error.retry_after is not None and error.retry_after > 0:
        return float(error.retry_after)
    return float(settings.CRMHUB_RATE_PAUSE_SECONDS)


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


# -- syncs and checks: a slot per HTTP request -----------------------------------------------
class QuotaUsedUp(RateLimited):
    """The connection's daily quota is used up: nothing more is sent before midnight UTC."""

    retryable = False


class RequestPacer:
    """Pace every HTTP request of a sync or a connection check on the connection's bucket.

    Given to the connector's ``HttpClient`` (``pacer``): before each request it takes a
    slot (sleeping until it comes, and past any pause); on a rate-limit answer it pauses
    the bucket for every worker and has the same request sent again once the pause is
    over — a read, which the answer says was not carried out. Throttling adds up to
    ``max_throttle`` seconds at most (``CRMHUB_THROTTLE_MAX_SECONDS``), and a single pause
    longer than ``max_pause`` is not waited out here: the rate-limit error is raised.

    Slots are reserved ``ahead`` seconds' worth at a time (at least one), so that a fast
    sync writes the bucket once for many pages rather than once a page, while its own
    transactions hold SQLite's write lock; what is left when it ends is not used.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        max_throttle: float | None = None,
        max_pause: float | None = None,
        ahead: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = connection
        self.max_throttle = (
            settings.CRMHUB_THROTTLE_MAX_SECONDS if max_throttle is None else max_throttle
        )
        self.max_pause = self.max_throttle if max_pause is None else max_pause
        rate = max(float(connection.rate_limit or 0), 0.001)
        self.batch = max(1, min(PACER_MAX_AHEAD, int(rate * ahead)))
        self.sleep = sleep
        self._reserved: deque[float] = deque()  # monotonic times of the slots reserved
        #: Seconds waited out because of rate-limit answers, and how many there were.
        self.throttled = 0.0
        self.answers = 0
        #: Requests paced (slots used).
        self.slots = 0

    def _reserve(self) -> None:
        while not self._reserved:
            slots = slots_take(
                connection=self.connection, count=self.batch, max_wait=PACER_STEP_SECONDS
            )
            if slots.quota:
                raise QuotaUsedUp(
                    "The connection's daily quota is used up: nothing more is sent to it "
                    f"before midnight UTC (in {slots.retry_in / 3600:.1f} h).",
                    retry_after=slots.retry_in,
                )
            if not slots.waits:
                self.sleep(min(slots.retry_in, PACER_STEP_SECONDS))
                continue
            now = time.monotonic()
            self._reserved.extend(now + wait for wait in slots.waits)

    def before_request(self) -> None:
        """Return once this request may be sent; raise ``QuotaUsedUp`` past the quota."""
        while True:
            self._reserve()
            delay = self._reserved.popleft() - time.monotonic()
            if delay > 0:
                self.sleep(delay)
            paused = pause_remaining(connection=self.connection)
            if paused <= 0:
                self.slots += 1
                return
            self._reserved.clear()  # they fall inside the pause
            self.sleep(min(paused, PACER_STEP_SECONDS))

    def rate_limited(self, error: RateLimited) -> bool:
        """Pause the bucket after ``error``; return whether to send the request again."""
        pause = rate_limited_pause(error)
        self.answers += 1
        self._reserved.clear()
        bucket_pause(connection=self.connection, seconds=pause)
        if pause > self.max_pause or self.throttled + pause > self.max_throttle:
            return False
        self.throttled += pause
        return True
