"""The simulated AllClients changes (RunActionSet, AddContactLink) and their rules, hit
with plain ``requests`` form posts.
"""

from __future__ import annotations

from typing import Any

import pytest

from crmhub.sandbox.models import Account, Record
from tests.sandbox.allclients_api import FIRST, Api, add_contact, calls, seeded_api

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def api(web_server):
    return seeded_api(web_server.url)


# -- RunActionSet -----------------------------------------------------------------------------
def run(api: Api, **fields: object) -> Any:
    form = {"identifymethod": 1, "identifyvalue": FIRST, "actionsetid": 103, **fields}
    return api.xml("RunActionSet", **{k: v for k, v in form.items() if v is not None})


def test_run_action_set_success_in_the_vendor_shape(api):
    response = api.post("RunActionSet", identifymethod=1, identifyvalue=FIRST, actionsetid=101)
    assert response.content == (
        b'<?xml version="1.0"?>\n<results><message>Success</message>'
        b"<details>Action Set completed</details></results>"
    )
    (call,) = calls("RunActionSet")
    assert call.applied and call.effect == f"runactionset:{FIRST}:101"
    run_row = Record.objects.get(kind="allclients", collection="actionsetrun")
    assert run_row.data["teammemberid"] == 0


def test_run_action_set_success_in_json(api):
    data = api.json(
        "RunActionSet", identifymethod=1, identifyvalue=FIRST, actionsetname="welcome series"
    )
    assert data == {"results": {"message": "Success", "details": "Action Set completed"}}
    assert calls("RunActionSet")[0].effect == f"runactionset:{FIRST}:101"


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"identifymethod": None}, "Invalid identifymethod"),
        ({"identifymethod": 4}, "Invalid identifymethod"),
        ({"identifyvalue": None}, "identifyvalue is required"),
        ({"identifyvalue": "64704x"}, "identifyvalue must be an integer"),
        ({"identifyvalue": 1}, "Contact not found"),
        (
            {"identifymethod": 2, "identifyvalue": "nobody"},
            "identifyvalue must be an email address",
        ),
        ({"identifymethod": 2, "identifyvalue": "nobody@example.com"}, "Contact not found"),
        ({"actionsetid": None}, "actionsetid or actionsetname is required"),
        ({"actionsetid": 999}, "Action Set not found"),
        ({"actionsetid": "abc"}, "actionsetid must be numeric"),
        ({"actionsetid": None, "actionsetname": "Nope"}, "Action Set not found"),
        ({"teammemberid": "owner"}, "teammemberid must be numeric"),
        ({"teammemberid": 99}, "Team Member not found"),
        ({"startdatetime": "2024-07-01 10:30"}, "Invalid startdatetime"),
        ({"startdatetime": "13/1/2024 10:30 AM"}, "Invalid startdatetime"),
        ({"startdatetime": "2/30/2024 10:30 AM"}, "Invalid startdatetime"),
        ({"startdatetime": "7/1/2024 13:30 PM"}, "Invalid startdatetime"),
    ],
)
def test_run_action_set_rules(api, fields, text):
    root = run(api, **fields)
    assert root.findtext("error") == text
    assert [c.applied for c in calls("RunActionSet")] == [False]
    assert not Record.objects.filter(kind="allclients", collection="actionsetrun").exists()


def test_start_time_is_read_in_us_central_whatever_the_account_zone(api):
    account = Account.objects.get(kind="allclients")
    account.credentials = {**account.credentials, "time_zone": "America/Los_Angeles"}
    account.save()
    run(api, startdatetime="12/30/2023 6:15 PM")
    run(api, startdatetime="04/15/2021  10:00 am")
    starts = [
        r.data["start"]
        for r in Record.objects.filter(kind="allclients", collection="actionsetrun").order_by(
            "remote_id"
        )
    ]
    assert starts == ["2023-12-31T00:15:00Z", "2021-04-15T15:00:00Z"]


def test_email_actions_need_an_email_on_file(api):
    add_contact(900001, firstname="No", lastname="Email")
    root = run(api, identifyvalue=900001, actionsetid=101)
    assert root.findtext("error") == "Contact does not have a valid, opted-in email address"
    assert run(api, identifyvalue=900001, actionsetid=103).findtext("message") == "Success"


def test_identify_by_email_takes_the_first_by_add_date(api):
    add_contact(900001, email="same@example.com", adddate="2021-05-01T00:00:00Z")
    add_contact(900002, email="SAME@example.com ", adddate="2019-05-01T00:00:00Z")
    add_contact(
        900003,
        email="main@example.com",
        otheremail="same@example.com",
        adddate="2018-01-01T00:00:00Z",
    )
    run(api, identifymethod=2, identifyvalue="same@example.com")
    run(api, identifymethod=3, identifyvalue="same@example.com")
    assert [c.effect for c in calls("RunActionSet")] == [
        "runactionset:900002:103",
        "runactionset:900003:103",
    ]


def test_over_long_identify_value_is_trimmed_not_refused(api):
    email = "a" * 63 + "@example.com"
    assert len(email) == 75
    add_contact(900001, email=email)
    root = run(api, identifymethod=2, identifyvalue=email + "xyz")
    assert root.findtext("message") == "Success"
    (call,) = calls("RunActionSet")
    assert call.params["identifyvalue"] == email + "xyz"  # what arrived
    assert call.effect == "runactionset:900001:103"


# -- AddContactLink ---------------------------------------------------------------------------
def link(api: Api, **fields: object) -> Any:
    form = {"contactid": FIRST, "url": "https://example.com/a", "label": "A", **fields}
    return api.xml("AddContactLink", **{k: v for k, v in form.items() if v is not None})


def test_add_contact_link_success_in_the_vendor_shape(api):
    response = api.post("AddContactLink", contactid=FIRST, url="https://example.com/a", label="A")
    assert response.content == (
        b'<?xml version="1.0"?>\n<results><message>Success</message>'
        b"<sourceid>15631</sourceid></results>"
    )
    assert link(api).findtext("sourceid") == "15632"
    effects = [c.effect for c in calls("AddContactLink") if c.applied]
    assert effects == [f"addcontactlink:{FIRST}:https://example.com/a"] * 2


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"contactid": None}, "contactid is required"),
        ({"contactid": "x1"}, "contactid must be numeric"),
        ({"contactid": 5}, "Contact not found"),
        ({"url": None}, "url is required"),
        ({"url": "ftp://example.com/"}, "url must start with https:// or http://"),
        ({"url": "example.com"}, "url must start with https:// or http://"),
        ({"url": "HTTPS://example.com/"}, "url must start with https:// or http://"),
        ({"label": None}, "label is required"),
        ({"label": "   "}, "label is required"),
    ],
)
def test_add_contact_link_rules(api, fields, text):
    assert link(api, **fields).findtext("error") == text
    assert not Record.objects.filter(kind="allclients", collection="link").exists()
    assert [c.applied for c in calls("AddContactLink")] == [False]


def test_over_long_url_and_label_are_trimmed_silently(api):
    url = "https://example.com/" + "u" * 300
    root = link(api, url=url, label="L" * 80)
    assert root.findtext("message") == "Success"
    stored = Record.objects.get(kind="allclients", collection="link")
    assert stored.data["url"] == url[:255]
    assert stored.data["label"] == "L" * 50
    assert calls("AddContactLink")[0].effect == f"addcontactlink:{FIRST}:{url[:255]}"


def test_get_contact_links_lists_what_was_added(api):
    link(api, url="https://example.com/1", label="One")
    link(api, contactid=FIRST + 1, url="https://example.com/2", label="Two")
    root = api.xml("GetContactLinks", contactid=FIRST)
    assert [(link_.findtext("url"), link_.findtext("label")) for link_ in root.find("links")] == [
        ("https://example.com/1", "One")
    ]
    data = api.json("GetContactLinks", contactid=FIRST + 2)
    assert data == {"results": {"links": None}}
