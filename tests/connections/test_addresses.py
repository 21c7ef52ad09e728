"""Where a connection may point, and who may point it there (issue 15, point 1).

A superuser's "private networks" and "link-local" switches approve one address. Anyone else
who changes the address is checked with both off, whatever the connection stores; and the
outbound guard refuses link-local and metadata addresses at connect time unless the
link-local switch is on. No test resolves a name over the network (``resolver``).
"""

from __future__ import annotations

import ipaddress

import pytest
from django.urls import reverse

from crmhub.connections import addresses
from crmhub.connections.addresses import STRICT, AddressPolicy, address_refusal
from crmhub.connections.models import Connection
from crmhub.connectors import errors
from crmhub.connectors.collect import prompting
from crmhub.connectors.collect.declaration import websocket_url
from crmhub.connectors.http import HttpClient
from crmhub.connectors.http.guard import address_allowed, parse_ip
from tests.connections.conftest import API_KEY, PUBLIC_IP, form_data

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_KEY = "NEW-KEY-" + "b" * 24
#: Internal addresses in the forms an attacker would try (each refused for an admin).
INTERNAL = [
    pytest.param("http://169.254.169.254/latest/meta-data/", id="aws-metadata"),
    pytest.param("http://[fd00:ec2::254]/latest/", id="aws-metadata-ipv6"),
    pytest.param("http://127.0.0.1:6379/", id="loopback"),
    pytest.param("http://[::1]:8000/", id="loopback-ipv6"),
    pytest.param("http://[::ffff:127.0.0.1]/", id="ipv4-mapped-ipv6"),
    pytest.param("http://2130706433/", id="decimal"),
    pytest.param("http://0177.0.0.1/", id="octal"),
    pytest.param("http://0x7f.0.0.1/", id="hex"),
    pytest.param("http://127.1/", id="short-form"),
    pytest.param("http://10.1.2.3/api/", id="10/8"),
    pytest.param("http://172.16.5.4/api/", id="172.16/12"),
    pytest.param("http://192.168.1.10/api/", id="192.168/16"),
    pytest.param("http://localhost:8000/", id="localhost"),
    pytest.param("http://api.localhost/", id="dot-localhost"),
    pytest.param("http://intranet.corp.test/", id="name-to-private"),
    pytest.param("http://metadata.rebind.test/", id="name-to-metadata"),
    pytest.param("http://half.public.test/", id="name-with-one-bad-address"),
    pytest.param("http://0.0.0.0:8000/", id="unspecified"),
    pytest.param("http://[fe80::1%25eth0]/", id="ipv6-link-local"),
    pytest.param("http://[2002:a9fe:a9fe::1]/", id="6to4-of-metadata"),
    pytest.param("http://100.64.0.1/", id="shared-address-space"),
]


def _change(client, connection: Connection, **changes: str):  # type: ignore[no-untyped-def]
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    return client.post(url, form_data(connection, **changes))


def _stored(connection: Connection) -> tuple[str, bool, bool, dict[str, str]]:
    fresh = Connection.objects.get(pk=connection.pk)
    return (
        fresh.base_url,
        fresh.allow_private_network,
        fresh.allow_link_local,
        fresh.get_secrets(),
    )


# -- an admin (not a superuser) on a connection allowed on private networks ---------------------
@pytest.mark.parametrize("url", INTERNAL)
def test_an_admin_cannot_point_a_private_allowed_connection_inside(
    client, admin_user, private_connection, resolver, url
):
    client.force_login(admin_user)
    before = _stored(private_connection)
    response = _change(client, private_connection, base_url=url, secret_api_key=NEW_KEY)
    assert response.status_code == 200
    errors_shown = response.context["adminform"].form.errors
    assert "not allowed to reach" in " ".join(errors_shown["base_url"]), errors_shown
    assert _stored(private_connection) == before


def test_an_admin_may_still_save_the_unchanged_private_address(
    client, admin_user, private_connection, resolver
):
    """The superuser's approval holds for the address it was given for."""
    client.force_login(admin_user)
    response = _change(client, private_connection, name="Renamed by an admin")
    assert response.status_code == 302, response.context["adminform"].form.errors
    fresh = Connection.objects.get(pk=private_connection.pk)
    assert fresh.name == "Renamed by an admin"
    assert (fresh.allow_private_network, fresh.get_secrets()) == (True, {"api_key": API_KEY})


def test_an_admin_changing_only_the_path_on_a_private_host_is_refused_too(
    client, admin_user, private_connection, resolver
):
    """Any change of the base URL by someone who may not allow private networks."""
    client.force_login(admin_user)
    before = _stored(private_connection)
    response = _change(
        client, private_connection, base_url="http://127.0.0.1:8000/admin/", secret_api_key="x" * 9
    )
    assert "base_url" in response.context["adminform"].form.errors
    assert _stored(private_connection) == before


def test_an_admin_moving_to_a_public_host_turns_the_superusers_switches_off(
    client, admin_user, private_connection, resolver
):
    """The new host must not later resolve inside (DNS rebinding) under the old approval."""
    Connection.objects.filter(pk=private_connection.pk).update(allow_link_local=True)
    client.force_login(admin_user)
    response = _change(
        client,
        private_connection,
        base_url="https://crm.public.test/api/2/",
        secret_api_key=NEW_KEY,
        allow_private_network="on",  # disabled for an admin: ignored
        allow_link_local="on",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert _stored(private_connection) == (
        "https://crm.public.test/api/2/",
        False,
        False,
        {"api_key": NEW_KEY},
    )


def test_an_admin_cannot_turn_the_switches_on(client, admin_user, resolver):
    client.force_login(admin_user)
    connection = Connection.objects.create(
        name="Public", kind="allclients", base_url="https://crm.public.test/api/2/"
    )
    connection.set_secrets({"api_key": API_KEY})
    connection.save()
    page = client.get(reverse("admin:connections_connection_change", args=[connection.pk]))
    form = page.context["adminform"].form
    assert form.fields["allow_private_network"].disabled
    assert form.fields["allow_link_local"].disabled
    response = _change(client, connection, allow_private_network="on", allow_link_local="on")
    assert response.status_code == 302
    fresh = Connection.objects.get(pk=connection.pk)
    assert (fresh.allow_private_network, fresh.allow_link_local) == (False, False)


# -- a superuser: private networks and, separately, link-local ---------------------------------
def test_metadata_needs_the_link_local_switch_even_on_private_networks(
    client, superuser, private_connection, resolver
):
    client.force_login(superuser)
    metadata = "http://169.254.169.254/latest/"
    response = _change(
        client,
        private_connection,
        base_url=metadata,
        secret_api_key=NEW_KEY,
        allow_private_network="on",
    )
    assert "link-local" in " ".join(response.context["adminform"].form.errors["base_url"])
    assert Connection.objects.get(pk=private_connection.pk).base_url != metadata
    response = _change(
        client,
        private_connection,
        base_url=metadata,
        secret_api_key=NEW_KEY,
        allow_private_network="on",
        allow_link_local="on",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert _stored(private_connection) == (metadata, True, True, {"api_key": NEW_KEY})


def test_a_superuser_may_move_a_connection_to_another_private_address(
    client, superuser, private_connection, resolver
):
    client.force_login(superuser)
    response = _change(
        client,
        private_connection,
        base_url="http://10.1.2.3/api/2/",
        secret_api_key=NEW_KEY,
        allow_private_network="on",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert _stored(private_connection)[:2] == ("http://10.1.2.3/api/2/", True)


# -- the Collect! Web Socket ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["//169.254.169.254/ws", "/@169.254.169.254/", "/ws?x=1", "/ws\r\nHost: x", "/a b"]
)
def test_the_collect_socket_path_cannot_name_another_host(client, superuser, resolver, path):
    client.force_login(superuser)
    data = {
        "name": "Collections",
        "kind": "collect",
        "base_url": "https://crm.public.test/api/v1/",
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_operator_id": "OP1",
        "setting_database": "cv_masterdb",
        "setting_websocket_path": path,
        "secret_password": "collect-password",
    }
    url = reverse("admin:connections_connection_add") + "?kind=collect"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "setting_websocket_path" in response.context["adminform"].form.errors
    assert not Connection.objects.exists()


def test_the_collect_socket_address_is_checked_like_the_base_url():
    socket_url = websocket_url("http://169.254.169.254/api/v1/", "/api/v1/ws")
    urls = addresses.connection_addresses(
        kind="collect",
        base_url="http://169.254.169.254/api/v1/",
        settings={"websocket_path": "/api/v1/ws"},
    )
    assert urls == ["http://169.254.169.254/api/v1/", socket_url]
    assert address_refusal(socket_url, policy=AddressPolicy(allow_private=True))
    assert not address_refusal(
        socket_url, policy=AddressPolicy(allow_private=True, allow_link_local=True)
    )


# -- the rules themselves ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("crm.example.com", None),
        ("1e100.net", None),
        ("deadbeef", None),
    ],
)
def test_numeric_hosts_are_read_as_the_resolver_would(host, expected):
    parsed = parse_ip(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fd00:ec2::254",
        "fe80::1",
        "100.100.100.200",
        "192.0.0.192",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",
    ],
)
def test_link_local_and_metadata_need_their_own_switch(address):
    ip = ipaddress.ip_address(address)
    assert not address_allowed(ip, allow_private=False)
    assert not address_allowed(ip, allow_private=True)
    assert address_allowed(ip, allow_private=True, allow_link_local=True)


def test_private_networks_do_not_need_the_link_local_switch():
    for address in ("10.1.2.3", "127.0.0.1", "::1", "fd12:3456::1", "::ffff:10.0.0.1"):
        ip = ipaddress.ip_address(address)
        assert address_allowed(ip, allow_private=True), address
        assert not address_allowed(ip, allow_private=False), address
    assert address_allowed(ipaddress.ip_address(PUBLIC_IP), allow_private=False)


def test_the_policy_is_strict_for_a_change_by_someone_who_may_not_allow():
    kept = {"allow_private": True, "allow_link_local": True}
    assert addresses.address_policy(may_allow=False, changed=True, **kept) == STRICT
    assert addresses.address_policy(may_allow=False, changed=False, **kept) == AddressPolicy(
        True, True
    )
    assert addresses.address_policy(may_allow=True, changed=True, **kept) == AddressPolicy(
        True, True
    )


def test_a_name_that_cannot_be_resolved_now_is_left_to_the_connect_time_guard(resolver):
    assert address_refusal("https://nowhere.invalid/", policy=STRICT) == ""


@pytest.mark.parametrize(
    ("old", "new", "moved"),
    [
        ("https://crm.public.test/api/", "https://crm.public.test/v2/", False),
        ("https://crm.public.test/api/", "https://CRM.public.test:443/api/", False),
        ("https://crm.public.test/api/", "http://crm.public.test/api/", True),
        ("https://crm.public.test/api/", "https://crm.public.test:8443/api/", True),
        ("https://crm.public.test/api/", "https://other.public.test/api/", True),
    ],
)
def test_a_move_is_a_change_of_scheme_host_or_port(old, new, moved):
    assert addresses.address_changed(old, new) is moved


# -- at connect time ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/", "http://[fd00:ec2::254]/", "http://[fe80::1]/"]
)
def test_the_outbound_guard_refuses_metadata_on_a_private_allowed_connection(url):
    """Refused before any socket is opened: nothing reaches the metadata service."""
    http = HttpClient(base_url=url, allow_private_network=True, timeout=(0.5, 0.5))
    with pytest.raises(errors.BlockedAddress) as refused:
        http.request("GET", "iam/security-credentials/", headers={"X-Api-Key": API_KEY})
    assert "link-local" in str(refused.value)
    (call,) = http.drain_calls()
    assert call.status is None


def test_the_collect_socket_refuses_metadata_unless_the_switch_is_on():
    with pytest.raises(errors.BlockedAddress):
        prompting.open_socket(
            "ws://169.254.169.254/api/v1/ws", allow_private=True, timeout=0.5, headers={}
        )
