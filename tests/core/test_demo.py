"""The demo command: an admin, the sandbox CRMs seeded, a connection to each at the console."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from crmhub.connections.models import Connection
from crmhub.sandbox.registry import KINDS


@pytest.mark.django_db(databases="__all__")
def test_demo_points_its_connections_at_the_console_and_says_where_it_is(settings):
    settings.CRMHUB_PUBLIC_URL = "http://127.0.0.1:9000"
    out = io.StringIO()
    call_command("demo", "--people", "3", stdout=out)
    assert User.objects.get(username="admin").is_superuser
    connections = Connection.objects.filter(name__startswith="Sandbox ")
    assert sorted(c.kind for c in connections) == sorted(KINDS)
    assert all(c.base_url.startswith("http://127.0.0.1:9000/sandbox/") for c in connections)
    assert out.getvalue().splitlines()[-1] == "The console: http://127.0.0.1:9000"
