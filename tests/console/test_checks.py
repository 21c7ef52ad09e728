"""Checked in the CRM: the status partial's buttons, a check read's proposal, the dashboard."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from crmhub.actions.models import Action
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _unknown(connections, ann, kind="allclients", operation="run_action_set", **params):  # type: ignore[no-untyped-def]
    return make_action(
        connections[kind],
        operation,
        contact=ann[kind],
        state="unknown",
        params={"contact_remote_id": ann[kind].remote_id, **params},
        error="The read timed out.",
    )


def test_marking_it_did_not_happen_records_who_and_offers_the_resend(
    client, operator, connections, ann
):
    client.force_login(operator)
    action = _unknown(connections, ann, action_set_name="Welcome Series")
    html = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    assert "Checked in the CRM: it happened" in html and "Checked in the CRM: it did not" in html
    assert "Check in the CRM</button>" not in html  # AllClients cannot be asked
    response = client.post(
        reverse("console:action-checked", args=[action.pk]),
        {"verdict": "not_happened", "note": "No run in the history"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 286 and 'data-verdict="not_happened"' in body
    assert "by operator" in body and "No run in the history" in body
    assert ">Resend</button>" in body and "data-confirm" not in body  # checked: no question
    assert "Checked in the CRM: it happened" not in body
    action.refresh_from_db()
    assert action.checked_by == operator and action.state == "unknown"
    checked = reverse("console:action-checked", args=[action.pk])
    again = client.post(checked, {"verdict": "happened"})
    assert again.status_code == 302  # the page shape: back to the action, with the refusal
    assert "Already checked" in client.get(again["Location"]).content.decode()


def test_it_happened_closes_it_without_a_resend(client, operator, viewer, connections, ann):
    action = _unknown(connections, ann)
    client.force_login(viewer)
    assert (
        "Checked in the CRM"
        not in client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    )
    client.force_login(operator)
    client.post(reverse("console:action-checked", args=[action.pk]), {"verdict": "happened"})
    html = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    assert "Checked in the CRM: it happened" in html and ">Resend</button>" not in html


def test_a_bad_verdict_is_refused_with_a_message(client, operator, connections, ann):
    client.force_login(operator)
    action = _unknown(connections, ann)
    response = client.post(
        reverse("console:action-checked", args=[action.pk]), {"verdict": "maybe"}, **HTMX
    )
    assert "Select a valid choice" in response.content.decode()
    action.refresh_from_db()
    assert action.checked_at is None


def test_check_in_the_crm_runs_a_read_in_a_worker_and_proposes_the_answer(
    client, operator, connections, ann, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    action = _unknown(connections, ann, "crmcom", "communication_create", subject="Statement")
    html = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    assert "Check in the CRM</button>" in html
    with django_capture_on_commit_callbacks() as published:
        response = client.post(reverse("console:action-check", args=[action.pk]), **HTMX)
    assert len(published) == 1  # a task for the worker, nothing called here
    body = response.content.decode()
    assert response.status_code == 200 and "Checking in CRM.COM" in body
    assert 'hx-trigger="every 1s"' in body  # the unknown action's status polls the check
    check = Action.objects.get(check_of=action)
    data = {"communications": [{"number": "CM9", "subject": "Statement",
                                "updated_at": timezone.now().isoformat()}]}  # fmt: skip
    Action.objects.filter(pk=check.pk).update(
        state="succeeded", result={"data": data}, updated_at=timezone.now()
    )
    done = client.get(reverse("console:action-detail", args=[action.pk]), **HTMX)
    text = done.content.decode()
    assert done.status_code == 286 and 'class="proposal" data-verdict="happened"' in text
    assert "CM9" in text and 'value="happened" class="primary"' in text


def test_the_dashboard_counts_equal_the_rows_its_links_show(client, operator, connections, ann):
    cache.clear()
    client.force_login(operator)
    first = _unknown(connections, ann)
    _unknown(connections, ann)
    make_action(connections["allclients"], "run_action_set", state="unknown", resend_of=first)
    make_action(connections["allclients"], "add_contact_link", state="failed")
    client.post(reverse("console:action-checked", args=[first.pk]), {"verdict": "not_happened"})
    dashboard = client.get(reverse("console:dashboard")).content.decode()
    for state, count in (("unknown", 2), ("failed", 1), ("needs_input", 0)):
        assert f'data-testid="attention-{state}"><span class="state {state}">{count}<' in dashboard
        listed = client.get(reverse("console:action-list"), {"state": state, "open": "on"})
        html = listed.content.decode()
        assert html.count('<td><a href="/actions/') == count, state
        assert f'data-testid="open-count"><strong>{count}</strong>' in html
