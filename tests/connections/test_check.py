"""'Test connection' runs in a real worker against the sandbox and records the health."""

from __future__ import annotations

import pytest
from django.db import transaction

from crmhub.bench.processes import free_port
from crmhub.bench.sandboxes import connection_from_spec
from crmhub.connections.models import Connection, Health
from crmhub.connections.services import connection_check_request
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.integration]


def _check(connection: Connection) -> Connection:
    with transaction.atomic():
        connection_check_request(connection=connection)
    wait_for(
        lambda: Connection.objects.get(pk=connection.pk).health != Health.UNKNOWN,
        timeout=30,
        message="the worker never recorded the health",
    )
    return Connection.objects.get(pk=connection.pk)


@pytest.mark.parametrize("kind", ["allclients", "apptivo", "collect", "crmcom"])
def test_good_credentials_make_the_connection_ok(celery_worker, sandbox_spec, kind):
    connection = _check(connection_from_spec(sandbox_spec(kind, people=3), name="Sandbox"))
    assert connection.health == Health.OK, connection.health_error
    assert connection.health_checked_at is not None


def test_wrong_credentials_are_auth_failed(celery_worker, sandbox_spec):
    spec = sandbox_spec("allclients", people=3, wrong_secrets=True)
    connection = _check(connection_from_spec(spec, name="Sandbox"))
    assert connection.health == Health.AUTH_FAILED
    for secret in spec.secrets.values():
        assert secret not in connection.health_error


def test_an_unreachable_host_is_unreachable_with_the_reason(celery_worker, sandbox_spec):
    spec = sandbox_spec("allclients", people=3)
    connection = connection_from_spec(spec, name="Sandbox")
    Connection.objects.filter(pk=connection.pk).update(
        base_url=f"http://127.0.0.1:{free_port()}/api/2/"
    )
    connection = _check(Connection.objects.get(pk=connection.pk))
    assert connection.health == Health.UNREACHABLE
    assert "connect" in connection.health_error.lower()


def test_a_private_address_without_permission_is_refused_before_sending(
    celery_worker, sandbox_spec
):
    connection = connection_from_spec(sandbox_spec("allclients", people=3), name="Sandbox")
    Connection.objects.filter(pk=connection.pk).update(allow_private_network=False)
    connection = _check(Connection.objects.get(pk=connection.pk))
    assert connection.health == Health.UNREACHABLE
    assert "not allowed" in connection.health_error
