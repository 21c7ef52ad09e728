"""The live status of an action: polling, its end, prompts, timeouts, resend and cancel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Attempt
from crmhub.console.status import status_version
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
PROMPT = {
    "prompt_id": "p1",
    "message": "Start date for Lee, Ann?",
    "fields": [{"name": "start_date", "label": "Start date", "type": "date", "required": True}],
}


def _status(client, action, **extra):  # type: ignore[no-untyped-def]
    return client.get(reverse("console:action-detail", args=[action.pk]), {**extra}, **HTMX)


def test_a_running_action_polls_and_an_unchanged_one_answers_204(
    client, operator, ann, connections
):
    client.force_login(operator)
    action = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        state=Action.State.SENDING,
        user=operator,
    )
    response = _status(client, action)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.content.decode()
    assert _status(client, action, v=status_version(action)).status_code == 204


def test_a_finished_action_stops_the_polling_and_tells_the_page(client, operator, ann, connections):
    client.force_login(operator)
    action = make_action(
        connections["crmcom"],
        "communication_complete",
        contact=ann["crmcom"],
        user=operator,
        result={"message": "Communication CM1 completed."},
    )
    response = _status(client, action)
    assert response.status_code == 286  # htmx: stop polling
    html = response.content.decode()
    assert "Communication CM1 completed." in html and "hx-trigger" not in html
    assert "crmhub:communications-changed" in response["HX-Trigger"]


def test_the_prompt_is_shown_to_the_person_who_started_the_plan(client, operator, ann, connections):
    from django.contrib.auth.models import Group, User

    other = User.objects.create_user("other", password="pw-other")
    other.groups.add(Group.objects.get(name="operator"))
    action = make_action(
        connections["collect"],
        "run_plan",
        contact=ann["collect"],
        state=Action.State.NEEDS_INPUT,
        user=operator,
        prompt=PROMPT,
        params={"plan": "PRM"},
    )
    client.force_login(operator)
    html = _status(client, action).content.decode()
    assert "Start date for Lee, Ann?" in html and 'type="date"' in html
    assert 'name="answer-start_date"' in html
    person = client.get(reverse("console:person-detail", args=[ann["collect"].person_id]))
    assert "A plan is waiting for your answer" in person.content.decode()

    client.force_login(other)
    html = _status(client, action).content.decode()
    assert "Waiting for operator to answer" in html and "answer-start_date" not in html
    url = reverse("console:action-answer", args=[action.pk])
    assert client.post(url, {"answer-start_date": "2027-01-15"}).status_code == 403

    client.force_login(operator)
    response = client.post(url, {"answer-start_date": "", "prompt_id": "p1"}, **HTMX)
    assert "This field is required" in response.content.decode()
    client.post(url, {"answer-start_date": "2027-01-15", "prompt_id": "p1"}, **HTMX)
    action.refresh_from_db()
    assert action.answer == {"start_date": "2027-01-15"}


def test_a_prompt_nobody_answered_is_shown_as_a_timeout(client, operator, ann, connections):
    client.force_login(operator)
    action = make_action(
        connections["collect"],
        "run_plan",
        contact=ann["collect"],
        user=operator,
        state=Action.State.CANCELLED,
        prompt=PROMPT,
        error="Nobody answered the plan's prompt in time, so the plan was cancelled.",
    )
    html = _status(client, action).content.decode()
    assert "Timed out" in html and "rolled it back" in html


def test_an_unknown_outcome_says_so_and_operators_can_resend(
    client, operator, viewer, ann, connections, django_capture_on_commit_callbacks
):
    action = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        state=Action.State.UNKNOWN,
        user=operator,
        params={"contact_remote_id": "501", "action_set_name": "Welcome Series"},
        error="The read timed out. Check in the CRM whether it happened.",
    )
    client.force_login(viewer)
    html = _status(client, action).content.decode()
    assert "Outcome unknown" in html and "Resend" not in html
    client.force_login(operator)
    assert "Resend" in _status(client, action).content.decode()
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("console:action-resend", args=[action.pk]), **HTMX)
    resent = Action.objects.get(resend_of=action)
    # The new action opens on its own page (which links back to this one).
    assert response["HX-Redirect"] == reverse("console:action-detail", args=[resent.pk])
    again = client.post(reverse("console:action-resend", args=[action.pk]), **HTMX)
    assert "Already resent" in again.content.decode()
    assert Action.objects.filter(resend_of=action).count() == 1


def test_a_queued_action_can_be_cancelled(client, operator, ann, connections):
    client.force_login(operator)
    action = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        state=Action.State.QUEUED,
        user=operator,
    )
    assert "Cancel" in _status(client, action).content.decode()
    client.post(reverse("console:action-cancel", args=[action.pk]), **HTMX)
    action.refresh_from_db()
    assert action.state == Action.State.CANCELLED
    response = client.post(reverse("console:action-cancel", args=[action.pk]), **HTMX)
    assert "Only a queued action can be cancelled" in response.content.decode()


def test_the_detail_shows_each_attempt_with_secrets_masked(client, viewer, ann, connections):
    from crmhub.actions.models import Attempt

    action = make_action(connections["allclients"], "run_action_set", contact=ann["allclients"])
    Attempt.objects.create(
        action=action,
        number=1,
        outcome="succeeded",
        calls=[
            {
                "method": "POST",
                "url": "https://crm.example.com/api/2/RunActionSet.aspx",
                "request": {"apikey": "S3CRET-KEY-VALUE", "actionsetname": "Welcome Series"},
                "status": 200,
                "response": "<results><message>Success</message></results>",
                "elapsed_ms": 12,
                "error": None,
            }
        ],
    )
    client.force_login(viewer)
    html = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    assert "RunActionSet.aspx" in html and "Welcome Series" in html
    assert "S3CRET-KEY-VALUE" not in html and "[redacted]" in html


def test_the_action_page_polls_its_status_and_attempts_as_one_part(
    client, operator, ann, connections
):
    client.force_login(operator)
    action = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        state=Action.State.SENDING,
        user=operator,
        attempts=1,
    )
    Attempt.objects.create(action=action, number=1)
    page = client.get(reverse("console:action-detail", args=[action.pk])).content.decode()
    # One poller: the live part; the status inside it does not poll on its own.
    assert page.count('hx-trigger="every 1s"') == 1
    assert '<div id="action-live"' in page and 'Attempt 1: <span class="state running"' in page
    live = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "action-live"}
    url = reverse("console:action-detail", args=[action.pk])
    assert client.get(url, {"v": status_version(action)}, **live).status_code == 204
    Action.objects.filter(pk=action.pk).update(state=Action.State.FAILED, error="Refused")
    Attempt.objects.filter(action=action).update(outcome=Attempt.Outcome.FAILED)
    final = client.get(url, {"v": status_version(action)}, **live)
    body = final.content.decode()
    assert final.status_code == 286 and body.lstrip().startswith('<div id="action-live"')
    assert 'data-state="failed"' in body and 'data-testid="about-state">Failed' in body
    assert 'Attempt 1: <span class="state failed"' in body and "Running" not in body
    assert "crmhub:action-finished" in final["HX-Trigger"]


def test_the_person_page_refreshes_its_actions_when_one_finishes(
    client, operator, ann, connections
):
    client.force_login(operator)
    make_action(connections["allclients"], "run_action_set", contact=ann["allclients"])
    url = reverse("console:person-detail", args=[ann["allclients"].person_id])
    html = client.get(url).content.decode()
    assert "crmhub:action-finished from:body" in html
    assert "every 2s" not in html  # nothing running: no polling


def test_a_resend_links_back_to_what_it_resends(client, operator, ann, connections):
    client.force_login(operator)
    old = make_action(connections["allclients"], "run_action_set", state=Action.State.UNKNOWN)
    new = make_action(connections["allclients"], "run_action_set", resend_of=old)
    html = client.get(reverse("console:action-detail", args=[new.pk])).content.decode()
    assert f'This sends again what <a href="/actions/{old.pk}/">action #{old.pk}</a>' in html
