"""Credentials that the current field keys cannot decrypt (issue 15, point 4).

The key they were encrypted with is gone (CRMHUB_FIELD_KEYS replaced): the connection's page
opens and says so, asks for every credential again and saves them; act forms answer with a
clear message and queue nothing; ``check_field_keys`` lists such connections.
"""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from crmhub.actions.models import Action, Batch
from crmhub.actions.services import CREDENTIALS_UNREADABLE
from crmhub.connections.admin import UNREADABLE_NOTE
from crmhub.connections.forms import UNREADABLE
from crmhub.connections.models import Connection
from crmhub.connections.selectors import connections_with_unreadable_secrets
from tests.connections.conftest import API_KEY, form_data

pytestmark = pytest.mark.django_db(databases="__all__")

NEW_KEY = "typed-again-" + "c" * 20


@pytest.fixture
def keys_replaced(settings) -> str:  # type: ignore[no-untyped-def]
    """Return the new key after putting it in place of every key the secrets were sealed with."""
    key = Fernet.generate_key().decode()
    settings.CRMHUB_FIELD_KEYS = [key]
    return key


@pytest.fixture
def lost(connections, keys_replaced):  # type: ignore[no-untyped-def]
    """The console's connections (one per CRM), whose credentials no key decrypts now."""
    return connections


def _change(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def test_the_change_page_opens_and_says_so(client, admin_user, lost):
    client.force_login(admin_user)
    connection = lost["allclients"]
    response = client.get(_change(connection))
    assert response.status_code == 200
    page = response.content.decode()
    assert "cannot be decrypted" in page
    assert UNREADABLE_NOTE.split(" (")[0] in page
    form = response.context["adminform"].form
    assert form.secrets_unreadable
    assert form.fields["secret_api_key"].required
    assert form.fields["secret_api_key"].help_text == UNREADABLE


def test_saving_without_the_credentials_asks_for_them_and_with_them_stores_them(
    client, admin_user, lost
):
    client.force_login(admin_user)
    connection = lost["allclients"]
    response = client.post(_change(connection), form_data(connection))
    assert response.status_code == 200
    assert "secret_api_key" in response.context["adminform"].form.errors
    response = client.post(_change(connection), form_data(connection, secret_api_key=NEW_KEY))
    assert response.status_code == 302, response.context["adminform"].form.errors
    fresh = Connection.objects.get(pk=connection.pk)
    assert fresh.get_secrets() == {"api_key": NEW_KEY}
    assert connections_with_unreadable_secrets() == [
        lost[kind] for kind in ("apptivo", "collect", "crmcom")
    ]


def test_the_change_list_and_the_console_pages_still_open(client, admin_user, lost):
    client.force_login(admin_user)
    for url in (
        reverse("admin:connections_connection_changelist"),
        reverse("console:connection-detail", args=[lost["allclients"].pk]),
        reverse("console:connection-list"),
    ):
        assert client.get(url).status_code == 200, url


def test_act_forms_answer_with_a_clear_message_and_queue_nothing(client, operator, ann, lost):
    client.force_login(operator)
    url = reverse("console:contact-act", args=[ann["allclients"].pk, "add_contact_link"])
    assert client.get(url).status_code == 200
    data = {"url": "https://example.com/statement", "label": "Statement"}
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.post(url, data, **headers)
        assert response.status_code == 200
        assert escape(CREDENTIALS_UNREADABLE) in response.content.decode()
    url = reverse("console:connection-act", args=[lost["crmcom"].pk, "queue_process"])
    response = client.post(url, {"queue_entry": "QE1"})
    assert response.status_code == 200
    assert escape(CREDENTIALS_UNREADABLE) in response.content.decode()
    read = reverse("console:connection-read", args=[lost["crmcom"].pk, "queue_list"])
    assert client.post(read, {}).status_code == 200
    bulk = {
        "pick": f"c{ann['allclients'].pk}",
        "act": f"{lost['allclients'].pk}:add_contact_link",
        **data,
    }
    response = client.post(reverse("console:bulk"), bulk)
    assert response.status_code == 200
    assert escape(CREDENTIALS_UNREADABLE) in response.content.decode()
    assert not Action.objects.exists() and not Batch.objects.exists()


def test_check_field_keys_lists_the_connections_the_keys_cannot_decrypt(
    connections, keys_replaced, settings
):
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_field_keys", stdout=out)
    assert failed.value.returncode == 1
    listed = out.getvalue().splitlines()
    assert [line.split("\t")[1] for line in listed] == sorted(c.name for c in connections.values())
    assert all(line.endswith("credentials cannot be decrypted") for line in listed)
    assert API_KEY not in out.getvalue()


def test_check_field_keys_is_quiet_when_every_credential_decrypts(connections):
    out = StringIO()
    call_command("check_field_keys", stdout=out)
    assert out.getvalue().strip() == "Every stored credential decrypts with the current keys."
