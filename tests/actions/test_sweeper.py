from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crmhub.actions import executor
from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.actions.sweeper import actions_sweep, housekeeping
from crmhub.celery import app
from tests.actions.conftest import make_contacts

pytestmark = pytest.mark.django_db


def _claimed(connection, contact, *, operation="touch", lease_ago=1):  # type: ignore[no-untyped-def]
    action = action_enqueue(
        operation=operation, connection=connection, contact=contact, params={}, user=None
    )
    executor._claim(action, "t")
    Action.objects.filter(pk=action.pk).update(
        lease_until=timezone.now() - timedelta(seconds=lease_ago)
    )
    return action


def test_an_expired_lease_of_an_unsafe_action_becomes_unknown(connection, contact, published):
    action = _claimed(connection, contact)
    assert actions_sweep()["lost"] == 1
    action.refresh_from_db()
    assert action.state == Action.State.UNKNOWN
    assert "check" in action.error.lower() and "resend" in action.error
    assert action.attempt_set.get().outcome == Attempt.Outcome.LOST


def test_an_expired_lease_of_a_safe_action_is_queued_again_then_failed_as_poison(
    connection, contact, published, settings
):
    action = _claimed(connection, contact, operation="read")
    Action.objects.filter(pk=action.pk).update(deliveries=1)
    actions_sweep()
    action.refresh_from_db()
    assert action.state == Action.State.QUEUED
    assert action.published_at is not None, "dispatched again at once"
    assert published[-1][0] == action.pk
    Action.objects.filter(pk=action.pk).update(
        state=Action.State.SENDING,
        lease_until=timezone.now() - timedelta(seconds=1),
        deliveries=settings.CRMHUB_MAX_DELIVERIES,
    )
    actions_sweep()
    action.refresh_from_db()
    assert action.state == Action.State.FAILED
    assert "poison" in action.error


def test_a_live_lease_is_left_alone(connection, contact, published):
    action = _claimed(connection, contact, lease_ago=-60)
    assert actions_sweep()["lost"] == 0
    assert Action.objects.get(pk=action.pk).state == Action.State.SENDING


def test_a_published_action_nobody_claimed_is_published_again(
    connection, contact, published, settings
):
    action = action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=None
    )
    published.clear()
    assert actions_sweep()["republished"] == 0
    assert published == []
    stale = timezone.now() - timedelta(seconds=settings.CRMHUB_ACTION_REPUBLISH_SECONDS + 1)
    Action.objects.filter(pk=action.pk).update(published_at=stale)
    done = actions_sweep()
    assert done["republished"] == 1
    assert [pk for pk, _ in published] == [action.pk]
    assert Action.objects.get(pk=action.pk).published_at > stale


def test_due_actions_are_dispatched_within_the_window_of_their_connection(connection, published):
    connection.rate_limit = 2
    connection.save()
    contacts = make_contacts(connection, 20)
    batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    assert actions_sweep()["published"] == 4  # the window: at least 4, or 2 s of the rate
    assert actions_sweep()["published"] == 0, "the window is full until some are claimed"
    for pk, _ in published[:2]:
        executor.action_execute(action_id=pk)
    # Each finished action refilled the window by one.
    assert len(published) == 6


def test_batches_get_their_totals_and_finish(connection, fake_crm, published):
    contacts = make_contacts(connection, 3)
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    ids = list(Action.objects.filter(batch=batch).values_list("pk", flat=True))
    executor.action_execute(action_id=ids[0])
    actions_sweep()
    batch.refresh_from_db()
    assert batch.totals == {"succeeded": 1, "queued": 2}
    assert batch.state == Batch.State.RUNNING
    fake_crm.script.append(__import__("crmhub.connectors.errors").connectors.errors.Rejected("no"))
    for pk in ids[1:]:
        executor.action_execute(action_id=pk)
    actions_sweep()
    batch.refresh_from_db()
    assert batch.totals == {"succeeded": 2, "failed": 1}
    assert batch.state == Batch.State.FINISHED
    assert batch.finished_at is not None


def _insert_waiting_actions(connection, count: int) -> None:  # type: ignore[no-untyped-def]
    """Insert ``count`` queued actions in one statement (bulk_create is too slow for 100,000).

    Half are due, half wait an hour; a third were published five seconds ago.
    """
    now = timezone.now()
    adapt = db.ops.adapt_datetimefield_value
    sql = """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)
        INSERT INTO actions_action (
            operation, safe, connection_id, params, idempotency_key, state, not_before,
            published_at, attempts, throttles, deliveries, received_task_id, created_at,
            updated_at, result, error, task_id
        )
        SELECT 'touch', FALSE, %s, '{}', 'bulk-' || i, 'queued',
            CASE WHEN i %% 2 = 0 THEN %s ELSE %s END,
            CASE WHEN i %% 3 = 0 THEN %s ELSE NULL END,
            0, 0, 0, '', %s, %s, '{}', '', ''
        FROM n
    """
    with db.cursor() as cursor:
        cursor.execute(
            sql,
            [
                count,
                connection.pk,
                adapt(now + timedelta(hours=1)),
                adapt(now - timedelta(minutes=5)),
                adapt(now - timedelta(seconds=5)),
                adapt(now),
                adapt(now),
            ],
        )


def test_a_sweep_stays_cheap_with_a_hundred_thousand_actions_waiting(connection, published):
    _insert_waiting_actions(connection, 100_000)
    assert Action.objects.count() == 100_000
    actions_sweep()  # the first sweep publishes the connection's window
    with CaptureQueriesContext(db) as queries:
        started = time.perf_counter()
        actions_sweep()
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"a sweep over 100,000 waiting actions took {elapsed * 1000:.0f} ms"
    assert len(queries) < 20
    for query in queries.captured_queries:
        sql = query["sql"]
        if db.vendor == "sqlite" and sql.startswith("SELECT") and "actions_action" in sql:
            with db.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SCAN actions_action" not in plan or "USING" in plan, (sql, plan)


def test_the_periodic_tasks_keep_their_names():
    app.loader.import_default_modules()
    for name in (
        "crmhub.actions.tasks.actions_sweep",
        "crmhub.actions.tasks.housekeeping",
        "crmhub.actions.tasks.action_execute",
    ):
        assert name in app.tasks
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"crmhub.actions.tasks.actions_sweep", "crmhub.actions.tasks.housekeeping"} <= schedule


def test_housekeeping_removes_old_processed_broker_files(tmp_path, settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"processed_folder": str(tmp_path)}
    old = tmp_path / "old.msg"
    new = tmp_path / "new.msg"
    old.write_text("x")
    new.write_text("y")
    two_days_ago = time.time() - 2 * 86400
    import os

    os.utime(old, (two_days_ago, two_days_ago))
    assert housekeeping() == {"broker_files_removed": 1}
    assert not old.exists() and new.exists()


def test_a_backlog_held_back_by_the_rate_limit_shows_throttled_until(connection, published):
    connection.rate_limit = 5
    connection.save()
    contacts = make_contacts(connection, 310)
    batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    before = timezone.now()
    actions_sweep()
    connection.refresh_from_db()
    # 300 wait behind the window of 10: a minute at 5/s.
    assert connection.throttled_until >= before + timedelta(seconds=59)
    assert connection.throttled_until <= before + timedelta(seconds=62)
