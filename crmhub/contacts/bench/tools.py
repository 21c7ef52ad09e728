"""Helpers of the contact benchmarks: timing, percentiles, a sandbox server, seeding."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.conf import settings

from crmhub.connections.models import Connection
from crmhub.connectors.base import RemoteContact
from crmhub.sandbox.people import PersonSpec


def percentile(values: list[float], share: float) -> float:
    """Return the ``share`` percentile of ``values`` (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Timer:
    """Measure one block: ``with Timer() as t: ...; t.seconds``."""

    seconds = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_server() -> Iterator[str]:
    """Serve crmhub (and so the sandbox CRMs) from a separate process; yield its URL.

    The server reads the same database files as this process (the environment is passed
    on), so what is seeded here is what it serves.
    """
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "crmhub.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CRMHUB_PUBLIC_URL": f"http://127.0.0.1:{port}"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def sandbox_connection(*, kind: str, url: str, name: str) -> Connection:
    """Return a connection of ``kind`` to the sandbox served at ``url``."""
    from crmhub.sandbox.registry import module
    from crmhub.sandbox.services import sandbox_account, sandbox_base_url

    account = sandbox_account(kind=kind)
    kind_settings, secrets = module(kind).connection_settings(account.credentials)
    connection = Connection(
        name=name,
        kind=kind,
        base_url=sandbox_base_url(kind=kind, public_url=url),
        settings=kind_settings,
        allow_private_network=True,
        rate_limit=10_000.0,
    )
    connection.set_secrets(secrets)
    connection.save()
    return connection


def remote_from_person(person: PersonSpec, *, record_type: str) -> RemoteContact:
    """Return a demo person as a connector would list it."""
    return RemoteContact(
        remote_id=str(person.key),
        record_type=record_type,
        first_name=person.first_name,
        last_name=person.last_name,
        company=person.company,
        emails=(person.email,) if person.email else (),
        phones=(person.phone,) if person.phone else (),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        raw={"key": person.key, "shared": person.shared},
    )
