"""A Collect! yes/no prompt is answered with two buttons; "No" cancels, in the answerer's name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
DELETE_IT = {
    "prompt_id": "p1",
    "message": "Contact plan DEL will delete debtor 77 (Ann Lee). Delete it?",
    "fields": [{"name": "confirm", "label": "Delete", "type": "boolean", "required": False}],
}


@pytest.fixture
def asking(connections, ann, operator) -> Action:  # type: ignore[no-untyped-def]
    return make_action(
        connections["collect"], "run_plan", contact=ann["collect"],
        state=Action.State.NEEDS_INPUT, user=operator, prompt=DELETE_IT,
        params={"plan": "DEL"},
    )  # fmt: skip


def test_a_yes_no_prompt_is_two_buttons_not_a_checkbox(client, operator, asking):
    client.force_login(operator)
    html = client.get(reverse("console:action-detail", args=[asking.pk])).content.decode()
    assert (
        '<button type="submit" name="answer-confirm" value="yes" class="primary">Yes</button>'
        in html
    )
    assert '<button type="submit" name="answer-confirm" value="no">No</button>' in html
    assert 'type="checkbox"' not in html
    assert "Send the answer" not in html


@pytest.mark.parametrize("htmx", [False, True])
def test_no_ends_the_action_cancelled_by_that_person(client, operator, asking, htmx):
    client.force_login(operator)
    response = client.post(
        reverse("console:action-answer", args=[asking.pk]),
        {"answer-confirm": "no", "prompt_id": "p1"},
        **({"HTTP_HX_REQUEST": "true"} if htmx else {}),
        follow=not htmx,
    )
    asking.refresh_from_db()
    assert asking.state == Action.State.CANCELLED
    html = response.content.decode()
    assert 'data-state="cancelled"' in html
    assert "Cancelled by operator, who answered “No” to “Contact plan DEL" in html
    assert "Timed out" not in html and 'class="error"' not in html


def test_yes_is_sent_to_the_plan(client, operator, asking):
    client.force_login(operator)
    client.post(
        reverse("console:action-answer", args=[asking.pk]),
        {"answer-confirm": "yes", "prompt_id": "p1"},
    )
    asking.refresh_from_db()
    assert (asking.state, asking.answer) == (Action.State.NEEDS_INPUT, {"confirm": True})


@pytest.mark.parametrize("value", ["", "maybe", "on", "No"])
def test_anything_but_yes_or_no_is_refused(client, operator, asking, value):
    client.force_login(operator)
    response = client.post(
        reverse("console:action-answer", args=[asking.pk]),
        {"answer-confirm": value, "prompt_id": "p1"},
    )
    assert 'class="errorlist"' in response.content.decode()
    asking.refresh_from_db()
    assert (asking.state, asking.answer) == (Action.State.NEEDS_INPUT, None)
