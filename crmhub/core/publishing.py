"""Publish task messages so that a broker that is down never turns into an error page.

The database is the record of every request (an action, a sync run, a connection check);
the broker is only its doorbell. When the broker cannot be reached, ``publish_or_defer``
logs a warning and returns False instead of raising; the caller leaves its row marked for
the sweeper, which publishes it once the broker is back. A view that wants to tell the user
so wraps its service call in ``watch()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kombu import exceptions as kombu_errors

logger = logging.getLogger("crmhub.broker")

#: What a publish raises when the broker cannot be reached (kombu wraps most of them; a
#: filesystem broker whose folder is gone raises OSError).
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    kombu_errors.KombuError,
    kombu_errors.ConnectionError,
    kombu_errors.ChannelError,
    OSError,
)
#: Shown to staff on a request saved while the broker was down.
BROKER_DOWN = (
    "Saved, not sent yet: the message broker cannot be reached. It will be sent as soon as "
    "the broker is back."
)

_local = threading.local()


def _failures() -> int:
    return int(getattr(_local, "failures", 0))


def publish_or_defer(send: Callable[[], object], *, what: str) -> bool:
    """Call ``send`` (which publishes); return False, logged, if the broker is unreachable."""
    try:
        send()
    except BROKER_ERRORS as exc:
        _local.failures = _failures() + 1
        logger.warning(
            "broker unreachable; %s saved for the sweeper (%s)", what, type(exc).__name__
        )
        return False
    return True


def broker_warm() -> bool:
    """Ready what a process's first publish needs, so that no request pays for it; return
    whether the broker answered (nothing raises).

    The first publish of a process imported the broker's transport and Celery's message
    code and opened a connection: on Redis 114-124 ms of CPU, a later one 5 ms. Nothing is
    published: the producer's connection goes back to the pool, open, for the first
    request that publishes to take.
    """
    from crmhub.celery import app

    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=0)  # one try
        # Built on first use: the router, the message sender (with its event dispatcher).
        app.amqp.router  # noqa: B018
        app.amqp.send_task_message  # noqa: B018
        app.backend  # noqa: B018
    except BROKER_ERRORS as exc:
        logger.info("broker not warmed: %s", type(exc).__name__)
        return False
    return True


@dataclass
class Watch:
    """What ``watch()`` saw: whether a publish in its block found the broker down."""

    start: int

    @property
    def broker_down(self) -> bool:
        return _failures() > self.start


@contextmanager
def watch() -> Iterator[Watch]:
    """Within the block, record whether publishing (in this thread) found the broker down."""
    yield Watch(start=_failures())
