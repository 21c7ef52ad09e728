from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from crmhub.actions import executor, outcomes
from crmhub.actions.models import Action, Attempt, RateBucket
from crmhub.actions.services import action_enqueue
from crmhub.connectors import errors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _database_store(settings):  # type: ignore[no-untyped-def]
    """The executor's tests read the buckets in the database (both stores have their own
    tests in test_ratelimit.py), whatever the broker."""
    settings.CRMHUB_RATE_LIMIT_STORE = "database"


@pytest.fixture
def action(connection, contact, published):  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=None
    )


@pytest.fixture
def safe_action(connection, contact, published):  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation="read", connection=connection, contact=contact, params={}, user=None
    )


def run(action: Action, *, due: bool = False) -> Action:
    if due:  # the time has come (instead of waiting for the backoff in a unit test)
        Action.objects.filter(pk=action.pk).update(not_before=timezone.now())
    executor.action_execute(action_id=action.pk, task_id="task-1")
    action.refresh_from_db()
    return action


def test_success_records_the_result_and_the_attempt(action, fake_crm):
    done = run(action)
    assert done.state == Action.State.SUCCEEDED
    assert done.result["message"] == "Success"
    assert done.finished_at is not None
    assert done.attempts == 1
    assert done.lease_until is None
    attempt = done.attempt_set.get()
    assert attempt.outcome == Attempt.Outcome.SUCCEEDED
    assert attempt.task_id == "task-1"
    assert fake_crm.performed == [("touch", {"contact_remote_id": "1"})]


def test_a_second_delivery_sends_nothing(action, fake_crm):
    run(action)
    assert executor.action_execute(action_id=action.pk) == "skipped"
    assert len(fake_crm.performed) == 1
    assert Attempt.objects.count() == 1


def test_only_one_claim_wins(action):
    first = executor._claim(action, "a")
    second = executor._claim(Action.objects.get(pk=action.pk), "b")
    assert first is not None
    assert second is None
    assert Action.objects.get(pk=action.pk).state == Action.State.SENDING


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (errors.Rejected("The contact does not exist."), Action.State.FAILED),
        (errors.AuthFailed("The server refused the credentials (401)."), Action.State.FAILED),
        (errors.InvalidParams({"url": ["Too long."]}), Action.State.FAILED),
        (errors.BlockedAddress("private address"), Action.State.FAILED),
        (errors.UnknownOutcome("No answer."), Action.State.UNKNOWN),
        (errors.Unavailable("Read timed out.", request_sent=True), Action.State.UNKNOWN),
        (errors.Unavailable("The server failed (502).", status=502), Action.State.UNKNOWN),
        (errors.BadResponse("Not XML.", status=200), Action.State.UNKNOWN),
        # A redirect answers a change without saying whether it was made.
        (errors.BadResponse("Redirect.", status=302), Action.State.UNKNOWN),
        (errors.NeedsInput("No answer to the prompt."), Action.State.CANCELLED),
    ],
)
def test_an_unsafe_operation_is_never_retried_after_it_may_have_been_sent(
    action, fake_crm, error, state
):
    fake_crm.script.append(error)
    done = run(action)
    assert done.state == state
    assert str(error) in done.error
    assert fake_crm.performed == []
    assert done.attempt_set.get().outcome != Attempt.Outcome.RETRY
    if state == Action.State.UNKNOWN:
        assert "resend" in done.error


def unpause(connection) -> None:  # type: ignore[no-untyped-def]
    """As if the connection's pause had run out (instead of waiting for it)."""
    RateBucket.objects.filter(connection=connection).update(paused_until=0.0)


def test_a_request_that_never_reached_the_server_is_retried(action, fake_crm, published):
    fake_crm.script.append(
        errors.Unavailable("Could not connect to the server.", request_sent=False)
    )
    before = timezone.now()
    waiting = run(action)
    assert waiting.state == Action.State.QUEUED
    assert waiting.not_before > before
    assert waiting.attempt_set.get().outcome == Attempt.Outcome.RETRY
    assert published[-1][0] == action.pk and published[-1][1] > 0
    done = run(Action.objects.get(pk=action.pk), due=True)
    assert done.state == Action.State.SUCCEEDED
    assert done.attempts == 2
    assert len(fake_crm.performed) == 1


@override_settings(CRMHUB_MAX_ATTEMPTS=1)
def test_rate_limit_answers_use_up_no_attempt_and_pause_the_connection(action, fake_crm, published):
    for _ in range(3):
        fake_crm.script.append(errors.RateLimited("Slow down.", retry_after=None))
    for _ in range(3):
        before = timezone.now()
        waiting = run(action, due=True)
        assert waiting.state == Action.State.QUEUED
        assert waiting.not_before >= before + timedelta(seconds=5), "CRMHUB_RATE_PAUSE_SECONDS"
        paused = RateBucket.objects.get(connection=action.connection).paused_until
        assert paused >= before.timestamp() + 4.9
        unpause(action.connection)
    done = run(action, due=True)
    assert done.state == Action.State.SUCCEEDED, "three 429s and one attempt allowed"
    assert (done.attempts, done.throttles) == (4, 3)
    assert done.throttled_since is not None
    assert list(done.attempt_set.values_list("outcome", flat=True)) == [
        "throttled",
        "throttled",
        "throttled",
        "succeeded",
    ]
    assert len(fake_crm.performed) == 1


@override_settings(CRMHUB_THROTTLE_MAX_SECONDS=600)
def test_throttling_past_its_time_cap_fails_with_the_reason(action, fake_crm, published):
    fake_crm.script += [errors.RateLimited("429", retry_after=2)] * 2
    assert run(action).state == Action.State.QUEUED
    Action.objects.filter(pk=action.pk).update(
        throttled_since=timezone.now() - timedelta(seconds=599)
    )
    unpause(action.connection)
    done = run(action, due=True)
    assert done.state == Action.State.FAILED
    assert "too many requests" in done.error and "nothing was applied" in done.error
    assert done.throttles == 1, "the last answer ended it"
    assert fake_crm.performed == []


def test_pacing_reads_the_pause_of_a_rate_limit_answer(action, fake_crm, published):
    from crmhub.actions import ratelimit

    ratelimit.bucket_pause(connection=action.connection, seconds=10)
    before = timezone.now()
    assert executor.action_execute(action_id=action.pk) == "deferred"
    waiting = Action.objects.get(pk=action.pk)
    assert waiting.attempts == 0, "not claimed"
    assert waiting.published_at is None
    assert before + timedelta(seconds=9) <= waiting.not_before <= before + timedelta(seconds=11)
    assert fake_crm.performed == []


def test_a_slot_reserved_before_a_pause_is_not_used(action, fake_crm, published, monkeypatch):
    from crmhub.actions import ratelimit

    take = ratelimit.slot_take

    def reserved_then_paused(**kwargs):  # type: ignore[no-untyped-def]
        assert take(**kwargs).granted
        # Another worker's request is answered 429 while this one waits for its slot.
        ratelimit.bucket_pause(connection=action.connection, seconds=3)
        return ratelimit.Slot(granted=True, wait=0.2)  # a slot a little ahead

    monkeypatch.setattr(ratelimit, "slot_take", reserved_then_paused)
    assert executor.action_execute(action_id=action.pk) == "deferred"
    waiting = Action.objects.get(pk=action.pk)
    assert waiting.attempts == 0 and waiting.state == Action.State.QUEUED
    assert waiting.not_before > timezone.now() + timedelta(seconds=2)
    assert fake_crm.performed == []


def test_safe_operation_retries_a_503_storm_with_growing_delays(safe_action, fake_crm, published):
    for _ in range(3):
        fake_crm.script.append(errors.Unavailable("The server failed (503).", status=503))
    fake_crm.script.append(None)
    published.clear()
    for _ in range(4):
        run(Action.objects.get(pk=safe_action.pk), due=True)
    delays = [countdown for pk, countdown in published if pk == safe_action.pk]
    done = Action.objects.get(pk=safe_action.pk)
    assert done.state == Action.State.SUCCEEDED
    assert done.attempts == 4
    assert len(delays) == 3
    assert all(2**i / 2 <= d <= 2**i for i, d in enumerate(delays))
    assert list(done.attempt_set.values_list("outcome", flat=True)) == [
        "retry",
        "retry",
        "retry",
        "succeeded",
    ]


@override_settings(CRMHUB_MAX_ATTEMPTS=3)
def test_retries_stop_at_the_attempt_cap(safe_action, fake_crm):
    for _ in range(5):
        fake_crm.script.append(errors.Unavailable("503", status=503))
    for _ in range(3):
        run(Action.objects.get(pk=safe_action.pk), due=True)
    done = Action.objects.get(pk=safe_action.pk)
    assert done.state == Action.State.FAILED
    assert "Gave up after 3 attempts" in done.error


def test_retry_after_is_honoured_and_long_waits_live_in_the_database(action, fake_crm, published):
    fake_crm.script.append(errors.RateLimited("429", retry_after=30))
    before = timezone.now()
    waiting = run(action)
    assert waiting.not_before >= before + timedelta(seconds=30)
    assert published[-1] == (action.pk, pytest.approx(published[-1][1])) and published[-1][1] >= 30
    fake_crm.script.append(errors.RateLimited("429", retry_after=600))
    Action.objects.filter(pk=action.pk).update(not_before=timezone.now())
    unpause(action.connection)
    waiting = run(Action.objects.get(pk=action.pk))
    assert waiting.state == Action.State.QUEUED
    assert waiting.published_at is None, "a wait past a minute is not a broker countdown"
    assert waiting.not_before >= before + timedelta(seconds=600)
    waiting.connection.refresh_from_db()
    assert waiting.connection.throttled_until >= before + timedelta(seconds=590)


def test_a_message_that_comes_early_is_handed_back_to_the_dispatcher(action, fake_crm):
    later = timezone.now() + timedelta(minutes=10)
    Action.objects.filter(pk=action.pk).update(not_before=later)
    assert executor.action_execute(action_id=action.pk) == "not due"
    action.refresh_from_db()
    assert action.state == Action.State.QUEUED
    assert action.published_at is None
    assert fake_crm.performed == []


def test_a_copy_the_sweeper_republished_counts_no_lost_worker(action, fake_crm):
    from crmhub.actions.sweeper import actions_sweep

    assert executor._receive(action.pk, "first").deliveries == 1
    # A copy while the first message is being handled: dropped, not counted, not run.
    assert executor._receive(action.pk, "copy") is None
    assert Action.objects.get(pk=action.pk).deliveries == 1
    # The first message received again: its worker died; it runs again, counted.
    assert executor._receive(action.pk, "first").deliveries == 2
    # Received, then silent past the republish delay: its worker was lost with it. The
    # sweeper frees the action; the copy it publishes takes over and is counted.
    actions_sweep(now=timezone.now() + timedelta(hours=1))
    assert executor._receive(action.pk, "new").deliveries == 3
    assert executor._receive(action.pk, "first") is None, "the old one is now a copy"
    assert Action.objects.get(pk=action.pk).deliveries == 3


def test_a_message_silent_longer_than_a_live_worker_takes_was_lost(action, fake_crm):
    executor._receive(action.pk, "first")
    silent = timezone.now() - timedelta(seconds=executor.in_flight_seconds() + 1)
    Action.objects.filter(pk=action.pk).update(received_at=silent)
    assert executor._receive(action.pk, "copy").deliveries == 2, "taken over, counted"


def test_a_message_that_kills_its_worker_runs_at_most_the_cap_even_with_copies(
    action, fake_crm, settings
):
    runs = 0
    for task_id in ["a", "b", "a", "b", "c", "a", "b", "a"]:  # copies and redeliveries mixed
        received = executor._receive(action.pk, task_id)
        if received is not None and received.deliveries <= settings.CRMHUB_MAX_DELIVERIES:
            runs += 1  # this one would run (and kill its worker)
    assert runs == settings.CRMHUB_MAX_DELIVERIES


def test_an_action_whose_message_is_being_handled_is_not_republished(action, fake_crm, settings):
    from crmhub.actions.sweeper import actions_sweep

    executor._receive(action.pk, "first")
    later = timezone.now() + timedelta(seconds=settings.CRMHUB_ACTION_REPUBLISH_SECONDS + 1)
    Action.objects.filter(pk=action.pk).update(received_at=later)  # its worker is on it
    published = Action.objects.get(pk=action.pk).published_at
    assert actions_sweep(now=later)["republished"] == 0
    kept = Action.objects.get(pk=action.pk)
    assert (kept.published_at, kept.deliveries) == (published, 1)


def test_a_poison_message_is_failed_without_running_again(action, fake_crm, settings):
    Action.objects.filter(pk=action.pk).update(deliveries=settings.CRMHUB_MAX_DELIVERIES)
    assert executor.action_execute(action_id=action.pk) == "poisoned"
    action.refresh_from_db()
    assert action.state == Action.State.FAILED
    assert "poison" in action.error
    assert fake_crm.performed == []


def test_a_crash_in_the_connector_is_unknown_for_an_unsafe_operation(action, fake_crm):
    fake_crm.script.append(ZeroDivisionError())  # type: ignore[arg-type]
    done = run(action)
    assert done.state == Action.State.UNKNOWN
    assert "ZeroDivisionError" in done.error


def test_the_outcome_of_a_presumed_lost_attempt_still_lands_when_it_comes(action, fake_crm):
    attempt = executor._claim(action, "t")
    # The sweeper presumed the worker lost; then the worker finishes after all.
    Action.objects.filter(pk=action.pk).update(state=Action.State.UNKNOWN)
    executor._record(action, attempt, outcomes.succeeded(_result()))
    assert Action.objects.get(pk=action.pk).state == Action.State.SUCCEEDED


def test_a_late_outcome_never_overwrites_an_unknown_already_resent(action, fake_crm):
    from crmhub.actions.services import action_resend
    from crmhub.actions.sweeper import actions_sweep

    attempt = executor._claim(action, "t")
    # The worker went silent: the sweeper calls it unknown, and staff resend it.
    Action.objects.filter(pk=action.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    actions_sweep()
    lost = Action.objects.get(pk=action.pk)
    assert lost.state == Action.State.UNKNOWN
    resent = action_resend(action=lost, user=None)
    # Then the first worker's answer arrives after all.
    executor._record(action, attempt, outcomes.succeeded(_result()))
    kept = Action.objects.get(pk=action.pk)
    assert kept.state == Action.State.UNKNOWN, "the resend is not contradicted"
    assert "resend" in kept.error
    late = Attempt.objects.get(pk=attempt.pk)
    assert late.late and late.outcome == Attempt.Outcome.SUCCEEDED
    assert Action.objects.get(pk=resent.pk).state == Action.State.QUEUED


def test_writing_an_outcome_is_retried_on_a_transient_database_error(action, fake_crm):
    from django.db import OperationalError, connection

    attempt = executor._claim(action, "t")
    failures = []

    def locked(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith('UPDATE "actions_action"') and len(failures) < 2:
            failures.append(sql)
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(locked):
        executor._record(action, attempt, outcomes.succeeded(_result()))
    assert len(failures) == 2
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.SUCCEEDED
    assert done.attempt_set.get().outcome == Attempt.Outcome.SUCCEEDED


def test_the_outcome_of_an_older_attempt_is_not_written_over_a_newer_one(action, fake_crm):
    attempt = executor._claim(action, "t")
    Action.objects.filter(pk=action.pk).update(attempts=2)
    executor._record(action, attempt, outcomes.failed("late"))
    assert Action.objects.get(pk=action.pk).state == Action.State.SENDING
    assert Attempt.objects.get(pk=attempt.pk).outcome == Attempt.Outcome.FAILED


def test_backoff_doubles_within_jitter_and_is_capped(settings):
    settings.CRMHUB_RETRY_BASE_SECONDS = 1.0
    settings.CELERY_RETRY_BACKOFF_MAX = 300
    for attempt in range(1, 12):
        ceiling = min(300, 2 ** (attempt - 1))
        for _ in range(20):
            assert ceiling / 2 <= outcomes.backoff(attempt) <= ceiling


def _result():  # type: ignore[no-untyped-def]
    from crmhub.connectors.base import OperationResult

    return OperationResult(message="Success")


def test_a_used_up_daily_quota_pauses_until_midnight_without_failing(
    connection, contact, fake_crm, published
):
    connection.daily_quota = 1
    connection.save()
    first, second = (
        action_enqueue(
            operation="touch", connection=connection, contact=contact, params={}, user=None
        )
        for _ in range(2)
    )
    assert run(first).state == Action.State.SUCCEEDED
    assert executor.action_execute(action_id=second.pk) == "deferred"
    paused = Action.objects.get(pk=second.pk)
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    assert paused.state == Action.State.QUEUED
    assert paused.attempts == 0, "nothing was claimed or sent"
    assert paused.published_at is None, "the sweeper starts it when the day turns"
    assert paused.not_before.date() == tomorrow
    assert "quota" in paused.error
    connection.refresh_from_db()
    assert connection.throttled_until.date() == tomorrow
    assert len(fake_crm.performed) == 1
