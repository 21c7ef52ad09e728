from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from crmhub.connections.models import Connection
from tests.dump import database_dump

pytestmark = pytest.mark.django_db(databases="__all__")

CANARY = "CANARY9f3e1c7d2b6a4e8f0a1b2c3d4e5f6a7b"
ADD = reverse("admin:connections_connection_add")


def _allclients(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Marketing",
        "kind": "allclients",
        "base_url": "https://93.184.215.14/api/2/",
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_account_id": "12345",
        "setting_time_zone": "America/Chicago",
        "secret_api_key": CANARY,
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(client, superuser):  # type: ignore[no-untyped-def]
    client.force_login(superuser)
    return client


def test_adding_asks_for_the_kind_first(admin_client):
    page = admin_client.get(ADD)
    assert page.status_code == 200
    for label in ("AllClients", "Apptivo", "Collect!", "CRM.COM"):
        assert label in page.content.decode()
    form = admin_client.get(ADD + "?kind=collect").content.decode()
    assert "Operator ID" in form and "Web Socket path" in form and "API key" not in form


def test_a_valid_connection_is_saved_with_its_secret_encrypted(admin_client):
    response = admin_client.post(ADD + "?kind=allclients", _allclients())
    assert response.status_code == 302, response.content.decode()[:3000]
    connection = Connection.objects.get(name="Marketing")
    assert connection.settings == {"account_id": "12345", "time_zone": "America/Chicago"}
    assert connection.get_secrets() == {"api_key": CANARY}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "ftp://crm.example.com/"}, "base_url", "http:// or https://"),
        ({"base_url": "http://127.0.0.1:8000/"}, "base_url", "not allowed to reach"),
        ({"base_url": "http://2130706433/"}, "base_url", "not allowed to reach"),
        ({"base_url": "http://[::ffff:127.0.0.1]/"}, "base_url", "not allowed to reach"),
        ({"base_url": "http://10.1.2.3/"}, "base_url", "not allowed to reach"),
        ({"setting_account_id": "12ab"}, "setting_account_id", "positive whole number"),
        ({"setting_time_zone": "Mars/Olympus"}, "setting_time_zone", "not a known time zone"),
        ({"secret_api_key": ""}, "secret_api_key", "required"),
        ({"rate_limit": "0"}, "rate_limit", "between"),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_saved(admin_client, overrides, field, message):
    response = admin_client.post(ADD + "?kind=allclients", _allclients(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Connection.objects.exists()


def test_only_a_superuser_may_allow_private_addresses(client, admin_user, superuser):
    client.force_login(admin_user)
    response = client.post(
        ADD + "?kind=allclients",
        _allclients(base_url="http://127.0.0.1:8000/", allow_private_network="on"),
    )
    assert "base_url" in response.context["adminform"].form.errors
    client.force_login(superuser)
    response = client.post(
        ADD + "?kind=allclients",
        _allclients(base_url="http://127.0.0.1:8000/", allow_private_network="on"),
    )
    assert response.status_code == 302
    assert Connection.objects.get().allow_private_network is True


def test_the_secret_is_write_only_and_kept_when_left_blank(admin_client):
    admin_client.post(ADD + "?kind=allclients", _allclients())
    connection = Connection.objects.get()
    change = reverse("admin:connections_connection_change", args=[connection.pk])
    page = admin_client.get(change).content.decode()
    assert CANARY not in page
    assert "api_key: set" in page
    response = admin_client.post(change, _allclients(secret_api_key="", name="Renamed"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed"
    assert connection.get_secrets() == {"api_key": CANARY}


def test_the_canary_secret_is_in_no_table_and_no_admin_page(admin_client):
    admin_client.post(ADD + "?kind=allclients", _allclients())
    connection = Connection.objects.get()
    pages = [
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_change", args=[connection.pk]),
        reverse("admin:connections_connection_history", args=[connection.pk]),
        reverse("admin:admin_logentry_changelist"),
        reverse("admin:index"),
    ]
    assert LogEntry.objects.exists()
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert CANARY not in response.content.decode(), url
    log = admin_client.get(pages[3]).content.decode()
    assert "Marketing" in log, "the log page lists the connection that was added"
    assert CANARY not in database_dump()


def _collect(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Collections",
        "kind": "collect",
        "base_url": "https://93.184.215.14/api/v1/",
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_operator_id": "OP1",
        "setting_database": "cv_masterdb",
        "setting_websocket_path": "/api/v1/ws",
        "secret_password": CANARY,
    }
    data.update(overrides)
    return data


def test_the_admin_marks_which_collect_plans_prompt(admin_client):
    form = admin_client.get(ADD + "?kind=collect").content.decode()
    assert "Plans that prompt" in form and "Plans that never prompt" in form
    response = admin_client.post(
        ADD + "?kind=collect",
        _collect(setting_prompting_plans="prm,  del;PRM", setting_quiet_plans=" rev "),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    settings = Connection.objects.get(name="Collections").settings
    assert (settings["prompting_plans"], settings["quiet_plans"]) == ("PRM, DEL", "REV")
    refused = admin_client.post(
        ADD + "?kind=collect", _collect(name="Other", setting_quiet_plans="ELEVENCHARS")
    )
    errors = refused.context["adminform"].form.errors
    assert "at most 10 characters" in " ".join(errors["setting_quiet_plans"])
