"""Credentials stay where they were meant to go (issue 15, point 2).

Moving a connection to another scheme, host or port drops its stored credentials: the form
asks for every one again, the health goes back to "not checked", and nothing typed for the
old host is ever sent to the new one. Two loopback remotes record what reaches them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from crmhub.connections.forms import MOVED_HELP, TYPE_AGAIN
from crmhub.connections.models import Connection, Health
from crmhub.connections.services import connection_check, connection_save
from tests.connections.conftest import API_KEY, PUBLIC_IP, form_data
from tests.connections.recording import RecordingRemote

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_KEY = "NEW-KEY-" + "e" * 24
PUBLIC_NAME = "crm.public.test"


@pytest.fixture
def old_remote() -> Iterator[RecordingRemote]:
    remote = RecordingRemote()
    yield remote
    remote.stop()


@pytest.fixture
def new_remote() -> Iterator[RecordingRemote]:
    remote = RecordingRemote()
    yield remote
    remote.stop()


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``crm.public.test`` is public when the form checks it, loopback when connecting.

    (What a hostile DNS does; loopback also keeps every request on this machine.)
    """
    real = socket.getaddrinfo

    def at_save(host: str, port: int) -> list[str]:
        if host == PUBLIC_NAME:
            return [PUBLIC_IP]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def at_connect(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == PUBLIC_NAME:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("crmhub.connections.addresses.resolve_host", at_save)
    monkeypatch.setattr(socket, "getaddrinfo", at_connect)


@pytest.fixture
def connection(old_remote: RecordingRemote) -> Connection:
    """A connection a superuser set up on a private server, checked and healthy."""
    made = connection_save(
        connection=Connection(
            name="On the LAN",
            kind="allclients",
            base_url=old_remote.url(),
            allow_private_network=True,
        ),
        settings={"account_id": "1001", "time_zone": "America/Chicago"},
        new_secrets={"api_key": API_KEY},
    )
    assert connection_check(connection=made) == Health.OK
    old_remote.received.clear()
    return Connection.objects.get(pk=made.pk)


def _change_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def test_moving_to_a_public_host_asks_for_every_secret_and_sends_none_of_the_old(
    client, admin_user, superuser, connection, old_remote, new_remote, rebinding_dns
):
    client.force_login(admin_user)
    page = client.get(_change_url(connection)).content.decode()
    assert MOVED_HELP.strip() in page  # the form says so before anyone tries
    moved = f"http://{PUBLIC_NAME}:{new_remote.port}/api/2/"

    # Without the credential typed again: refused, nothing stored.
    response = client.post(_change_url(connection), form_data(connection, base_url=moved))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["secret_api_key"] == [TYPE_AGAIN]
    assert Connection.objects.get(pk=connection.pk).base_url == old_remote.url()

    # With it: moved, only the new credential kept, health back to "not checked".
    response = client.post(
        _change_url(connection), form_data(connection, base_url=moved, secret_api_key=NEW_KEY)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    fresh = Connection.objects.get(pk=connection.pk)
    assert fresh.base_url == moved
    assert fresh.get_secrets() == {"api_key": NEW_KEY}
    assert (fresh.health, fresh.get_health_display(), fresh.health_checked_at) == (
        Health.UNKNOWN,
        "Not checked",
        None,
    )
    assert (fresh.allow_private_network, fresh.allow_link_local) == (False, False)

    # "Test connection": the name now resolves inside; the guard refuses before sending.
    assert connection_check(connection=fresh) == Health.UNREACHABLE
    assert new_remote.received == []

    # A superuser approves the new address; the check sends the new credential only.
    client.force_login(superuser)
    response = client.post(
        _change_url(fresh), form_data(fresh, base_url=moved, allow_private_network="on")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert connection_check(connection=Connection.objects.get(pk=fresh.pk)) == Health.OK
    assert new_remote.received, "the check reached the new remote"
    assert all(request.carries(NEW_KEY) for request in new_remote.received)
    assert not any(request.carries(API_KEY) for request in new_remote.received)
    assert old_remote.received == []


def test_a_superuser_moving_it_types_the_secrets_again_too(
    client, superuser, connection, old_remote, new_remote
):
    client.force_login(superuser)
    moved = new_remote.url()  # another port: another address
    response = client.post(
        _change_url(connection), form_data(connection, base_url=moved, allow_private_network="on")
    )
    assert response.context["adminform"].form.errors["secret_api_key"] == [TYPE_AGAIN]
    response = client.post(
        _change_url(connection),
        form_data(connection, base_url=moved, allow_private_network="on", secret_api_key=NEW_KEY),
    )
    assert response.status_code == 302
    fresh = Connection.objects.get(pk=connection.pk)
    assert (fresh.get_secrets(), fresh.health) == ({"api_key": NEW_KEY}, Health.UNKNOWN)
    assert connection_check(connection=fresh) == Health.OK
    assert not any(request.carries(API_KEY) for request in new_remote.received)
    assert old_remote.received == []


def test_a_new_path_on_the_same_host_keeps_the_secrets_but_resets_the_health(
    client, superuser, connection, old_remote
):
    client.force_login(superuser)
    same_host = old_remote.url(path="/api/3/")
    response = client.post(
        _change_url(connection),
        form_data(connection, base_url=same_host, allow_private_network="on"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    fresh = Connection.objects.get(pk=connection.pk)
    assert (fresh.base_url, fresh.get_secrets()) == (same_host, {"api_key": API_KEY})
    assert fresh.health == Health.UNKNOWN


def test_the_service_drops_the_old_secrets_on_a_move_whoever_calls_it(connection, new_remote):
    """Not only the form: ``connection_save`` never carries secrets to another host."""
    connection.base_url = new_remote.url()
    saved = connection_save(
        connection=connection,
        settings=dict(connection.settings),
        new_secrets={},
        may_allow_private=False,
    )
    fresh = Connection.objects.get(pk=saved.pk)
    assert fresh.get_secrets() == {}
    assert fresh.allow_private_network is False
    assert connection_check(connection=fresh) != Health.OK
    assert new_remote.received == []
