"""Every console page in both shapes: the full page, and the htmx fragment (no <html>)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Batch
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _full(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    assert body.lstrip().startswith("<!doctype html>")
    return body


def _fragment(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 286), response.content[:500]
    body = response.content.decode()
    assert "<html" not in body and "<!doctype" not in body.lower()
    return body


@pytest.fixture
def pages(ann, connections, operator):  # type: ignore[no-untyped-def]
    action = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        user=operator,
        params={"action_set_id": 3},
        result={"message": "Action Set completed", "data": {}},
    )
    batch = Batch.objects.create(
        operation="run_action_set",
        connection=connections["allclients"],
        size=1,
        created_by=operator,
    )
    make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        batch=batch,
        state=Action.State.FAILED,
        error="Refused",
    )
    person = ann["allclients"].person
    return {
        "dashboard": reverse("console:dashboard"),
        "contacts": reverse("console:contact-list") + "?q=ann",
        "person": reverse("console:person-detail", args=[person.pk]),
        "actions": reverse("console:action-list"),
        "action": reverse("console:action-detail", args=[action.pk]),
        "connections": reverse("console:connection-list"),
        "connection": reverse("console:connection-detail", args=[connections["crmcom"].pk]),
        "queue": reverse("console:queue", args=[connections["crmcom"].pk]),
        "batch": reverse("console:batch-detail", args=[batch.pk]),
        "bulk": reverse("console:bulk") + f"?pick=p{person.pk}",
        "act": reverse("console:contact-act", args=[ann["allclients"].pk, "run_action_set"]),
    }


@pytest.mark.parametrize(
    "page",
    [
        "dashboard",
        "contacts",
        "person",
        "actions",
        "action",
        "connections",
        "connection",
        "queue",
        "batch",
        "bulk",
        "act",
    ],
)
def test_every_page_renders_whole_and_as_a_fragment(client, operator, pages, page):
    client.force_login(operator)
    full = _full(client.get(pages[page]))
    assert "Sign out" in full
    _fragment(client.get(pages[page], **HTMX))


def test_going_back_in_history_gets_the_whole_page(client, operator, pages):
    client.force_login(operator)
    response = client.get(
        pages["contacts"], HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert response.content.decode().lstrip().startswith("<!doctype html>")
    assert "HX-Request" in response["Vary"]
