"""Limits honoured together and outcomes never lost, with real workers, broker and HTTP.

The remote is the ledger remote (``remote.py``): it notes when every request arrived, so
the tests read the pacing off the remote's side, whichever worker sent what. The rate
limit's two stores are both tried: the database, and Redis when there is one (the broker
of CI's second leg, or a local server: see ``tests.conftest.reachable_redis``).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import pytest
from django.db import connection as db
from django.db import transaction
from django.urls import reverse

from crmhub.actions.models import Action, Attempt, RateBucket
from crmhub.actions.services import action_enqueue, action_resend
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from crmhub.core import queues
from crmhub.sandbox import faults
from tests.conftest import reachable_redis, wait_for
from tests.integration.conftest import applied_by_effect, ledger_connection
from tests.integration.harness import settle
from tests.integration.remote import KIND, Arrival, LedgerRemote

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

#: A request may already be on its way when another worker's request is answered 429.
IN_FLIGHT = 0.3


@pytest.fixture(params=["database", "redis"])
def rate_store(request) -> str:  # type: ignore[no-untyped-def]
    """The value of ``CRMHUB_RATE_LIMIT_STORE`` for the workers: each store in turn."""
    if request.param == "database":
        return "database"
    url, why = reachable_redis()
    if url is None:
        pytest.skip(why)
    return url


def poke(connection: Connection, key: str) -> Action:
    return action_enqueue(operation="poke", connection=connection, params={"key": key}, user=None)


def paced(connection: Connection, *, rate: float, **settings: object) -> Connection:
    connection.rate_limit = rate
    connection.settings = {**connection.settings, **settings}
    connection.save()
    return connection


def assert_within_rate(arrivals: list[Arrival], rate: float) -> None:
    """No more than the burst (a second's worth) plus the rate over the span, and no more
    than the rate (give or take one) in any second after the first."""
    times = sorted(arrival.at for arrival in arrivals)
    span = times[-1] - times[0]
    assert len(times) <= rate * span + rate + 1, (len(times), span)
    steady = [t for t in times if t > times[0] + 1.5]
    for index, start in enumerate(steady):
        window = [t for t in steady[index:] if t < start + 1.0]
        assert len(window) <= rate + 1, (start - times[0], len(window))


def run_finished(run: SyncRun, timeout: float = 90.0) -> SyncRun:
    def finished() -> SyncRun | None:
        run.refresh_from_db()
        return run if run.state not in SyncRun.ACTIVE_STATES else None

    return wait_for(finished, timeout=timeout, message=f"sync run {run.pk} did not finish")


# -- a 429 pauses the connection for every worker --------------------------------------------
def test_one_429_pauses_the_connection_for_every_worker_and_costs_no_attempt(
    workers, ledger_remote: LedgerRemote, rate_store
):
    connection = paced(ledger_connection(ledger_remote.url), rate=8)
    env = {"CRMHUB_RATE_LIMIT_STORE": rate_store, "CRMHUB_MAX_ATTEMPTS": "1"}
    first = workers("w1", env=env, beat=True)
    second = workers("w2", env=env)
    ledger_remote.throttle(after=8, retry_after=3, path="/apply")
    actions = settle([poke(connection, f"k{n}").pk for n in range(30)], timeout=120)

    applies = [arrival for arrival in ledger_remote.arrivals if arrival.path == "/apply"]
    (refused,) = [arrival for arrival in applies if arrival.status == 429]
    paused = [a for a in applies if refused.at + IN_FLIGHT < a.at < refused.at + 2.95]
    assert paused == [], "a request reached the remote during the 3 s it asked for"
    assert any(a.at >= refused.at + 2.95 for a in applies), "work went on after the pause"
    # The rate-limited action was tried again once the pause was over, though one attempt
    # was all CRMHUB_MAX_ATTEMPTS allowed: the 429 did not use it up. Nothing ran twice.
    assert all(a.state == Action.State.SUCCEEDED for a in actions), [a.error for a in actions]
    (throttled,) = [a for a in actions if a.throttles]
    assert (throttled.attempts, throttled.throttles) == (2, 1)
    outcomes = list(throttled.attempt_set.values_list("outcome", flat=True))
    assert outcomes == [Attempt.Outcome.THROTTLED, Attempt.Outcome.SUCCEEDED]
    assert set(applied_by_effect().values()) == {1} and len(applied_by_effect()) == 30
    assert "succeeded" in first.text() and "succeeded" in second.text(), "both workers sent"


# -- syncs and checks take slots from the same bucket ------------------------------------------
def test_a_sync_and_acts_together_stay_within_the_connection_s_limit(
    workers, ledger_remote: LedgerRemote, rate_store
):
    connection = paced(ledger_connection(ledger_remote.url), rate=5, page_size=10)
    connection.daily_quota = 1000
    connection.save()
    ledger_remote.list_people(120)
    workers("w1", env={"CRMHUB_RATE_LIMIT_STORE": rate_store}, concurrency=3, beat=True)
    run = sync_request(connection=connection, requested_by="test")
    actions = settle([poke(connection, f"a{n}").pk for n in range(15)], timeout=120)
    run = run_finished(run)

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert (run.attempts, run.fetched) == (1, 120)
    assert Contact.objects.filter(connection=connection).count() == 120
    assert all(a.state == Action.State.SUCCEEDED for a in actions)
    arrivals = ledger_remote.arrivals
    listing = [a for a in arrivals if a.path == "/contacts"]
    assert len(listing) == 13, "12 pages, then the empty one that ends a listing without total"
    assert_within_rate(arrivals, rate=5)
    # Every request of both took a slot, and so counts towards the daily quota (the sync
    # reserves a second's worth at a time, and leaves the last ones unused; a second copy of
    # an action's message takes one too before it finds the action claimed).
    today = datetime.now(tz=UTC).date()
    if rate_store == "database":
        bucket = RateBucket.objects.get(connection=connection)
        assert bucket.day == today
        used = bucket.day_count
    else:
        import redis

        key = f"crmhub:quota:{connection.uid}:{today}"
        used = int(redis.Redis.from_url(rate_store).get(key) or 0)
    assert len(arrivals) <= used <= len(arrivals) + 5 + 5


def test_a_429_during_a_sync_waits_and_asks_for_that_page_again(
    workers, ledger_remote: LedgerRemote, rate_store
):
    connection = paced(ledger_connection(ledger_remote.url), rate=20, page_size=10)
    ledger_remote.list_people(100)
    ledger_remote.throttle(after=4, retry_after=2, path="/contacts")
    workers("w1", env={"CRMHUB_RATE_LIMIT_STORE": rate_store}, queues=queues.SYNC)
    run = run_finished(sync_request(connection=connection, requested_by="test"))

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert (run.attempts, run.pages, run.fetched) == (1, 10, 100), "not the whole pass again"
    listing = ledger_remote.arrivals
    offsets = [int(a.query["offset"]) for a in listing]
    assert offsets == [0, 10, 20, 30, 40, 40, 50, 60, 70, 80, 90, 100]
    refused, again = listing[4], listing[5]
    assert (refused.status, again.status) == (429, 200)
    assert again.at - refused.at >= 1.95, "the Retry-After was waited out"


# -- outcomes never lost or overwritten ---------------------------------------------------------
def _hold_the_database_lock(seconds: float) -> None:
    """Hold the write lock of the product's database for ``seconds``, as a long writer would."""
    if db.vendor == "sqlite":
        other = sqlite3.connect(db.settings_dict["NAME"], timeout=10)
        try:
            other.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
        finally:
            other.rollback()
            other.close()
        return
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute("LOCK TABLE actions_action IN EXCLUSIVE MODE")
        time.sleep(seconds)


def test_an_outcome_met_by_a_locked_database_is_written_once_it_frees(workers, ledger):
    faults.configure(KIND, latency_ms=1500)
    worker = workers(env={"TEST_DB_LOCK_TIMEOUT": "0.5"})
    action = poke(ledger, "locked")
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.SENDING).exists(),
        timeout=20,
    )
    _hold_the_database_lock(3.5)  # the answer arrives meanwhile: its outcome waits
    (done,) = settle([action.pk])

    assert done.state == Action.State.SUCCEEDED
    assert done.attempts == 1
    assert done.attempt_set.get().outcome == Attempt.Outcome.SUCCEEDED
    assert "writing its outcome failed" in worker.text()
    assert applied_by_effect() == {"poke:locked": 1}


def test_a_late_outcome_after_a_resend_is_kept_on_its_attempt(
    workers, ledger_remote: LedgerRemote, client, admin_user
):
    connection = ledger_connection(ledger_remote.url, read_timeout=15.0)
    faults.configure(KIND, latency_ms=7000)  # longer than the worker's 4 s lease
    workers(concurrency=2, beat=True)
    action = poke(connection, "late")
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.UNKNOWN).exists(),
        timeout=20,
        message="the sweeper did not call the silent attempt unknown",
    )
    faults.reset(KIND)
    resent = action_resend(action=Action.objects.get(pk=action.pk), user=admin_user)
    late = wait_for(
        lambda: Attempt.objects.filter(action=action, late=True).first(),
        timeout=20,
        message="the first attempt's answer never arrived",
    )
    (redone,) = settle([resent.pk])

    kept = Action.objects.get(pk=action.pk)
    assert kept.state == Action.State.UNKNOWN, "the late answer did not overwrite the resend"
    assert late.outcome == Attempt.Outcome.SUCCEEDED
    assert redone.state == Action.State.SUCCEEDED
    client.force_login(admin_user)
    page = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    assert "arrived late" in page
    # Applied by the first attempt (late) and by the resend staff asked for.
    assert applied_by_effect() == {"poke:late": 2}
