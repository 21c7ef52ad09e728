from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.services import action_enqueue

pytestmark = pytest.mark.django_db


@pytest.fixture
def action(connection, contact, operator, published):  # type: ignore[no-untyped-def]
    action = action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=operator
    )
    Attempt.objects.create(
        action=action,
        number=1,
        outcome=Attempt.Outcome.SUCCEEDED,
        task_id="celery-task-42",
        calls=[
            {
                "method": "POST",
                "url": "https://crm.example.com/api/RunActionSet.aspx",
                "request": {"form": {"apikey": "[redacted]", "contactid": "1"}},
                "status": 200,
                "response": "<results><message>Success</message></results>",
                "elapsed_ms": 80,
                "error": None,
            }
        ],
    )
    return action


def test_action_list_filters_and_detail_show_attempts(client, superuser, action):
    client.force_login(superuser)
    changelist = reverse("admin:actions_action_changelist")
    page = client.get(changelist, {"state": "queued", "operation": "touch"})
    assert page.status_code == 200
    assert f">{action.pk}<" in page.content.decode()
    for name in ("state", "operation", "connection", "requested_by", "created_at"):
        assert f"{name}" in page.content.decode()
    detail = client.get(reverse("admin:actions_action_change", args=[action.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "celery-task-42" in html
    assert "RunActionSet.aspx" in html
    assert "[redacted]" in html
    assert 'name="_save"' not in html, "read-only: nothing to save"


def test_actions_are_never_deleted_added_or_changed_in_the_admin(client, superuser, action):
    client.force_login(superuser)
    delete = client.post(reverse("admin:actions_action_delete", args=[action.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Action.objects.filter(pk=action.pk).exists()
    assert client.get(reverse("admin:actions_action_add")).status_code == 403
    bulk = client.post(
        reverse("admin:actions_action_changelist"),
        {"action": "delete_selected", "_selected_action": [action.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Action.objects.filter(pk=action.pk).exists()


def test_batch_list_is_shown(client, superuser, connection):
    batch = Batch.objects.create(operation="touch", connection=connection, size=3)
    client.force_login(superuser)
    page = client.get(reverse("admin:actions_batch_changelist"))
    assert page.status_code == 200
    assert f">{batch.pk}<" in page.content.decode()
