from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from crmhub.connections.models import Connection
from crmhub.core import crypto

pytestmark = pytest.mark.django_db


def _connection(name: str, **secrets: str) -> Connection:
    connection = Connection(
        name=name,
        kind="allclients",
        base_url="https://crm.example.com/api/2/",
        settings={"account_id": "1", "time_zone": "America/Chicago"},
    )
    connection.set_secrets(secrets)
    connection.save()
    return connection


def test_secrets_round_trip_and_are_not_stored_in_clear():
    connection = _connection("a", api_key="0123456789ABCDEF0123456789ABCDEF")
    stored = Connection.objects.get(pk=connection.pk)
    assert "0123456789ABCDEF" not in stored.secrets_ciphertext
    assert stored.get_secrets() == {"api_key": "0123456789ABCDEF0123456789ABCDEF"}


def test_a_wrong_key_raises_instead_of_returning_ciphertext(settings):
    connection = _connection("a", api_key="secret-value-1")
    settings.CRMHUB_FIELD_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError, match="cannot be decrypted"):
        Connection.objects.get(pk=connection.pk).get_secrets()


def test_ciphertext_copied_to_another_row_does_not_decrypt():
    first = _connection("a", api_key="secret-of-a")
    second = _connection("b", api_key="secret-of-b")
    Connection.objects.filter(pk=second.pk).update(secrets_ciphertext=first.secrets_ciphertext)
    with pytest.raises(crypto.DecryptionError, match="another record"):
        Connection.objects.get(pk=second.pk).get_secrets()


def test_rotation_moves_every_row_to_the_new_key(settings):
    old = settings.CRMHUB_FIELD_KEYS[0]
    connection = _connection("a", api_key="rotate-me-please")
    new = Fernet.generate_key().decode()
    settings.CRMHUB_FIELD_KEYS = [new, old]
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CRMHUB_FIELD_KEYS = [new]
    assert Connection.objects.get(pk=connection.pk).get_secrets() == {"api_key": "rotate-me-please"}
    settings.CRMHUB_FIELD_KEYS = [old]
    with pytest.raises(crypto.DecryptionError):
        Connection.objects.get(pk=connection.pk).get_secrets()
