"""Fixtures of the reliability tests: worker subprocesses, the ledger remote, connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crmhub.celery import app
from crmhub.connections.models import Connection
from crmhub.connectors import registry
from crmhub.core import queues
from crmhub.sandbox import faults
from crmhub.sandbox.models import Call
from tests.integration.harness import Worker
from tests.integration.remote import KIND, LedgerConnector, LedgerRemote


def _purge_queues() -> None:
    with app.connection_for_write() as connection:
        for name in queues.ALL:
            connection.default_channel.queue_purge(name)


@pytest.fixture
def workers(transactional_db, tmp_path: Path) -> Iterator[Callable[..., Worker]]:  # type: ignore[no-untyped-def]
    """Return a factory of started worker subprocesses; all are stopped after the test."""
    _purge_queues()
    started: list[Worker] = []

    def start(name: str = "w1", *, ready: bool = True, **options: object) -> Worker:
        worker = Worker(name, tmp_path, **options)  # type: ignore[arg-type]
        started.append(worker)
        return worker.wait_ready() if ready else worker

    yield start
    for worker in started:
        worker.kill()
        # Shown by pytest only when the test failed.
        print(f"--- log of worker {worker.name} (last lines) ---\n{worker.text()[-4000:]}")
    _purge_queues()


@pytest.fixture
def ledger_remote(transactional_db) -> Iterator[LedgerRemote]:  # type: ignore[no-untyped-def]
    registry.register(KIND, LedgerConnector)
    faults.reset(KIND)
    remote = LedgerRemote()
    yield remote
    remote.stop()
    faults.reset(KIND)
    registry.unregister(KIND)


def ledger_connection(url: str, **settings: object) -> Connection:
    connection = Connection(
        name=f"Ledger {url}",
        kind=KIND,
        base_url=url,
        rate_limit=100.0,
        allow_private_network=True,
        settings={"read_timeout": 2.0, **settings},
    )
    connection.set_secrets({"api_key": "ledger-secret-key-0001"})
    connection.save()
    return connection


@pytest.fixture
def ledger(ledger_remote: LedgerRemote) -> Connection:
    return ledger_connection(ledger_remote.url)


def applied_by_effect(kind: str = KIND) -> Counter[str]:
    """Return how many times each effect was applied, per the sandbox ledger."""
    return Counter(Call.objects.filter(kind=kind, applied=True).values_list("effect", flat=True))
