"""Fixtures of the connection tests: a DNS without the network, connection forms."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from crmhub.connections.models import Connection
from crmhub.connections.services import connection_save
from crmhub.connectors.http.guard import parse_ip
from tests.console.conftest import ann, connections  # noqa: F401 (fixtures)

PUBLIC_IP = "93.184.215.14"
#: What the fake DNS answers. Every other name does not exist: no test asks the real DNS.
NAMES: dict[str, list[str]] = {
    "crm.public.test": [PUBLIC_IP],
    "other.public.test": ["93.184.215.15"],
    "localhost": ["127.0.0.1", "::1"],
    "intranet.corp.test": ["10.20.30.40"],
    "metadata.rebind.test": ["169.254.169.254"],
    "half.public.test": [PUBLIC_IP, "fd00:ec2::254"],
}
API_KEY = "OLD-KEY-7c1e5b2a9d0f4e3b8a6c"


def fake_resolve(host: str, port: int) -> list[str]:
    """Resolve like the system would, from ``NAMES`` and numeric forms only."""
    if host.lower().rstrip(".") in NAMES:
        return list(NAMES[host.lower().rstrip(".")])
    literal = parse_ip(host)
    if literal is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [str(literal)]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], list[str]]:
    """Replace DNS at save time (the address policy's seam) and at connect time."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if isinstance(host, str) and parse_ip(host) is None:
            infos = []
            for address in fake_resolve(host, int(port or 0)):
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                infos.append((family, socket.SOCK_STREAM, 6, "", (address, int(port or 0))))
            return infos
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("crmhub.connections.addresses.resolve_host", fake_resolve)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake_resolve


def form_data(connection: Connection, **changes: str) -> dict[str, str]:
    """Return the change form of an AllClients ``connection`` as the admin page posts it."""
    data = {
        "name": connection.name,
        "base_url": connection.base_url,
        "country": connection.country,
        "rate_limit": str(connection.rate_limit),
        "sync_interval_minutes": str(connection.sync_interval_minutes),
        "full_sync_interval_hours": str(connection.full_sync_interval_hours),
        "is_active": "on",
        "setting_account_id": "1001",
        "setting_time_zone": "America/Chicago",
    }
    data.update(changes)
    return data


@pytest.fixture
def private_connection(db) -> Connection:  # type: ignore[no-untyped-def]
    """An AllClients connection a superuser allowed on private networks (like the demo's)."""
    connection = Connection(
        name="Sandbox AllClients",
        kind="allclients",
        base_url="http://127.0.0.1:8000/sandbox/allclients/api/2/",
        allow_private_network=True,
    )
    return connection_save(
        connection=connection,
        settings={"account_id": "1001", "time_zone": "America/Chicago"},
        new_secrets={"api_key": API_KEY},
    )
