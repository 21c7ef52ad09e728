"""The demo command: an admin, the sandbox CRMs seeded, a connection to each at the console."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from crmhub.connections.models import Connection
from crmhub.sandbox.registry import KINDS
from crmhub.sandbox.services import sandbox_credentials


@pytest.mark.django_db(databases="__all__")
def test_demo_points_its_connections_at_the_sandbox_process_and_says_where_it_is(settings):
    settings.CRMHUB_PUBLIC_URL = "http://127.0.0.1:9000"
    settings.CRMHUB_SANDBOX_URL = "http://127.0.0.1:9001"
    out = io.StringIO()
    call_command("demo", "--people", "3", stdout=out)
    assert User.objects.get(username="admin").is_superuser
    connections = Connection.objects.filter(name__startswith="Sandbox ")
    assert sorted(c.kind for c in connections) == sorted(KINDS)
    assert all(c.base_url.startswith("http://127.0.0.1:9001/sandbox/") for c in connections)
    assert out.getvalue().splitlines()[-1] == "The console: http://127.0.0.1:9000"


@pytest.mark.django_db(databases="__all__")
def test_demo_again_moves_the_connections_made_when_the_console_served_the_sandbox(settings):
    """Data of a run before the sandbox had its own process: its demo connections reach the
    sandbox's process, signed in again; a connection an admin pointed elsewhere stays."""
    settings.CRMHUB_PUBLIC_URL = settings.CRMHUB_SANDBOX_URL = "http://127.0.0.1:9000"
    call_command("demo", "--people", "3", stdout=io.StringIO())
    Connection.objects.filter(kind="crmcom").update(base_url="https://crm.example.com/api/")
    settings.CRMHUB_SANDBOX_URL = "http://127.0.0.1:9001"
    out = io.StringIO()
    call_command("demo", "--people", "3", stdout=out)

    moved = Connection.objects.filter(name__startswith="Sandbox ").exclude(kind="crmcom")
    assert sorted(c.kind for c in moved) == sorted(set(KINDS) - {"crmcom"})
    for connection in moved:
        assert connection.base_url.startswith("http://127.0.0.1:9001/sandbox/")
        assert connection.get_secrets() == sandbox_credentials(kind=connection.kind)[1]
        assert f"Connection {connection.name!r} now reaches the sandbox" in out.getvalue()
    kept = Connection.objects.get(kind="crmcom", name__startswith="Sandbox ")
    assert kept.base_url == "https://crm.example.com/api/"
    assert "'Sandbox crmcom' now" not in out.getvalue()
