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
