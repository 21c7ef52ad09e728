from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
from django.db import connections

from crmhub.actions import ratelimit
from crmhub.actions.ratelimit import Limits, decide, slot_take, throttle_note
from crmhub.connections.models import Connection

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


def limits(rate: float, *, quota: int | None = None, max_wait: float = 5.0) -> Limits:
    return Limits.of(Connection(rate_limit=rate, daily_quota=quota), max_wait=max_wait)


# -- the rule --------------------------------------------------------------------------------
def test_a_full_bucket_lets_one_seconds_worth_go_at_once_then_paces():
    rule = limits(5)
    next_at, day, used = 0.0, None, 0
    waits = []
    for _ in range(8):
        slot, state = decide(next_at, day, used, now=NOON, limits=rule)
        assert slot.granted
        waits.append(round(slot.wait, 3))
        next_at, day, used = state
    assert waits == [0, 0, 0, 0, 0, 0.2, 0.4, 0.6]


def test_a_slot_too_far_ahead_is_not_reserved():
    rule = limits(1, max_wait=2)
    slot, state = decide(NOON + 10, date(2026, 3, 2), 3, now=NOON, limits=rule)
    assert not slot.granted
    assert slot.wait == pytest.approx(10)
    assert state is None


def test_the_daily_quota_pauses_until_midnight_utc_and_resets_the_next_day():
    rule = limits(10, quota=3)
    slot, state = decide(0, date(2026, 3, 2), 3, now=NOON, limits=rule)
    assert not slot.granted and slot.quota
    assert slot.wait == pytest.approx(12 * 3600)
    tomorrow = NOON + 24 * 3600
    slot, state = decide(0, date(2026, 3, 2), 3, now=tomorrow, limits=rule)
    assert slot.granted
    assert state[1:] == (date(2026, 3, 3), 1)


# -- the backends ----------------------------------------------------------------------------
def _granted_times(connection: Connection, workers: int, seconds: float) -> list[float]:
    """Take slots from ``workers`` threads for ``seconds``; return when each was used."""
    used: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work() -> None:
        try:
            while time.monotonic() < stop:
                slot = slot_take(connection=connection, max_wait=1.0)
                if slot.granted:
                    time.sleep(slot.wait)
                    with lock:
                        used.append(time.monotonic())
                else:
                    time.sleep(min(slot.wait, 0.05))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(used)


def _assert_paced(used: list[float], rate: float, seconds: float) -> None:
    # The burst (one second's worth) plus the rate over the span, give or take one slot.
    span = used[-1] - used[0]
    assert span >= seconds * 0.9
    assert len(used) <= rate + rate * span + 1
    assert len(used) >= rate * span * 0.8
    # After the burst, no one-second window holds more than the rate (+1 at the edges).
    steady = [t for t in used if t > used[0] + 1.5]
    for index, start in enumerate(steady):
        window = [t for t in steady[index:] if t < start + 1.0]
        assert len(window) <= rate + 1


@pytest.mark.django_db(transaction=True)
def test_database_bucket_paces_every_worker_together(settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    connection = Connection.objects.create(
        name="Paced", kind="apptivo", base_url="https://x.test/", rate_limit=10
    )
    assert ratelimit.backend() == "database"
    _assert_paced(_granted_times(connection, workers=4, seconds=3.0), rate=10, seconds=3.0)


@pytest.fixture
def redis_url(settings):  # type: ignore[no-untyped-def]
    import redis

    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    settings.CELERY_BROKER_URL = url
    return url


@pytest.mark.django_db(transaction=True)
def test_redis_bucket_paces_every_worker_together(redis_url):
    connection = Connection.objects.create(
        name="Paced", kind="apptivo", base_url="https://x.test/", rate_limit=10
    )
    assert ratelimit.backend() == "redis"
    _assert_paced(_granted_times(connection, workers=4, seconds=3.0), rate=10, seconds=3.0)


@pytest.mark.django_db
def test_redis_bucket_keeps_the_daily_quota(redis_url):
    connection = Connection.objects.create(
        name="Quota", kind="apptivo", base_url="https://x.test/", rate_limit=100, daily_quota=3
    )
    slots = [slot_take(connection=connection) for _ in range(4)]
    assert [s.granted for s in slots] == [True, True, True, False]
    assert slots[-1].quota
    assert 0 < slots[-1].wait <= 24 * 3600


@pytest.mark.django_db
def test_database_bucket_keeps_the_daily_quota(settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    connection = Connection.objects.create(
        name="Quota", kind="apptivo", base_url="https://x.test/", rate_limit=100, daily_quota=3
    )
    slots = [slot_take(connection=connection) for _ in range(4)]
    assert [s.granted for s in slots] == [True, True, True, False]
    assert slots[-1].quota


@pytest.mark.django_db
def test_throttled_until_is_noted_only_for_waits_worth_showing():
    connection = Connection.objects.create(name="T", kind="apptivo", base_url="https://x.test/")
    throttle_note(connection=connection, wait=0.3)
    connection.refresh_from_db()
    assert connection.throttled_until is None
    throttle_note(connection=connection, wait=120)
    connection.refresh_from_db()
    first = connection.throttled_until
    assert first is not None
    throttle_note(connection=connection, wait=5)  # earlier than what is shown: no change
    connection.refresh_from_db()
    assert connection.throttled_until == first
