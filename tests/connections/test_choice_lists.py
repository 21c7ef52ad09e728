"""The choice lists an admin keeps on a connection (action sets, templates) in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.connections.models import ConnectionChoice
from tests.connections.test_admin import CANARY, _allclients

pytestmark = pytest.mark.django_db(databases="__all__")
ADD = reverse("admin:connections_connection_add")


def _rows(*rows: tuple[str, str, str]) -> dict[str, str]:
    data = {
        "choices-TOTAL_FORMS": str(len(rows)),
        "choices-INITIAL_FORMS": "0",
        "choices-MIN_NUM_FORMS": "0",
        "choices-MAX_NUM_FORMS": "1000",
    }
    for number, (name, value, note) in enumerate(rows):
        data.update(
            {
                f"choices-{number}-list_name": name,
                f"choices-{number}-value": value,
                f"choices-{number}-note": note,
            }
        )
    return data


def test_an_admin_keeps_the_action_sets_of_an_allclients_connection(client, superuser):
    client.force_login(superuser)
    form = client.get(ADD + "?kind=allclients").content.decode()
    assert "Choice lists" in form and 'name="choices-0-value"' in form
    data = {**_allclients(), **_rows(("action_set", "Welcome Series", "id 101"))}
    response = client.post(ADD + "?kind=allclients", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    (kept,) = ConnectionChoice.objects.all()
    assert (kept.list_name, kept.value, kept.note) == ("action_set", "Welcome Series", "id 101")
    assert kept.connection.get_secrets() == {"api_key": CANARY}


def test_a_list_another_crm_has_is_refused(client, superuser):
    client.force_login(superuser)
    data = {**_allclients(), **_rows(("template", "Payment Reminder", ""))}
    response = client.post(ADD + "?kind=allclients", data)
    assert response.status_code == 200
    assert "A allclients connection has no such list." in response.content.decode()
    assert not ConnectionChoice.objects.exists()
