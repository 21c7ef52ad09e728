"""Real Celery workers in subprocesses, on the test databases and the test broker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connections

from crmhub.actions.models import Action
from crmhub.bench import processes
from crmhub.bench.sandboxes import connection_from_spec, listing_index
from crmhub.connections.models import Connection
from crmhub.connectors.base import ConnectionSpec

#: Short leases, sweeps and backoffs so a test sees a lost worker resolved in seconds.
FAST = {
    "CRMHUB_SWEEP_SECONDS": "1",
    "CRMHUB_ACTION_LEASE_SECONDS": "4",
    "CRMHUB_ACTION_REPUBLISH_SECONDS": "3",
    "CRMHUB_RETRY_BASE_SECONDS": "0.2",
    "CRMHUB_RATE_MAX_WAIT_SECONDS": "2",
    "CRMHUB_PROMPT_TIMEOUT_SECONDS": "5",
}
#: The longest an action may take to settle after lost workers: a few leases and sweeps.
SETTLE_SECONDS = 30.0


def database_url(alias: str) -> str:
    """Return a URL for the test database ``alias`` (as the test process uses it)."""
    config = connections[alias].settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = quote(str(config.get("USER") or ""), safe="")
    password = quote(str(config.get("PASSWORD") or ""), safe="")
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{config['NAME']}"


def worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a worker subprocess: the test settings (inherited), the
    test databases and broker of this run, fast timings."""
    env = dict(os.environ)
    env.update(FAST)
    env["DATABASE_URL"] = database_url("default")
    env["SANDBOX_DATABASE_URL"] = database_url("sandbox")
    env["CELERY_BROKER_URL"] = str(getattr(settings, "CELERY_BROKER_URL", ""))
    if env["CELERY_BROKER_URL"].startswith("filesystem"):
        env.pop("CELERY_BROKER_URL")  # the embedded broker, in this run's folder:
        env["CRMHUB_BROKER_DIR"] = str(settings.CRMHUB_BROKER_DIR)
    env.pop("CRMHUB_FAULT", None)
    env.update(extra or {})
    return env


class Worker(processes.Worker):
    """A worker of the test app, on the test databases and broker with fast timings."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        pool: str = "prefork",
        concurrency: int = 2,
        beat: bool = False,
        queues: str = processes.ALL_QUEUES,
    ) -> None:
        super().__init__(
            name,
            workdir,
            app="tests.integration.worker_app",
            queues=queues,
            pool=pool,
            concurrency=concurrency,
            beat=beat,
            env=worker_env(env),
        )


def settle(action_ids: Iterable[int], *, timeout: float = SETTLE_SECONDS) -> list[Action]:
    """Wait until every action is in a final state; return them (fail the test on timeout)."""
    ids = list(action_ids)
    deadline = time.monotonic() + timeout
    while True:
        actions = list(Action.objects.filter(pk__in=ids).order_by("pk"))
        if len(actions) == len(ids) and all(a.is_terminal for a in actions):
            return actions
        if time.monotonic() > deadline:
            stuck = {a.pk: a.state for a in actions if not a.is_terminal}
            raise AssertionError(f"actions not settled within {timeout:.0f} s: {stuck}")
        time.sleep(0.2)


def sandbox_connection(spec: ConnectionSpec, *, rate_limit: float = 50.0) -> Connection:
    """Return a Connection to a simulated CRM, with its contacts in the index."""
    connection = connection_from_spec(spec, name=f"Sandbox {spec.kind}", rate_limit=rate_limit)
    listing_index(connection=connection, page_size=50)
    return connection
