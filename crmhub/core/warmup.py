"""Ready a web process for its first requests, off their path.

A console process's first publish imported the broker's transport and Celery's message
code and opened a connection: the bulk confirmation that happened to be first paid ~120 ms
of CPU for it on Redis. And every request that made many objects (a confirmation makes a
few for each of its 2,000 contacts) set off Python's full collection, which walked the
whole heap of the process, Django and every module with it: ~50 ms of CPU each time.

Once the server has started, a thread warms the broker (``publishing.broker_warm``), has
the URLs' modules imported (views, forms: the first request's otherwise), and then freezes
what the process holds (``gc.freeze``): what was made at start lives as long as the
process, and the collector no longer walks it. Nothing waits for the thread; a
request that publishes before it is done only does the work itself, as before.
"""

from __future__ import annotations

import gc
import logging
import threading

from django.urls import get_resolver

from crmhub.core import publishing

logger = logging.getLogger("crmhub.web")

_started = threading.Event()


def web_warm(*, publishes: bool) -> None:
    """Warm the broker if the process ``publishes``, then freeze the heap made so far."""
    if publishes:
        publishing.broker_warm()
    get_resolver().url_patterns  # noqa: B018 - imports every view, form and their modules
    gc.collect()
    gc.freeze()
    logger.debug("web process warmed: %d objects frozen", gc.get_freeze_count())


def web_warm_start(*, publishes: bool) -> threading.Thread | None:
    """Run ``web_warm`` once per process, in a daemon thread; return it (None if started)."""
    if _started.is_set():
        return None
    _started.set()
    thread = threading.Thread(
        target=web_warm, kwargs={"publishes": publishes}, name="web-warm", daemon=True
    )
    thread.start()
    return thread
