"""Decide what an attempt's result means for its action: done, failed, unknown or retry.

The rule (design.md "Side effects"): anything may be retried when the request provably
never reached the server (connection refused, DNS failure, a rate-limit answer); safe
operations are also retried after timeouts and 5xx; an unsafe operation whose request may
have been carried out is ``unknown`` ("check and resend"), never resent silently. A
rate-limit answer does not use up an attempt: it is retried once the connection's pause
is over, until the action has been throttled for ``CRMHUB_THROTTLE_MAX_SECONDS``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from crmhub.actions.models import Action, Attempt
from crmhub.connectors import errors
from crmhub.connectors.base import OperationResult, RemoteContact

CHECK_AND_RESEND = "Check in the CRM whether it happened, and resend if it did not."


@dataclass(frozen=True)
class Outcome:
    """What to write for an attempt; ``retry_in`` seconds when it is to be tried again."""

    state: str
    attempt: str
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    retry_in: float | None = None
    #: What a success changed in the CRM, for the index (never stored on the action).
    contact: RemoteContact | None = None
    deleted_remote_id: str | None = None

    @property
    def throttled(self) -> bool:
        """Whether this is a rate-limit answer to retry (not counted as an attempt)."""
        return self.attempt == Attempt.Outcome.THROTTLED


def backoff(attempt: int) -> float:
    """Return the delay before retry number ``attempt`` (1, 2, ...): doubling, jittered.

    "Equal jitter": between half and all of base * 2^(attempt-1), capped by
    ``CELERY_RETRY_BACKOFF_MAX``, so delays grow exponentially and never bunch at zero.
    """
    ceiling = min(
        float(settings.CELERY_RETRY_BACKOFF_MAX),
        settings.CRMHUB_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0),
    )
    return random.uniform(ceiling / 2, ceiling)


def succeeded(result: OperationResult) -> Outcome:
    data = {"message": result.message, "data": dict(result.data)}
    if result.remote_id is not None:
        data["remote_id"] = result.remote_id
    return Outcome(
        Action.State.SUCCEEDED,
        Attempt.Outcome.SUCCEEDED,
        result=data,
        contact=result.contact,
        deleted_remote_id=result.deleted_remote_id,
    )


def failed(message: str) -> Outcome:
    return Outcome(Action.State.FAILED, Attempt.Outcome.FAILED, error=message)


def unknown(message: str) -> Outcome:
    return Outcome(
        Action.State.UNKNOWN, Attempt.Outcome.UNKNOWN, error=f"{message} {CHECK_AND_RESEND}"
    )


def batch_stopped(message: str) -> Outcome:
    """Return the end of an attempt that would be retried, but its bulk run was cancelled."""
    return Outcome(
        Action.State.CANCELLED,
        Attempt.Outcome.CANCELLED,
        error=f"Not tried again: its bulk run was cancelled. {message}".strip(),
    )


def retry(message: str, *, attempts: int, wait: float | None = None) -> Outcome:
    """Return a retry in ``wait`` (or the backoff) seconds, or failure past the last attempt."""
    if attempts >= settings.CRMHUB_MAX_ATTEMPTS:
        return failed(f"Gave up after {attempts} attempts: {message}")
    delay = max(wait or 0.0, backoff(attempts))
    return Outcome(Action.State.QUEUED, Attempt.Outcome.RETRY, error=message, retry_in=delay)


def throttled(message: str, *, pause: float, throttled_for: float | None) -> Outcome:
    """Return a retry once the connection's ``pause`` is over, or failure once the action
    has been throttled (for ``throttled_for`` seconds) past ``CRMHUB_THROTTLE_MAX_SECONDS``.

    Either way nothing was applied: a rate-limit answer means the request was refused.
    """
    cap = float(settings.CRMHUB_THROTTLE_MAX_SECONDS)
    if throttled_for is not None and throttled_for + pause > cap:
        return failed(
            f"The CRM kept answering 'too many requests' for {throttled_for / 60:.0f} min "
            f"(the limit is {cap / 60:.0f} min), so crmhub gave up; nothing was applied. "
            f"{message}"
        )
    delay = pause + random.uniform(0, min(1.0, pause / 4))  # not all back at one instant
    return Outcome(Action.State.QUEUED, Attempt.Outcome.THROTTLED, error=message, retry_in=delay)


def from_error(
    exc: errors.ConnectorError,
    *,
    safe: bool,
    attempts: int,
    pause: float = 0.0,
    throttled_for: float | None = None,
) -> Outcome:
    """Return the outcome of a connector error for a safe or unsafe operation.

    ``attempts``: the attempts that count (rate-limited ones do not); for a rate-limit
    answer, ``pause`` is how long the connection is paused and ``throttled_for`` how long
    the action has been throttled already (None: this is the first time).
    """
    message = str(exc)
    if isinstance(exc, errors.NeedsInput):
        return Outcome(
            Action.State.CANCELLED,
            Attempt.Outcome.CANCELLED,
            error=f"Nobody answered the plan's prompt in time, so the plan was cancelled "
            f"(the CRM rolls its changes back). {message}",
        )
    if isinstance(exc, errors.RateLimited):
        return throttled(message, pause=pause, throttled_for=throttled_for)
    if isinstance(exc, errors.UnknownOutcome):
        return unknown(message)
    if exc.retryable and not exc.request_sent:
        return retry(message, attempts=attempts)
    if exc.retryable:
        return retry(message, attempts=attempts) if safe else unknown(message)
    if isinstance(exc, errors.BadResponse) and (exc.status is None or exc.status < 300):
        # The answer was unreadable: the request may well have been carried out.
        return retry(message, attempts=attempts) if safe else unknown(message)
    return failed(message)


def from_crash(exc: BaseException, *, safe: bool, sent: bool) -> Outcome:
    """Return the outcome of an unexpected exception (a bug, a time limit)."""
    message = f"Internal error ({type(exc).__name__}) while running the action."
    if sent and not safe:
        return unknown(message)
    return failed(message)
