"""The AllClients state-changing operations against the simulated AllClients, over real
HTTP: what arrived (the sandbox ledger), that a change was applied exactly once, and each
documented failure.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from crmhub.connectors import errors
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults
from crmhub.sandbox.allclients import store
from crmhub.sandbox.models import Call, Record
from tests.connectors.allclients.ledger import FIRST, add_contact, applied, calls

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


# -- run_action_set ---------------------------------------------------------------------------
def test_run_action_set_by_contact_id(connector):
    result = connector.run(
        "run_action_set", {"contact_remote_id": str(FIRST + 1), "action_set_id": "101"}
    )
    assert result.message == "Success: Action Set completed"
    assert result.data["details"] == "Action Set completed"
    (call,) = calls("RunActionSet")
    assert call.params["identifymethod"] == "1"
    assert call.params["identifyvalue"] == str(FIRST + 1)
    assert call.params["actionsetid"] == "101"
    assert "startdatetime" not in call.params and "teammemberid" not in call.params
    assert applied("RunActionSet") == [f"runactionset:{FIRST + 1}:101"]


def test_run_action_set_by_name_with_team_member_in_json(json_connector):
    json_connector.run(
        "run_action_set",
        {
            "contact_remote_id": FIRST,
            "action_set_name": "Past Client Follow-up",
            "team_member_id": 12,
        },
    )
    (call,) = calls("RunActionSet")
    assert call.params["actionsetname"] == "Past Client Follow-up"
    assert call.params["teammemberid"] == "12"
    assert applied("RunActionSet") == [f"runactionset:{FIRST}:104"]


@pytest.mark.parametrize("zone", ["America/Chicago", "America/Los_Angeles"])
def test_run_action_set_start_is_sent_in_us_central_whatever_the_account_zone(spec, zone):
    account = store.Account.objects.get(kind="allclients")
    account.credentials = {**account.credentials, "time_zone": zone}
    account.save()
    connector = get_connector(
        dataclasses.replace(spec, settings={**spec.settings, "time_zone": zone})
    )
    connector.run(
        "run_action_set",
        {"contact_remote_id": FIRST, "action_set_id": 103, "start_at": "2024-07-01T15:30:00Z"},
    )
    (call,) = calls("RunActionSet")
    assert call.params["startdatetime"] == "7/1/2024 10:30 AM"  # CDT, UTC-5
    run = Record.objects.get(kind="allclients", collection="actionsetrun")
    assert run.data["start"] == "2024-07-01T15:30:00Z"


@pytest.mark.parametrize(("method", "email_key"), [(2, "email"), (3, "otheremail")])
def test_run_action_set_by_email(connector, method, email_key):
    add_contact(
        900001, firstname="Ana", email="ana.primary@example.com", otheremail="ana@home.example"
    )
    value = "ana.primary@example.com" if email_key == "email" else "ana@home.example"
    connector.run(
        "run_action_set",
        {
            "contact_remote_id": "900001",
            "identify_method": method,
            "identify_value": value,
            "action_set_id": 101,
        },
    )
    (call,) = calls("RunActionSet")
    assert (call.params["identifymethod"], call.params["identifyvalue"]) == (str(method), value)
    assert applied("RunActionSet") == ["runactionset:900001:101"]


def test_primary_email_method_does_not_match_other_email(connector):
    add_contact(
        900001, firstname="Ana", email="ana.primary@example.com", otheremail="ana@home.example"
    )
    with pytest.raises(errors.NotFound, match="Contact not found"):
        connector.run(
            "run_action_set",
            {
                "contact_remote_id": "900001",
                "identify_method": 2,
                "identify_value": "ana@home.example",
                "action_set_id": 103,
            },
        )
    assert applied("RunActionSet") == []


@pytest.mark.parametrize(
    ("params", "error", "text"),
    [
        ({"contact_remote_id": "1"}, errors.NotFound, "Contact not found"),
        ({"action_set_id": 999}, errors.NotFound, "Action Set not found"),
        (
            {"action_set_name": "No Such Set", "action_set_id": None},
            errors.NotFound,
            "Action Set not found",
        ),
        ({"team_member_id": 77}, errors.NotFound, "Team Member not found"),
    ],
)
def test_run_action_set_remote_failures(connector, params, error, text):
    base = {"contact_remote_id": str(FIRST), "action_set_id": 103}
    with pytest.raises(error, match=text):
        connector.run(
            "run_action_set", {k: v for k, v in {**base, **params}.items() if v is not None}
        )
    assert len(calls("RunActionSet")) == 1
    assert applied("RunActionSet") == []


def test_email_action_set_needs_a_contact_email(connector):
    add_contact(900002, firstname="No", lastname="Email")
    with pytest.raises(errors.Rejected, match="opted-in email"):
        connector.run("run_action_set", {"contact_remote_id": 900002, "action_set_id": 101})
    assert applied("RunActionSet") == []
    connector.run("run_action_set", {"contact_remote_id": 900002, "action_set_id": 103})
    assert applied("RunActionSet") == ["runactionset:900002:103"]


def test_run_action_set_with_wrong_key_is_auth_failed(spec):
    bad = get_connector(
        dataclasses.replace(spec, secrets={"api_key": spec.secrets["api_key"][:-2] + "XY"})
    )
    with pytest.raises(errors.AuthFailed):
        bad.run("run_action_set", {"contact_remote_id": FIRST, "action_set_id": 101})
    assert applied("RunActionSet") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"identify_method": 2, "identify_value": "a" * 70 + "@x.com"}, "identify_value"),
        ({"identify_method": 2}, "identify_value"),
        ({"identify_method": 3, "identify_value": "not-an-email"}, "identify_value"),
        ({"identify_method": 4}, "identify_method"),
        ({"identify_value": "123"}, "identify_value"),
        ({"action_set_name": "Welcome Series"}, "action_set_name"),
        ({"action_set_id": "abc"}, "action_set_id"),
        ({"action_set_id": None}, "action_set_id"),
        ({"team_member_id": "owner"}, "team_member_id"),
        ({"start_at": "2024-07-01T10:30:00"}, "start_at"),
        ({"start_at": "next tuesday"}, "start_at"),
        ({"contact_remote_id": "abc"}, "contact_remote_id"),
        ({"contact_remote_id": ""}, "contact_remote_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_run_action_set_invalid_params_are_refused_before_sending(connector, params, field):
    base = {"contact_remote_id": str(FIRST), "action_set_id": 101}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    with pytest.raises(errors.InvalidParams) as caught:
        connector.run("run_action_set", merged)
    assert field in caught.value.errors
    assert caught.value.request_sent is False
    assert calls("RunActionSet") == []


def test_run_action_set_answer_lost_after_apply_is_an_unknown_outcome(spec):
    faults.configure("allclients", timeout_after_apply=True, timeout_rate=1.0, hang_seconds=2.5)
    connector = get_connector(dataclasses.replace(spec, timeout=(2.0, 1.0)))
    with pytest.raises(errors.UnknownOutcome) as caught:
        connector.run("run_action_set", {"contact_remote_id": FIRST, "action_set_id": 103})
    assert caught.value.request_sent is True and not caught.value.retryable
    assert isinstance(caught.value.__cause__, errors.Unavailable)
    assert applied("RunActionSet") == [f"runactionset:{FIRST}:103"]


def test_malformed_answer_to_a_change_is_an_unknown_outcome(connector):
    faults.configure("allclients", malformed_rate=1.0)
    with pytest.raises(errors.UnknownOutcome, match="may or may not have been made"):
        connector.run("run_action_set", {"contact_remote_id": FIRST, "action_set_id": 103})


def test_rate_limited_change_was_not_sent(connector):
    faults.configure("allclients", rate_limit_rate=1.0, retry_after=3)
    with pytest.raises(errors.RateLimited) as caught:
        connector.run("run_action_set", {"contact_remote_id": FIRST, "action_set_id": 103})
    assert caught.value.request_sent is False
    assert applied("RunActionSet") == []


# -- add_contact_link -------------------------------------------------------------------------
def test_add_contact_link_then_list_it(connector):
    result = connector.run(
        "add_contact_link",
        {
            "contact_remote_id": str(FIRST),
            "url": "HTTPS://example.com/deal/42",
            "label": " Deal room ",
        },
    )
    assert result.remote_id == str(store.LINK_ID_BASE)
    assert result.data["url"] == "https://example.com/deal/42"
    (call,) = calls("AddContactLink")
    assert call.params["contactid"] == str(FIRST)
    assert call.params["url"] == "https://example.com/deal/42"
    assert call.params["label"] == "Deal room"
    assert applied("AddContactLink") == [f"addcontactlink:{FIRST}:https://example.com/deal/42"]

    listed = connector.run("get_contact_links", {"contact_remote_id": str(FIRST)})
    assert [(link["id"], link["url"], link["label"]) for link in listed.data["links"]] == [
        (str(store.LINK_ID_BASE), "https://example.com/deal/42", "Deal room")
    ]
    assert listed.data["links"][0]["added_at"].endswith("+00:00")


def test_add_contact_link_at_the_length_limits_is_sent_whole(json_connector):
    url = "https://example.com/" + "p" * (255 - len("https://example.com/"))
    json_connector.run(
        "add_contact_link", {"contact_remote_id": FIRST, "url": url, "label": "L" * 50}
    )
    link = Record.objects.get(kind="allclients", collection="link")
    assert (link.data["url"], link.data["label"]) == (url, "L" * 50)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"url": "https://example.com/" + "p" * 236}, "url"),
        ({"label": "L" * 51}, "label"),
        ({"url": "ftp://example.com/file"}, "url"),
        ({"url": "example.com"}, "url"),
        ({"url": "https://exa mple.com/"}, "url"),
        ({"url": ""}, "url"),
        ({"label": "   "}, "label"),
        ({"contact_remote_id": None}, "contact_remote_id"),
    ],
)
def test_add_contact_link_invalid_params_are_refused_before_sending(connector, params, field):
    base = {"contact_remote_id": FIRST, "url": "https://example.com/", "label": "Site"}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    with pytest.raises(errors.InvalidParams) as caught:
        connector.run("add_contact_link", merged)
    assert field in caught.value.errors
    assert calls("AddContactLink") == []


def test_add_contact_link_to_an_unknown_contact(connector):
    with pytest.raises(errors.NotFound, match="Contact not found"):
        connector.run(
            "add_contact_link",
            {"contact_remote_id": 5, "url": "https://example.com/", "label": "x"},
        )
    assert len(calls("AddContactLink")) == 1
    assert applied("AddContactLink") == []


def test_add_contact_link_server_error_is_an_unknown_outcome(connector):
    faults.configure("allclients", fail_next=1, error_status=503)
    with pytest.raises(errors.UnknownOutcome) as caught:
        connector.run(
            "add_contact_link",
            {"contact_remote_id": FIRST, "url": "https://example.com/", "label": "x"},
        )
    assert caught.value.request_sent is True  # a 5xx answer: the request got there
    assert caught.value.status == 503 and not caught.value.retryable
    assert applied("AddContactLink") == []


def test_no_secret_in_the_record_of_changes(connector, spec):
    connector.run("run_action_set", {"contact_remote_id": FIRST, "action_set_id": 103})
    connector.run(
        "add_contact_link",
        {"contact_remote_id": FIRST, "url": "https://example.com/", "label": "x"},
    )
    dump = json.dumps([call.as_dict() for call in connector.drain_calls()])
    assert spec.secrets["api_key"] not in dump
    ledger = json.dumps([c.params for c in Call.objects.all()])
    assert spec.secrets["api_key"] not in ledger
