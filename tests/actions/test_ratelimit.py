from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    settings.CRMHUB_RATE_LIMIT_STORE = "database"
    connection = Connection.objects.create(
        name="Paced", kind="apptivo", base_url="https://x.test/", rate_limit=10
    )
    assert ratelimit.backend() == "database"
    _assert_paced(_granted_times(connection, workers=4, seconds=3.0), rate=10, seconds=3.0)


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
    settings.CRMHUB_RATE_LIMIT_STORE = "database"
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


# -- pauses (a rate-limit answer) ----------------------------------------------------------
def test_no_slot_falls_inside_a_pause_and_none_is_a_burst_after_it():
    rule = limits(5, max_wait=2)
    slot, _ = decide(0.0, None, 0, now=NOON, limits=rule, paused_until=NOON + 3)
    assert slot.granted is False and slot.wait == pytest.approx(3)
    rule = limits(5, max_wait=10)
    waits = []
    next_at, day, used = 0.0, None, 0
    for _ in range(3):
        slot, (next_at, day, used) = decide(
            next_at, day, used, now=NOON, limits=rule, paused_until=NOON + 3
        )
        waits.append(round(slot.wait, 3))
    assert waits == [3.0, 3.2, 3.4], "paced from the end of the pause, no burst"


@pytest.fixture(params=["database", "redis"])
def store(request, settings):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    settings.CRMHUB_RATE_LIMIT_STORE = "database"
    return "database"


@pytest.mark.django_db
def test_a_pause_holds_every_slot_back_on_either_store(store):
    connection = Connection.objects.create(
        name="Paused", kind="apptivo", base_url="https://x.test/", rate_limit=50
    )
    assert ratelimit.pause_remaining(connection=connection) == 0
    assert ratelimit.bucket_pause(connection=connection, seconds=3) == pytest.approx(3, abs=0.1)
    assert ratelimit.bucket_pause(connection=connection, seconds=1) == pytest.approx(3, abs=0.1)
    assert ratelimit.pause_remaining(connection=connection) == pytest.approx(3, abs=0.2)
    refused = slot_take(connection=connection, max_wait=1.0)
    assert not refused.granted and refused.wait == pytest.approx(3, abs=0.2)
    waiting = slot_take(connection=connection, max_wait=5.0)
    assert waiting.granted and waiting.wait == pytest.approx(3, abs=0.2)
    connection.refresh_from_db()
    assert connection.throttled_until is not None


@pytest.mark.django_db
def test_several_slots_are_taken_at_once_as_if_one_by_one(store):
    connection = Connection.objects.create(
        name="Batched", kind="apptivo", base_url="https://x.test/", rate_limit=5, daily_quota=12
    )
    first = ratelimit.slots_take(connection=connection, count=8, max_wait=1.0)
    assert [round(w, 1) for w in first.waits] == [0, 0, 0, 0, 0, 0.2, 0.4, 0.6]
    second = ratelimit.slots_take(connection=connection, count=8, max_wait=5.0)
    assert len(second.waits) == 4, "the quota of 12 is used up after four more"
    third = ratelimit.slots_take(connection=connection, count=8)
    assert third.waits == () and third.quota


class _Throttling(BaseHTTPRequestHandler):
    """Answers 429 (Retry-After: 1) to the first request, then 200; notes arrival times."""

    arrivals: list[tuple[float, int]] = []

    def do_GET(self) -> None:
        status = 429 if not self.arrivals else 200
        self.arrivals.append((time.monotonic(), status))
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def throttling():  # type: ignore[no-untyped-def]
    """Yield a paced connection and an HTTP client of a server that answers 429 once."""
    from crmhub.connectors.http import HttpClient

    _Throttling.arrivals = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = Connection.objects.create(
        name="Paced", kind="apptivo", base_url="https://x.test/", rate_limit=20
    )
    client = HttpClient(
        base_url=f"http://127.0.0.1:{server.server_address[1]}/", allow_private_network=True
    )
    try:
        yield connection, client
    finally:
        server.shutdown()


@pytest.mark.django_db
def test_a_paced_client_waits_out_a_429_and_asks_for_the_same_page_again(throttling):
    connection, client = throttling
    pacer = ratelimit.RequestPacer(connection)
    client.pacer = pacer
    assert client.request("GET", "contacts", params={"offset": 40}).status == 200
    (first, limited), (second, ok) = _Throttling.arrivals
    assert (limited, ok) == (429, 200)
    assert second - first >= 0.95, "the Retry-After was waited out"
    assert [call.status for call in client.drain_calls()] == [429, 200]
    assert (pacer.slots, pacer.answers, pacer.throttled) == (2, 1, 1.0)


@pytest.mark.django_db
def test_a_paced_client_gives_up_past_its_throttling_cap(throttling):
    from crmhub.connectors.errors import RateLimited

    connection, client = throttling
    client.pacer = ratelimit.RequestPacer(connection, max_throttle=0.5)
    with pytest.raises(RateLimited):
        client.request("GET", "contacts")
    assert len(_Throttling.arrivals) == 1
    assert ratelimit.pause_remaining(connection=connection) > 0, "the pause stands for all"


@pytest.mark.django_db
def test_a_paced_client_stops_at_the_daily_quota():
    from crmhub.connectors.http import HttpClient

    connection = Connection.objects.create(
        name="Quota", kind="apptivo", base_url="https://x.test/", rate_limit=20, daily_quota=1
    )
    assert slot_take(connection=connection).granted  # an act used the day's only slot
    client = HttpClient(base_url="http://127.0.0.1:9/", allow_private_network=True)
    client.pacer = ratelimit.RequestPacer(connection)
    with pytest.raises(ratelimit.QuotaUsedUp, match="daily quota is used up"):
        client.request("GET", "contacts")
