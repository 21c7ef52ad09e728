"""Bulk control: cancel a running bulk run, retry what did not work as one new run."""

from __future__ import annotations

import pytest

from crmhub.actions import executor, sweeper
from crmhub.actions.checks import action_mark_checked
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.selectors import batch_retry_targets, targets_digest
from crmhub.actions.services import TargetsChanged, batch_cancel, batch_enqueue, batch_retry
from crmhub.connectors import errors
from tests.actions.conftest import make_contacts

pytestmark = pytest.mark.django_db


def _batch(connection, count: int) -> Batch:  # type: ignore[no-untyped-def]
    contacts = make_contacts(connection, count)
    return batch_enqueue(
        operation="touch",
        connection=connection,
        params={"note": "bulk"},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )


def _states(batch: Batch, *states: str) -> list[Action]:
    """Put the batch's actions, in id order, in ``states`` (one each); return them."""
    actions = list(Action.objects.filter(batch=batch).order_by("id"))
    for action, state in zip(actions, states, strict=False):
        Action.objects.filter(pk=action.pk).update(state=state, error=f"was {state}")
        action.state = state
    return actions


def test_cancel_stamps_the_batch_and_cancels_only_what_is_queued(connection, operator, published):
    batch = _batch(connection, 5)
    _states(batch, Action.State.SUCCEEDED, Action.State.SENDING)
    assert batch_cancel(batch=batch, user=operator) == 3
    batch.refresh_from_db()
    assert batch.cancelled_by == operator and batch.cancelled_at is not None
    states = sorted(Action.objects.filter(batch=batch).values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "cancelled", "sending", "succeeded"]
    assert "operator" in Action.objects.filter(batch=batch, state="cancelled").first().error
    # A second cancel finds nothing left and keeps who cancelled first.
    assert batch_cancel(batch=batch, user=None) == 0
    batch.refresh_from_db()
    assert batch.cancelled_by == operator


def test_an_action_of_a_cancelled_batch_is_not_tried_again(connection, fake_crm, published):
    batch = _batch(connection, 2)
    action = Action.objects.filter(batch=batch).order_by("id").first()
    fake_crm.script.append(errors.Unavailable("refused", request_sent=False))  # retryable
    claimed = Action.objects.get(pk=action.pk)
    attempt = executor._claim(claimed, "t")
    batch_cancel(batch=batch, user=None)  # while it is being sent
    outcome = executor._send(claimed, attempt)
    assert outcome.retry_in is not None  # alone, it would be tried again
    executor._record(claimed, attempt, outcome)
    claimed.refresh_from_db()
    assert claimed.state == Action.State.CANCELLED
    assert "bulk run was cancelled" in claimed.error
    assert Attempt.objects.get(pk=attempt.pk).outcome == Attempt.Outcome.CANCELLED


def test_the_sweeper_cancels_what_came_back_to_a_cancelled_queue_and_finishes_it(
    connection, published
):
    batch = _batch(connection, 3)
    batch_cancel(batch=batch, user=None)
    first = Action.objects.filter(batch=batch).order_by("id").first()
    Action.objects.filter(pk=first.pk).update(state=Action.State.QUEUED)  # a late retry
    sweeper.actions_sweep()
    batch.refresh_from_db()
    assert batch.state == Batch.State.FINISHED
    assert batch.totals == {"cancelled": 3}


def test_retry_sends_failures_and_unknowns_checked_as_not_done_as_one_new_batch(
    connection, operator, published, django_capture_on_commit_callbacks
):
    batch = _batch(connection, 6)
    _, failed, unknown_no, unknown_yes, unknown_open, dismissed = _states(
        batch,
        Action.State.SUCCEEDED,
        Action.State.FAILED,
        Action.State.UNKNOWN,
        Action.State.UNKNOWN,
        Action.State.UNKNOWN,
        Action.State.FAILED,
    )
    action_mark_checked(action=unknown_no, verdict="not_happened", user=operator)
    action_mark_checked(action=unknown_yes, verdict="happened", user=operator)
    action_mark_checked(action=dismissed, verdict="dismissed", user=operator)
    targets = list(batch_retry_targets(batch=batch))
    assert targets == [failed, unknown_no]
    with django_capture_on_commit_callbacks(execute=True):
        retry = batch_retry(
            batch=batch, user=operator, expected=targets_digest(a.pk for a in targets)
        )
    assert retry.retry_of == batch and retry.size == 2 and retry.created_by == operator
    again = list(Action.objects.filter(batch=retry).order_by("id"))
    assert [a.resend_of_id for a in again] == [failed.pk, unknown_no.pk]
    assert [a.params for a in again] == [failed.params, unknown_no.params]
    assert all(a.state == Action.State.QUEUED for a in again)
    assert published, "the dispatcher publishes the new run at the connection's pace"
    # Resent: nothing of the first run is left to retry (an intent is never sent twice).
    assert list(batch_retry_targets(batch=batch)) == []
    with pytest.raises(InvalidAct, match="Nothing of this bulk run"):
        batch_retry(batch=batch, user=operator)
    assert unknown_open.pk not in {a.resend_of_id for a in again}


def test_retry_runs_only_on_what_the_confirmation_listed(connection, operator, published):
    batch = _batch(connection, 3)
    _states(batch, Action.State.FAILED, Action.State.FAILED)
    listed = targets_digest(a.pk for a in batch_retry_targets(batch=batch))
    Action.objects.filter(batch=batch, state=Action.State.QUEUED).update(
        state=Action.State.FAILED
    )  # one more failed since the page was shown
    with pytest.raises(TargetsChanged):
        batch_retry(batch=batch, user=operator, expected=listed)
    assert not Batch.objects.filter(retry_of=batch).exists()
