"""Carry out one action: receive, pace, claim, send, record — each step a short transaction.

1. *Receive*: one message handles a queued action at a time and is counted (a message that
   keeps killing its worker is failed after ``CRMHUB_MAX_DELIVERIES``); a copy arriving
   meanwhile is dropped uncounted; anything but a due, queued action is left alone.
2. *Pace*: take a slot of the connection's rate limit (sleep a little, or put the action
   back for later without claiming it); a connection paused by a rate-limit answer is
   not sent to, whoever reserved the slot.
3. *Claim*: ``queued → sending`` with a conditional update, so only one worker ever sends;
   the attempt row is written in the same transaction.
4. *Send* through the connector, with no transaction open. A rate-limit answer pauses the
   connection for every worker.
5. *Record* the outcome and the redacted calls, fenced by the attempt number (tried
   again on a transient database error), then refill the connection's dispatch window; a
   change the CRM confirmed is first written through to the index, so the index shows it
   by the time the action says it succeeded. An answer arriving after staff resent the
   action (it had been presumed lost) does not overwrite it: it is kept on its attempt,
   marked late.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db
from django.utils import timezone

from crmhub.actions import dispatch, outcomes, ratelimit
from crmhub.actions.faults import arm_after_send, fault_point
from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.outcomes import Outcome
from crmhub.actions.prompts import PromptRelay
from crmhub.connectors.base import Connector
from crmhub.connectors.errors import ConnectorError, NeedsInput, RateLimited
from crmhub.connectors.registry import get_connector
from crmhub.contacts.models import Contact
from crmhub.contacts.services import contact_write_through
from crmhub.core import redaction, rows

logger = logging.getLogger("crmhub.actions")
T = TypeVar("T")

OUT_OF_TIME = (
    "The task's time limit left no time to wait for an answer (the prompt waits and the "
    "plan's run must fit in it)."
)
#: The states an attempt's outcome may still be written over (same attempt number):
#: the sweeper may have presumed the worker lost (unknown, or queued again) meanwhile.
RECORDABLE = (
    Action.State.SENDING,
    Action.State.NEEDS_INPUT,
    Action.State.UNKNOWN,
    Action.State.QUEUED,
)
#: Writing an outcome is tried again on a transient database error for this long.
OUTCOME_WRITE_SECONDS = 120.0

# The conditions of the statements run for every action, in SQL (``crmhub.core.rows``: the
# ORM took more CPU to build them than the database to run them). Each is the queryset
# filter named beside it, over the columns given by ``rows.columns``.
#: ``pk=…, state=queued`` and free: never received, silent past ``in_flight_seconds``, or
#: received by this same message (``task_id``).
_RECEIVABLE = (
    "{id} = %s AND {state} = %s AND ({received_at} IS NULL OR {received_at} < %s "
    "OR {received_task_id} = %s)"
)
#: ``pk=…, state=queued, attempts=<as read>``.
_CLAIMABLE = "{id} = %s AND {state} = %s AND {attempts} = %s"
#: ``pk=…, attempts=<the attempt's number>, state__in=RECORDABLE`` and not an unknown
#: outcome that staff have resent since.
_RECORDABLE_NOT_RESENT = (
    "{id} = %s AND {attempts} = %s AND {state} IN ("
    + ", ".join(["%s"] * len(RECORDABLE))
    + ") AND ({state} <> %s OR {resent_at} IS NULL)"
)


def action_execute(*, action_id: int, task_id: str = "") -> str:
    """Carry out action ``action_id`` if this delivery may; return what happened."""
    started = time.monotonic()
    action = _receive(action_id, task_id)
    if action is None:
        return "skipped"
    if not action.connection.is_active:
        _switched_off(action)
        return "connection inactive"
    if action.deliveries > settings.CRMHUB_MAX_DELIVERIES:
        _poisoned(action)
        return "poisoned"
    if action.not_before > timezone.now() + timedelta(seconds=1):
        _unpublish(action)
        return "not due"
    fault_point("before_claim", action_id=action.pk, first_try=action.deliveries == 1)
    if not _pace(action):
        return "deferred"
    attempt = _claim(action, task_id)
    if attempt is None:
        return "claimed elsewhere"
    outcome = _send(action, attempt, until=_prompt_budget_end(started))
    fault_point("after_response", action_id=action.pk, first_try=attempt.number == 1)
    _record(action, attempt, outcome)
    return outcome.state


def _receive(action_id: int, task_id: str = "") -> Action | None:
    """Take the action for this message if it may handle it; return it (None: not queued,
    or another message is handling it).

    One message handles a queued action at a time: it is counted (``deliveries``) and
    marked as the one handling it. Another message may take over — and is counted — once
    the first is known lost: it is that same message received again (the broker redelivers
    it after its worker died), or it went silent longer than a live worker takes to claim
    or put back the action (``in_flight_seconds``), or the sweeper found it lost. A copy
    arriving meanwhile (the sweeper republished, the dispatcher published twice) is dropped
    without being counted: copies never count as lost workers, and a message that kills its
    worker runs at most ``CRMHUB_MAX_DELIVERIES`` times.
    """
    now = timezone.now()
    lost_before = rows.value(Action, "received_at", now - timedelta(seconds=in_flight_seconds()))
    taken = rows.rows_update(
        Action,
        values={
            "deliveries": rows.Sql(f"{rows.columns(Action)['deliveries']} + 1"),
            "received_task_id": task_id[:64],
            "received_at": now,
        },
        where=_RECEIVABLE.format(**rows.columns(Action)),
        params=[action_id, Action.State.QUEUED.value, lost_before, task_id[:64]],
    )
    action = rows.row_get(Action, pk=action_id, related="connection")
    if action is None:
        return None
    if not taken:
        if action.state == Action.State.QUEUED:
            logger.info("action %s: a copy of its message dropped (another handles it)", action.pk)
        return None
    return action


def in_flight_seconds() -> float:
    """Return how long a live worker may hold a received action before claiming it or
    putting it back (the longest rate-limit wait, and a margin): a message silent longer
    was lost with its worker."""
    return float(settings.CRMHUB_RATE_MAX_WAIT_SECONDS) + 10.0


def _poisoned(action: Action) -> None:
    now = timezone.now()
    failed = Action.objects.filter(pk=action.pk, state=Action.State.QUEUED).update(
        state=Action.State.FAILED,
        error=f"Its worker was lost {action.deliveries - 1} times while handling it; "
        "not tried again (a poison message).",
        finished_at=now,
        updated_at=now,
        published_at=None,
    )
    if failed:  # two copies of the message may arrive at once: one of them fails it
        logger.error("action %s failed as poison after %s deliveries", action.pk, action.deliveries)


def _switched_off(action: Action) -> None:
    """Cancel an action whose connection was switched off before it could be sent."""
    now = timezone.now()
    Action.objects.filter(pk=action.pk, state=Action.State.QUEUED).update(
        state=Action.State.CANCELLED,
        error=f"Cancelled before it was sent: the connection {action.connection.name} is "
        "switched off.",
        finished_at=now,
        updated_at=now,
        published_at=None,
    )


#: What rescheduling an action resets: its messages start counting anew.
RESCHEDULED = {"published_at": None, "deliveries": 0, "received_task_id": "", "received_at": None}


def _unpublish(action: Action) -> None:
    """Hand an early message's action back to the dispatcher (it publishes when due)."""
    Action.objects.filter(pk=action.pk, state=Action.State.QUEUED).update(**RESCHEDULED)


def _pace(action: Action) -> bool:
    """Wait for a rate-limit slot; return False if the action was put back for later.

    A slot reserved before the connection was paused (another worker got a rate-limit
    answer meanwhile) is not used: the action waits for the pause to end.
    """
    slot = ratelimit.slot_take(connection=action.connection)
    ratelimit.throttle_note(connection=action.connection, wait=slot.wait)
    wait = slot.wait
    if slot.granted:
        if slot.wait <= 0:
            return True  # the slot was decided with the pause as it is now
        time.sleep(slot.wait)
        wait = ratelimit.pause_remaining(connection=action.connection)
        if wait <= 0:
            return True
    now = timezone.now()
    later: dict[str, object] = {"not_before": now + timedelta(seconds=wait)}
    if slot.quota:
        later["error"] = "The connection's daily quota is used up: waits until midnight UTC."
    Action.objects.filter(pk=action.pk, state=Action.State.QUEUED).update(
        updated_at=now, **RESCHEDULED, **later
    )
    return False


def _claim(action: Action, task_id: str) -> Attempt | None:
    """Claim ``action`` for this worker; return its new attempt, or None if taken."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.CRMHUB_ACTION_LEASE_SECONDS)
    number = action.attempts + 1
    with transaction.atomic():
        # The attempt count fences the claim: the row is exactly as this worker read it.
        claimed = rows.rows_update(
            Action,
            values={
                "state": Action.State.SENDING,
                "lease_until": lease,
                "attempts": number,
                "task_id": task_id[:64],
                "updated_at": now,
            },
            where=_CLAIMABLE.format(**rows.columns(Action)),
            params=[action.pk, Action.State.QUEUED.value, action.attempts],
        )
        if not claimed:
            logger.info("action %s already claimed; delivery dropped", action.pk)
            return None
        action.state, action.attempts, action.lease_until = Action.State.SENDING, number, lease
        attempt = Attempt(action=action, number=number, started_at=now, task_id=task_id[:64])
        rows.row_insert(attempt)
        return attempt


def _prompt_budget_end(started: float) -> float:
    """Return by when (``time.monotonic()``) prompt waits must end for the plan to finish.

    The task is stopped at its soft time limit; after the last answer the plan may still
    run for ``CRMHUB_PLAN_IDLE_SECONDS``.
    """
    return started + settings.CELERY_TASK_SOFT_TIME_LIMIT - settings.CRMHUB_PLAN_IDLE_SECONDS


def _send(action: Action, attempt: Attempt, *, until: float | None = None) -> Outcome:
    """Run the connector; return the outcome (the attempt's calls are kept on it).

    Prompts wait until ``until`` at the latest (``time.monotonic()``).
    """
    try:
        # One action after another: the worker keeps its connection to the CRM open.
        spec = dataclasses.replace(action.connection.spec(), keep_alive=True)
        connector: Connector = get_connector(spec)
    except Exception as exc:
        logger.exception("action %s: cannot build its connector", action.pk)
        return outcomes.failed(f"The connection cannot be used: {type(exc).__name__}.")
    relay = PromptRelay(action_id=action.pk, attempt=attempt.number, until=until)
    try:
        first_try = attempt.number == 1
        arm_after_send(connector, action_id=action.pk, first_try=first_try)
        fault_point("before_send", action_id=action.pk, first_try=first_try)
        result = connector.run(action.operation, action.params, on_prompt=relay)
    except ConnectorError as exc:
        if isinstance(exc, NeedsInput) and relay.out_of_time:
            exc.message = f"{exc} {OUT_OF_TIME}"
            exc.args = (exc.message,)
        return _scrubbed(_from_error(action, attempt, exc), connector)
    except SoftTimeLimitExceeded as exc:
        if action.safe:
            return outcomes.retry("Took too long; stopped.", attempts=attempt.number)
        return outcomes.unknown(f"Took too long and was stopped ({type(exc).__name__}).")
    except Exception as exc:
        logger.exception("action %s: connector crashed", action.pk)
        return outcomes.from_crash(exc, safe=action.safe, sent=True)
    else:
        return _scrubbed(outcomes.succeeded(result), connector)
    finally:
        attempt.calls = [call.as_dict() for call in connector.drain_calls()]
        connector.close()


def _from_error(action: Action, attempt: Attempt, exc: ConnectorError) -> Outcome:
    """Return the outcome of ``exc``; a rate-limit answer pauses the connection for every
    worker and uses up no attempt (the throttling has its own time cap)."""
    counted = attempt.number - action.throttles
    if not isinstance(exc, RateLimited):
        return outcomes.from_error(exc, safe=action.safe, attempts=counted)
    pause = ratelimit.bucket_pause(
        connection=action.connection, seconds=ratelimit.rate_limited_pause(exc)
    )
    since = action.throttled_since
    throttled_for = (timezone.now() - since).total_seconds() if since else None
    return outcomes.from_error(
        exc, safe=action.safe, attempts=counted, pause=pause, throttled_for=throttled_for
    )


def _scrubbed(outcome: Outcome, connector: Connector) -> Outcome:
    """Return ``outcome`` with the connection's secrets masked in its error and result.

    A remote may echo a credential in what it answers (a vendor error, the start of an
    unreadable body, a success message), and the action's row is shown to staff.
    """

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return redaction.redact_text(connector.http.redact(value))
        if isinstance(value, Mapping):
            return {key: scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [scrub(item) for item in value]
        return value

    return dataclasses.replace(outcome, error=scrub(outcome.error), result=scrub(outcome.result))


def _write_through(action: Action, outcome: Outcome) -> Contact | None:
    """Write what the CRM confirmed it changed into the index; return the contact's row.

    Done before the success is recorded, so that whoever sees the action succeeded finds
    the change in the index too (the CRM's answer is the proof, whatever the bookkeeping
    of the action says next). A failure here only leaves the index to the next sync.
    """
    if outcome.contact is None and outcome.deleted_remote_id is None:
        return None
    try:
        return contact_write_through(
            connection=action.connection,
            remote=outcome.contact,
            deleted_remote_id=outcome.deleted_remote_id,
        )
    except Exception:
        logger.exception("action %s: the index was not updated; the next sync will", action.pk)
        return None


def _record(action: Action, attempt: Attempt, outcome: Outcome) -> None:
    """Write the outcome of ``attempt``, fenced by its number; schedule a retry if any.

    An action of a cancelled bulk run is not tried again: it ends cancelled.
    """
    if outcome.retry_in is not None and action.batch_id is not None:
        stopped = Batch.objects.filter(pk=action.batch_id, cancelled_at__isnull=False).exists()
        if stopped:
            outcome = outcomes.batch_stopped(outcome.error)
    now = timezone.now()
    values: dict[str, object] = {"state": outcome.state, "updated_at": now, "lease_until": None}
    countdown: float | None = None
    if outcome.retry_in is not None:
        countdown = outcome.retry_in
        start = now + timedelta(seconds=countdown)
        soon = countdown <= dispatch.MAX_COUNTDOWN_SECONDS
        values.update(RESCHEDULED, not_before=start, error=outcome.error)
        values["published_at"] = start if soon else None
    else:
        values.update(result=outcome.result, error=outcome.error, finished_at=now)
    if outcome.state == Action.State.SUCCEEDED:
        contact = _write_through(action, outcome)
        if contact is not None and action.contact_id is None:  # a record it created
            values["contact"] = contact
    if outcome.throttled:
        columns = rows.columns(Action)
        values.update(
            throttles=rows.Sql(f"{columns['throttles']} + 1"),
            throttled_since=rows.Sql(
                f"COALESCE({columns['throttled_since']}, %s)",
                (rows.value(Action, "throttled_since", now),),
            ),
        )
    written, late = _transient_retried(
        action, lambda: _outcome_write(action, attempt, outcome, values, now)
    )
    if late:
        logger.warning(
            "action %s: outcome of attempt %s (%s) arrived after it was resent; kept on the "
            "attempt only",
            action.pk,
            attempt.number,
            outcome.attempt,
        )
        return
    if not written:
        logger.warning(
            "action %s: outcome of attempt %s (%s) not recorded, the action moved on",
            action.pk,
            attempt.number,
            outcome.state,
        )
        return
    logger.info("action %s attempt %s: %s", action.pk, attempt.number, outcome.state)
    if countdown is not None and countdown <= dispatch.MAX_COUNTDOWN_SECONDS:
        dispatch.publish([action.pk], countdown=countdown, queue=action.queue)
    if action.batch_id is not None:
        dispatch.refill(
            connection_id=action.connection_id,
            rate_limit=action.connection.rate_limit,
            action_id=action.pk,
        )


def _outcome_write(
    action: Action, attempt: Attempt, outcome: Outcome, values: dict[str, object], now: object
) -> tuple[bool, bool]:
    """Write the outcome in one transaction; return (written on the action, arrived late).

    Late: the action is an unknown outcome that staff have resent since; the outcome is
    then kept on its attempt only, so the resend is never contradicted behind their back.
    """
    with transaction.atomic():
        written = bool(
            rows.rows_update(
                Action,
                values=values,
                where=_RECORDABLE_NOT_RESENT.format(**rows.columns(Action)),
                params=[
                    action.pk,
                    attempt.number,
                    *(state.value for state in RECORDABLE),
                    Action.State.UNKNOWN.value,
                ],
            )
        )
        late = (
            not written
            and Action.objects.filter(
                pk=action.pk, attempts=attempt.number, state=Action.State.UNKNOWN
            ).exists()
        )
        rows.rows_update(
            Attempt,
            values={
                "outcome": outcome.attempt,
                "error": outcome.error,
                "calls": attempt.calls,
                "finished_at": now,
                "late": late,
            },
            where=f"{rows.columns(Attempt)['id']} = %s",
            params=[attempt.pk],
        )
    return written, late


def _transient_retried(action: Action, write: Callable[[], T]) -> T:
    """Return ``write()``, tried again on a transient database error ("database is locked",
    a lost connection) for up to ``OUTCOME_WRITE_SECONDS``. ``write`` must be one
    transaction, fenced so that running it twice changes nothing more."""
    delay = 0.05
    deadline = time.monotonic() + OUTCOME_WRITE_SECONDS
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "action %s: writing its outcome failed (%s); trying again in %.2f s",
                action.pk,
                exc,
                delay,
            )
            if not db.in_atomic_block and db.connection is not None and not db.is_usable():
                db.close()  # a lost connection: the next query opens a new one
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
