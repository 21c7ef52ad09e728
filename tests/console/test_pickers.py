"""Choose, don't remember: act forms offer datalists, refuse unknown values, keep what was typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from crmhub.connections.models import ConnectionChoice
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _act_url(contact, operation: str) -> str:  # type: ignore[no-untyped-def]
    return reverse("console:contact-act", args=[contact.pk, operation])


def test_the_action_set_field_lists_the_admin_values_and_what_worked(
    client, operator, connections, ann
):
    client.force_login(operator)
    allclients, record = connections["allclients"], ann["allclients"]
    ConnectionChoice.objects.create(
        connection=allclients, list_name="action_set", value="Welcome Series", note="id 101"
    )
    ConnectionChoice.objects.create(connection=allclients, list_name="action_set", value="101")
    make_action(allclients, "run_action_set", params={"action_set_name": "Birthday Greeting"})
    for shape in ({}, HTMX):
        html = client.get(_act_url(record, "run_action_set"), **shape).content.decode()
        name_list = f"choices-action_set_name-c{record.pk}"
        assert f'list="{name_list}"' in html and f'<datalist id="{name_list}">' in html
        assert '<option value="Welcome Series">id 101</option>' in html
        assert '<option value="Birthday Greeting">worked before</option>' in html
        assert f'<datalist id="choices-action_set_id-c{record.pk}"><option value="101">' in html


def test_an_unknown_value_is_refused_in_the_form_and_what_was_typed_stays(
    client, operator, connections, ann
):
    client.force_login(operator)
    allclients, record = connections["allclients"], ann["allclients"]
    ConnectionChoice.objects.create(connection=allclients, list_name="action_set", value="Welcome")
    before = Action.objects.count()
    response = client.post(
        _act_url(record, "run_action_set"),
        {"action_set_name": "Welcom", "identify_method": "1", "team_member_id": "7"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and Action.objects.count() == before
    assert "&#x27;Welcom&#x27; is not a known action set of this connection" in html
    assert 'value="Welcom"' in html and 'value="7"' in html


def test_collect_plans_load_from_the_crm_into_the_datalist(
    client, operator, connections, ann, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    collect, record = connections["collect"], ann["collect"]
    html = client.get(_act_url(record, "run_plan")).content.decode()
    region = f'id="choice-list-plan-c{record.pk}"'
    assert region in html and 'hx-trigger="load"' in html  # nothing read yet: it asks
    read_url = reverse("console:connection-read", args=[collect.pk, "list_plans"])
    with django_capture_on_commit_callbacks():
        running = client.post(read_url, {"owner": f"c{record.pk}"}, **HTMX)
    assert region in running.content.decode() and "Loading them from Collect!" in (
        running.content.decode()
    )
    read = Action.objects.get(operation="list_plans")
    Action.objects.filter(pk=read.pk).update(
        state="succeeded",
        result={"data": {"plans": [{"code": "REV", "description": "Review account"}]}},
    )
    done = client.get(read_url, {"owner": f"c{record.pk}"}, **HTMX)
    body = done.content.decode()
    assert done.status_code == 286 and region in body
    assert '<option value="REV">Review account</option>' in body
    refused = client.post(_act_url(record, "run_plan"), {"plan": "REW"}, **HTMX)
    assert "not a known contact plan" in refused.content.decode()


def test_a_failed_act_offers_its_form_again_with_what_was_sent(client, operator, connections, ann):
    client.force_login(operator)
    record = ann["crmcom"]
    failed = make_action(
        connections["crmcom"],
        "communication_create",
        contact=record,
        state="failed",
        params={"contact_remote_id": "C-1", "template": "Payment Remindr", "media": "EMAIL"},
    )
    html = client.get(reverse("console:action-detail", args=[failed.pk])).content.decode()
    again = _act_url(record, "communication_create") + "?template=Payment+Remindr&amp;media=EMAIL"
    assert f'href="{again}"' in html and "Change and send again" in html
    form = client.get(again.replace("&amp;", "&"), **HTMX).content.decode()
    assert 'value="Payment Remindr"' in form and '<option value="EMAIL" selected>' in form
