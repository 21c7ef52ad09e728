"""Reliability of actions with real worker subprocesses, the real broker and real HTTP.

The R-numbers are those of reliability.md §4. The remote is the ledger remote (see
``remote.py``); the same faults against the real connectors and sandbox are in
``test_sandbox_faults.py``.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crmhub.actions import dispatch
from crmhub.actions.models import Action, Attempt
from crmhub.actions.services import action_enqueue
from crmhub.bench.processes import free_port
from crmhub.sandbox import faults
from crmhub.sandbox.models import Call
from tests.conftest import wait_for
from tests.integration.conftest import applied_by_effect, ledger_connection
from tests.integration.harness import FAST, SETTLE_SECONDS, settle
from tests.integration.remote import KIND, LedgerRemote

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def poke(connection, key: str, operation: str = "poke") -> Action:  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation=operation, connection=connection, params={"key": key}, user=None
    )


def assert_truthful(actions: list[Action]) -> None:
    """Each key applied at most once; succeeded means applied, failed means not applied."""
    applied = applied_by_effect()
    assert all(count == 1 for count in applied.values()), applied
    for action in actions:
        effect = f"{action.operation}:{action.params['key']}"
        if action.state == Action.State.SUCCEEDED:
            assert applied[effect] == 1, action
        elif action.state in (Action.State.FAILED, Action.State.CANCELLED):
            assert applied[effect] == 0, action
        else:
            assert action.state == Action.State.UNKNOWN, action


# -- R1: kill -9 at each fault point ---------------------------------------------------------
#: Actions per fault point (reliability.md: 100 runs each).
R1_ACTIONS = 100


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("point", ["before_claim", "before_send", "after_send", "after_response"])
def test_r1_worker_killed_at_a_fault_point_never_doubles_nor_loses(workers, ledger, point):
    # The first try of every even-numbered action kills its pool child at ``point``.
    worker = workers(
        env={"CRMHUB_FAULT": point, "CRMHUB_FAULT_MODE": "half"}, beat=True, concurrency=4
    )
    actions = settle([poke(ledger, f"{point}-{n}").pk for n in range(R1_ACTIONS)], timeout=600)
    assert_truthful(actions)
    assert worker.alive(), "only pool children died; the worker itself goes on"
    assert "SIGKILL" in worker.text()
    applied = applied_by_effect()
    lease = float(FAST["CRMHUB_ACTION_LEASE_SECONDS"])
    for action in actions:
        killed = action.pk % 2 == 0
        effect = f"poke:{action.params['key']}"
        if not killed or point == "before_claim":
            # Never claimed before the kill: delivered again and done, once.
            assert action.state == Action.State.SUCCEEDED, action
            assert applied[effect] == 1
            continue
        # Claimed, maybe sent: the sweeper calls it unknown once the lease runs out, and no
        # later than a lease and a few sweeps after the claim (nothing stuck).
        assert action.state == Action.State.UNKNOWN, action
        assert action.attempts == 1, "never resent silently"
        attempt = action.attempt_set.get()
        assert attempt.outcome == Attempt.Outcome.LOST
        stuck = (action.finished_at - attempt.started_at).total_seconds()
        assert stuck < lease + SETTLE_SECONDS, (action.pk, stuck)
        assert applied[effect] == (0 if point == "before_send" else 1)


# -- R2: the same message twice, to two workers ----------------------------------------------
def test_r2_the_same_message_delivered_to_two_workers_sends_once(workers, ledger):
    faults.configure(KIND, latency_ms=300)
    workers("w1", concurrency=1)
    workers("w2", concurrency=1)
    action = poke(ledger, "twice")
    dispatch.publish([action.pk] * 3)
    (done,) = settle([action.pk])
    time.sleep(1.0)  # let the extra deliveries arrive and be dropped
    assert done.state == Action.State.SUCCEEDED
    assert done.attempts == 1
    assert Attempt.objects.filter(action=done).count() == 1
    assert applied_by_effect() == {"poke:twice": 1}


# -- R3: a rollback after enqueue ------------------------------------------------------------
def test_r3_rollback_after_enqueue_sends_nothing(workers, ledger):
    workers(beat=True)

    def view() -> None:
        with transaction.atomic():
            poke(ledger, "rolled-back")
            raise RuntimeError("the view failed after enqueueing")

    with pytest.raises(RuntimeError):
        view()
    control = poke(ledger, "control")
    settle([control.pk])
    time.sleep(1.0)
    assert list(Action.objects.values_list("params__key", flat=True)) == ["control"]
    assert applied_by_effect() == {"poke:control": 1}


# -- R4 / R5: the message is lost (web died before publishing; worker died after fetching) ---
def test_r4_committed_but_never_published_is_published_by_the_sweeper(workers, ledger):
    workers(beat=True)
    # As if the web process died between COMMIT and the on-commit publish.
    action = Action.objects.create(
        operation="poke",
        connection=ledger,
        params={"key": "never-published"},
        published_at=timezone.now(),
    )
    started = time.monotonic()
    (done,) = settle([action.pk])
    assert done.state == Action.State.SUCCEEDED
    assert time.monotonic() - started < 3 + 2 * 0.5 + 5  # republish delay + 2 sweeps + slack
    assert applied_by_effect() == {"poke:never-published": 1}


def test_r5_a_whole_worker_killed_after_fetching_loses_nothing(workers, ledger):
    doomed = workers("doomed", pool="solo", env={"CRMHUB_FAULT": "before_claim"})
    action = poke(ledger, "fetched-then-killed")
    wait_for(lambda: not doomed.alive(), timeout=15, message="the solo worker did not die")
    assert Action.objects.get(pk=action.pk).state == Action.State.QUEUED
    workers("rescuer", beat=True)
    (done,) = settle([action.pk])
    assert done.state == Action.State.SUCCEEDED
    assert done.deliveries == 2
    assert applied_by_effect() == {"poke:fetched-then-killed": 1}


# -- R6: a task outlives Redis's visibility timeout -------------------------------------------
def test_r6_a_task_longer_than_the_visibility_timeout_is_never_sent_twice(workers, ledger_remote):
    broker = str(settings.CELERY_BROKER_URL)
    if not broker.startswith(("redis://", "rediss://")):
        pytest.skip(
            "R6 is about Redis's visibility timeout; the broker here is the embedded one, which "
            "never redelivers a message (CI's second leg runs this on Redis)"
        )
    connection = ledger_connection(ledger_remote.url, read_timeout=40.0)
    faults.configure(KIND, latency_ms=20_000)  # the task runs twice the visibility timeout
    options = {"visibility_timeout": 10, "unacked_restore_interval": 1,
               "unacked_restore_throttle": 1}  # fmt: skip
    env = {"TEST_BROKER_OPTIONS": json.dumps(options), "CRMHUB_ACTION_LEASE_SECONDS": "120"}
    first = workers("w1", env=env, concurrency=1)
    second = workers("w2", env=env, concurrency=1)
    action = poke(connection, "outlives")
    (done,) = settle([action.pk], timeout=90)

    assert done.state == Action.State.SUCCEEDED
    assert done.attempts == 1
    logs = first.text() + second.text()
    assert logs.count(f"[{done.task_id}] received") >= 2, "Redis delivered it again"
    assert "'skipped'" in logs, "the second delivery found the live claim and sent nothing"
    assert applied_by_effect() == {"poke:outlives": 1}


# -- R8 / R9: 503 storm and 429 with Retry-After on a safe call ------------------------------
def test_r8_a_503_storm_on_a_safe_call_is_retried_with_backoff(workers, ledger):
    faults.configure(KIND, fail_next=3, error_status=503)
    workers(beat=True)
    (done,) = settle([poke(ledger, "storm", operation="peek").pk])
    assert done.state == Action.State.SUCCEEDED
    attempts = list(done.attempt_set.order_by("number"))
    assert [a.outcome for a in attempts] == ["retry", "retry", "retry", "succeeded"]
    gaps = [
        (later.started_at - earlier.finished_at).total_seconds()
        for earlier, later in itertools.pairwise(attempts)
    ]
    assert gaps[0] >= 0.1 and gaps[2] >= 0.4, gaps  # 0.2 s doubling, half-jittered
    assert Call.objects.filter(kind=KIND, status=503).count() == 3


def test_r9_retry_after_is_honoured_on_a_safe_call(workers, ledger):
    faults.configure(KIND, rate_limit_rate=1.0, retry_after=2)
    workers(beat=True)
    action = poke(ledger, "slow-down", operation="peek")
    wait_for(
        lambda: Attempt.objects.filter(action=action, outcome=Attempt.Outcome.THROTTLED).exists(),
        timeout=15,
    )
    faults.reset(KIND)
    (done,) = settle([action.pk])
    first, second = done.attempt_set.order_by("number")[:2]
    assert done.state == Action.State.SUCCEEDED
    assert (second.started_at - first.finished_at).total_seconds() >= 1.9
    assert done.throttles >= 1, "not counted as an attempt (nor a hard failure)"
    ledger.refresh_from_db()
    assert ledger.throttled_until is not None


# -- R10 / R11: read timeout after send; connection refused ----------------------------------
def test_r10_read_timeout_after_the_request_was_applied_is_unknown(workers, ledger):
    faults.configure(KIND, timeout_after_apply=True, timeout_rate=1.0, hang_seconds=4)
    workers(beat=True)
    (done,) = settle([poke(ledger, "timed-out").pk])
    assert done.state == Action.State.UNKNOWN
    assert done.attempts == 1, "never resent silently"
    assert "resend" in done.error
    assert applied_by_effect() == {"poke:timed-out": 1}


def test_r11_connection_refused_on_an_unsafe_call_is_retried_and_done_once(workers, ledger_remote):
    port = free_port()
    connection = ledger_connection(f"http://127.0.0.1:{port}/")
    workers(beat=True)
    action = poke(connection, "refused-first")
    wait_for(
        lambda: Attempt.objects.filter(action=action, outcome=Attempt.Outcome.RETRY).exists(),
        timeout=15,
    )
    late = LedgerRemote(port)
    try:
        (done,) = settle([action.pk])
    finally:
        late.stop()
    assert done.state == Action.State.SUCCEEDED
    assert done.attempts >= 2
    assert "Could not connect" in done.attempt_set.order_by("number").first().error
    assert applied_by_effect() == {"poke:refused-first": 1}


# -- R12: poison ----------------------------------------------------------------------------
def test_r12_a_message_that_kills_its_worker_every_time_is_failed_after_three(workers, ledger):
    worker = workers(env={"CRMHUB_FAULT": "before_claim"}, beat=True)
    (done,) = settle([poke(ledger, "poison").pk])
    assert done.state == Action.State.FAILED
    assert "poison" in done.error
    assert done.attempts == 0
    # It killed its worker process at most three times, then a delivery refused to run it.
    # (Deliveries may count one more: a broker redelivery and the sweeper's republish of the
    # same action can arrive together, and both are refused.)
    deaths = worker.text().count("exited with 'signal 9 (SIGKILL)'")
    assert 1 <= deaths <= settings.CRMHUB_MAX_DELIVERIES, worker.text()[-3000:]
    assert done.deliveries > settings.CRMHUB_MAX_DELIVERIES
    assert worker.text().count(f"action {done.pk} failed as poison") == 1
    assert applied_by_effect() == {}
    assert worker.alive()


def test_r12_a_safe_action_whose_worker_always_dies_is_failed_as_poison(workers, ledger):
    workers(env={"CRMHUB_FAULT": "before_send"}, beat=True)
    (done,) = settle([poke(ledger, "poison-read", operation="peek").pk], timeout=60)
    assert done.state == Action.State.FAILED
    assert "poison" in done.error
    assert done.attempts == 3
    assert list(done.attempt_set.values_list("outcome", flat=True)) == ["lost"] * 3
    assert applied_by_effect() == {}


# -- R13: a deploy (SIGTERM) while an action runs ---------------------------------------------
def test_r13_warm_shutdown_finishes_the_running_action(workers, ledger):
    faults.configure(KIND, latency_ms=1500)
    worker = workers()
    action = poke(ledger, "deploy")
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.SENDING).exists(),
        timeout=15,
    )
    worker.terminate()
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.SUCCEEDED
    assert applied_by_effect() == {"poke:deploy": 1}
