"""Act forms validate as the connector does, create one Action, and show its live status."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from tests.console.conftest import apptivo_config_read

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _act(contact, operation):  # type: ignore[no-untyped-def]
    return reverse("console:contact-act", args=[contact.pk, operation])


def test_errors_from_the_connector_show_inline_and_nothing_is_queued(client, operator, ann):
    client.force_login(operator)
    response = client.post(
        _act(ann["allclients"], "run_action_set"), {"identify_method": "1"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "exactly one" in html  # AllClients: an action set id or a name
    assert 'aria-invalid="true"' in html
    assert not Action.objects.exists()


def test_over_long_fields_are_refused_not_cut(client, operator, ann):
    client.force_login(operator)
    response = client.post(
        _act(ann["allclients"], "add_contact_link"),
        {"url": "https://example.com/" + "a" * 300, "label": "x" * 60},
        **HTMX,
    )
    html = response.content.decode()
    assert "At most 255 characters" in html and "At most 50 characters" in html
    assert not Action.objects.exists()


def test_a_valid_act_queues_one_action_and_swaps_in_its_live_status(
    client, operator, ann, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    key = uuid.uuid4().hex
    data = {"action_set_name": "Welcome Series", "identify_method": "1", "request_key": key}
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(_act(ann["allclients"], "run_action_set"), data, **HTMX)
        again = client.post(_act(ann["allclients"], "run_action_set"), data, **HTMX)
    action = Action.objects.get()  # posted twice (a double click): one action
    assert action.params["action_set_name"] == "Welcome Series"
    assert action.params["contact_remote_id"] == ann["allclients"].remote_id
    assert action.requested_by == operator and action.state == Action.State.QUEUED
    assert len(callbacks) == 1
    html = response.content.decode()
    assert f'id="action-{action.pk}"' in html and 'hx-trigger="every 1s"' in html
    assert "crmhub:action-started" in response["HX-Trigger"]
    assert again.status_code == 200


def test_without_htmx_a_valid_act_redirects_to_the_action(client, operator, ann):
    client.force_login(operator)
    response = client.post(
        _act(ann["allclients"], "add_contact_link"),
        {"url": "https://example.com/a", "label": "Statement"},
    )
    action = Action.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:action-detail", args=[action.pk])


def test_the_start_time_is_the_staff_members_own_time(client, operator, ann):
    """The browser names the staff member's zone (app.js); the time given is read in it."""
    client.force_login(operator)
    client.post(
        _act(ann["allclients"], "run_action_set"),
        {
            "action_set_id": "101",
            "identify_method": "1",
            "start_at": "2030-01-15T16:00",
            "time_zone": "Europe/Berlin",
        },
    )
    action = Action.objects.get()
    assert action.params["start_at"] == "2030-01-15T16:00:00+01:00"
    assert "time_zone" not in action.params


def test_without_the_browsers_zone_the_start_time_is_in_the_consoles(client, operator, ann):
    client.force_login(operator)
    client.post(
        _act(ann["allclients"], "run_action_set"),
        {"action_set_id": "101", "identify_method": "1", "start_at": "2027-04-15T10:00"},
    )
    assert Action.objects.get().params["start_at"] == "2027-04-15T10:00:00+00:00"  # UTC


@pytest.mark.parametrize("htmx", [False, True])
def test_the_form_shows_the_staff_members_time_and_the_central_time_sent(
    client, operator, ann, htmx
):
    client.force_login(operator)
    headers = {"HX-Request": "true"} if htmx else {}
    blank = client.get(_act(ann["allclients"], "run_action_set"), headers=headers)
    html = blank.content.decode()
    assert 'data-central-time=""' in html and 'data-browser-zone=""' in html
    assert 'data-server-zone="America/Chicago"' in html
    assert "Give it in your time zone (UTC); AllClients is sent US Central Time." in html
    # Sent back with an error (no action set), the form shows both times of what was given.
    again = client.post(
        _act(ann["allclients"], "run_action_set"),
        {"identify_method": "1", "start_at": "2030-07-15T09:30", "time_zone": "America/New_York"},
        headers=headers,
    )
    html = again.content.decode()
    assert not Action.objects.exists()
    assert (
        "Your time (America/New_York): 7/15/2030 9:30 AM → sent to AllClients as "
        "7/15/2030 8:30 AM US Central Time."
    ) in html
    assert 'value="America/New_York"' in html


def test_an_email_identify_method_is_offered_from_the_index(client, operator, ann):
    client.force_login(operator)
    html = client.get(_act(ann["allclients"], "run_action_set")).content.decode()
    assert '<option value="ann.lee@example.com">' in html  # the datalist of known emails
    client.post(
        _act(ann["allclients"], "run_action_set"),
        {"action_set_id": "101", "identify_method": "2", "identify_value": "ann.lee@example.com"},
    )
    params = Action.objects.get().params
    assert (params["identify_method"], params["identify_value"]) == (2, "ann.lee@example.com")


def test_apptivo_choices_come_from_the_latest_config_read(client, operator, connections):
    client.force_login(operator)
    url = reverse("console:connection-act", args=[connections["apptivo"].pk, "create_customer"])
    html = client.get(url).content.decode()
    assert "not loaded yet" in html and 'hx-trigger="load"' in html  # reads it on opening
    apptivo_config_read(connections["apptivo"])
    html = client.get(url).content.decode()
    assert '<option value="10000">Active</option>' in html
    assert '<option value="27792">SMB</option>' in html
    client.post(url, {"customer_name": "Zed Q", "status_id": "10000", "email": "z@example.com"})
    action = Action.objects.get(operation="create_customer")
    assert action.params == {
        "customer_name": "Zed Q",
        "status_id": "10000",
        "email": "z@example.com",
    }
    assert action.contact is None


def test_editing_an_apptivo_customer_sends_only_what_changed(client, operator, ann):
    client.force_login(operator)
    url = _act(ann["apptivo"], "update_customer")
    html = client.get(url).content.decode()
    assert 'value="Ann Lee"' in html
    form = {
        "customer_name": "Ann Lee",
        "status_id": "1",
        "category_id": "2",
        "email": "ann.lee@example.com",
        "phone": "+1 312 555 0111",
        "description": "",
    }
    client.post(url, form)
    assert Action.objects.get().params == {"phone": "+1 312 555 0111", "contact_remote_id": "9001"}
    response = client.post(url, {**form, "phone": ""}, **HTMX)
    assert "Nothing changed" in response.content.decode()


def test_deleting_an_apptivo_customer_is_one_confirmed_button(client, operator, ann):
    client.force_login(operator)
    person = reverse("console:person-detail", args=[ann["apptivo"].person_id])
    html = client.get(person).content.decode()
    assert f'hx-post="{_act(ann["apptivo"], "delete_customer")}"' in html
    client.post(_act(ann["apptivo"], "delete_customer"), **HTMX)
    assert Action.objects.get().params == {"contact_remote_id": "9001"}


def test_crmcom_compose_validates_like_the_connector(client, operator, ann):
    client.force_login(operator)
    url = _act(ann["crmcom"], "communication_create")
    response = client.post(url, {"life_cycle_state": "DRAFT", "media": "EMAIL"}, **HTMX)
    assert not Action.objects.exists()
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    client.post(
        url,
        {
            "direction": "OUTGOING",
            "media": "EMAIL",
            "subject": "Hi",
            "content": "Hello",
            "to": "ann.lee@example.com",
            "life_cycle_state": "DRAFT",
        },
    )
    assert Action.objects.get().params["life_cycle_state"] == "DRAFT"


def test_a_queue_entry_is_rejected_with_a_code_and_a_reason(client, operator, connections):
    client.force_login(operator)
    url = reverse("console:connection-act", args=[connections["crmcom"].pk, "queue_reject"])
    html = client.get(url + "?queue_entry=QE1", **HTMX).content.decode()
    assert 'value="QE1"' in html and "Rejection code" in html
    response = client.post(url, {"queue_entry": "QE1", "error_code": ""}, **HTMX)
    assert "This field is required" in response.content.decode()
    client.post(
        url, {"queue_entry": "QE1", "error_code": "BOUNCE", "error_description": "No mailbox"}
    )
    action = Action.objects.get()
    assert action.params == {
        "queue_entry": "QE1",
        "error_code": "BOUNCE",
        "error_description": "No mailbox",
    }
