"""The simulated AllClients as a strict oracle: every documented filter honoured or refused,
no page cut without a word, compact XML, opt-in state, and the undocumented method's switch.
"""

from __future__ import annotations

import dataclasses
from xml.dom import minidom

import pytest

from crmhub.sandbox import faults
from crmhub.sandbox.allclients import store, views
from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Record
from crmhub.sandbox.services import sandbox_seed
from tests.sandbox.allclients_api import FIRST, add_contact, calls, seeded_api

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def api(web_server):
    return seeded_api(web_server.url, people=30)


def dom(body: bytes) -> minidom.Element:
    """Return the DOM root of an answer, as the vendor's PHP plugin reads it (DOMDocument)."""
    return minidom.parseString(body).documentElement  # noqa: S318 (the sandbox's own answer)


def ids(root) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(contact.findtext("id")) for contact in root.find("contacts")]


# -- every documented filter honoured ------------------------------------------------------------
def test_phone_searches_all_four_phone_fields_by_digits(api):
    add_contact(900001, firstname="One", phone="(312) 555-0199")
    add_contact(900002, firstname="Two", phone="415.555.0101", phone2="+1 312 555 0199")
    add_contact(900003, firstname="Three", phone4="1-312-555-0199")
    add_contact(900004, firstname="Other", phone="(312) 555-0198")
    assert ids(api.xml("GetContacts", phone="3125550199", pagingsize=50)) == [
        900001,
        900002,
        900003,
    ]
    assert ids(api.xml("GetContacts", phone="(312) 555-0199", pagingsize=50)) == [
        900001,
        900002,
        900003,
    ]
    assert ids(api.xml("GetContacts", phone="*0199", pagingsize=50)) == [900001, 900002, 900003]
    assert ids(api.xml("GetContacts", phone="312555019*", pagingsize=50)) == [
        900001,
        900002,
        900003,
        900004,
    ]
    assert ids(api.xml("GetContacts", phone="2125550199", pagingsize=50)) == []


def test_a_seeded_phone_finds_its_one_contact(api):
    row = store.find(store.CONTACT, FIRST + 4)
    assert ids(api.xml("GetContacts", phone=row.data["phone"], pagingsize=50)) == [FIRST + 4]


def test_otheremail_matches_the_other_email_only(api):
    add_contact(900001, email="main@example.com", otheremail="Home@Example.net")
    add_contact(900002, email="home@example.net")
    assert ids(api.xml("GetContacts", otheremail=" home@example.NET ", pagingsize=9)) == [900001]
    assert ids(api.xml("GetContacts", email="home@example.net", pagingsize=9)) == [900002]
    assert ids(api.xml("GetContacts", otheremail="nobody@example.net", pagingsize=9)) == []


def test_email_wildcards_at_either_end(api):
    add_contact(900001, email="ana@wild.example")
    add_contact(900002, email="bob@wild.example")
    add_contact(900003, email="ana@tame.example")
    assert ids(api.xml("GetContacts", email="*@wild.example", pagingsize=9)) == [900001, 900002]
    assert ids(api.xml("GetContacts", email="ana@*", pagingsize=9)) == [900001, 900003]


def test_name_and_company_filters_ignore_case_in_any_script(api):
    add_contact(900001, firstname="Jürgen", lastname="Ødegård", company="Ålesund Fisk AS")
    add_contact(900002, firstname="Jurgen", lastname="Odegard", company="Alesund Fisk AS")
    assert ids(api.xml("GetContacts", lastname="ØDEGÅRD", pagingsize=9)) == [900001]
    assert ids(api.xml("GetContacts", company="ålesund*", pagingsize=9)) == [900001]
    assert ids(api.xml("GetContacts", company="*FISK AS", firstname="j*", pagingsize=9)) == [
        900001,
        900002,
    ]


def test_team_member_filter_keeps_that_database_only(api):
    eleven = ids(api.xml("GetContacts", teammemberid=11, pagingsize=50))
    owner = ids(api.xml("GetContacts", teammemberid=0, pagingsize=50))
    everyone = ids(api.xml("GetContacts", pagingsize=50))
    assert eleven == [FIRST + i for i in range(30) if i % 10 == 3]
    assert len(owner) == 30 - 6 and not set(owner) & set(eleven)
    assert len(everyone) == 30


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"teammemberid": 99}, "Team Member not found"),
        ({"teammemberid": "owner"}, "teammemberid must be numeric"),
        ({"categoryid": "name:Client"}, "Filter 'categoryid' is not supported by this simulator"),
        ({"flagid": 3}, "Filter 'flagid' is not supported by this simulator"),
        ({"adddateafter": "01/01/24 00:00"}, "Filter 'adddateafter' is not supported"),
        ({"pagesize": 10}, "Unknown field 'pagesize'"),
        ({"emial": "x@example.com"}, "Unknown field 'emial'"),
    ],
)
def test_a_filter_not_simulated_is_refused_never_ignored(api, fields, text):
    response = api.post("GetContacts", pagingsize=5, **fields)
    assert response.status_code == 200
    root = dom(response.content)
    assert root.tagName == "results" and root.childNodes.length == 1
    assert root.firstChild.tagName == "error"
    assert root.firstChild.firstChild.nodeValue.startswith(text)


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("RunActionSet", {"identifymethod": 1, "identifyvalue": FIRST, "actionset": 101}),
        ("AddContactLink", {"contactid": FIRST, "url": "https://x.example/", "labl": "x"}),
        ("GetCategories", {"pagingsize": 5}),
    ],
)
def test_every_method_refuses_a_field_it_does_not_know(api, method, fields):
    name = next(name for name in fields if name not in views.FIELDS[method])
    assert api.error(method, **fields) == f"Unknown field '{name}'"
    assert not Record.objects.filter(collection__in=["link", "actionsetrun"]).exists()


# -- no cap without a signal ---------------------------------------------------------------------
def test_the_page_size_asked_for_is_served(api):
    sandbox_seed(people=620, kinds=("allclients",), reset=True)
    assert len(ids(api.xml("GetContacts", pagingsize=600, pagingoffset=10))) == 600


def test_an_unpaged_call_is_delayed_then_answers_every_contact(api, monkeypatch):
    sandbox_seed(people=620, kinds=("allclients",), reset=True)
    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    assert ids(api.xml("GetContacts")) == [FIRST + i for i in range(620)]
    assert slept == [ASSUMPTIONS.unpaged_delay_seconds]


def test_more_than_the_simulator_limit_is_refused_naming_the_limit(api, monkeypatch):
    monkeypatch.setattr(views.time, "sleep", lambda seconds: None)
    small = dataclasses.replace(ASSUMPTIONS, max_contacts_per_answer=20)
    monkeypatch.setattr(views, "ASSUMPTIONS", small)
    expected = (
        "GetContacts answers at most 20 contacts per call (simulator limit); "
        "use pagingsize and pagingoffset"
    )
    assert api.error("GetContacts", pagingsize=21) == expected
    assert api.error("GetContacts") == expected  # 30 contacts, unpaged
    assert api.error("GetContacts", email="*example*") == expected
    assert len(ids(api.xml("GetContacts", pagingsize=20))) == 20
    assert len(ids(api.xml("GetContacts", pagingoffset=15))) == 15


# -- compact XML -----------------------------------------------------------------------------
def test_xml_is_compact_by_default_as_the_vendors_plugin_needs(api):
    body = api.post("GetContacts", pagingsize=2).content
    assert b">\n" not in body.split(b"?>", 1)[1] and b"> " not in body
    results = dom(body)
    assert results.firstChild.nodeType == results.ELEMENT_NODE
    assert results.firstChild.tagName == "contacts"
    error = dom(api.post("GetContacts", auth={"accountid": "1"}).content)
    assert error.childNodes.length == 1  # how the plugin spots an error


def test_indented_xml_is_a_fault_to_try(api):
    faults.configure("allclients", xml_indent=True)
    body = api.post("GetContacts", pagingsize=2).content
    assert b"\n    <contacts>" in body
    results = dom(body)
    assert results.firstChild.nodeType == results.TEXT_NODE  # what broke the plugin
    assert api.post("GetContacts", pagingsize=2, response_type="json").json()["results"]


# -- opt-in ----------------------------------------------------------------------------------
def test_seeded_contacts_are_mostly_opted_in_deterministically():
    sandbox_seed(people=200, kinds=("allclients",), reset=True)

    def not_opted_in() -> list[int]:
        rows = Record.objects.filter(kind="allclients", collection="contact")
        return sorted(r.remote_id for r in rows if r.data.get("opted_in") is False)

    first = not_opted_in()
    sandbox_seed(people=200, kinds=("allclients",), reset=True)
    assert not_opted_in() == first == [FIRST + i for i in range(200) if i % 10 == 9]


def test_an_email_action_set_is_refused_for_a_contact_not_opted_in(api):
    contact = store.find(store.CONTACT, FIRST + 9)
    assert contact.data["email"] and contact.data["opted_in"] is False
    refused = api.xml("RunActionSet", identifymethod=1, identifyvalue=FIRST + 9, actionsetid=101)
    assert refused.findtext("error") == "Contact does not have a valid, opted-in email address"
    other = api.xml("RunActionSet", identifymethod=1, identifyvalue=FIRST + 9, actionsetid=103)
    assert other.findtext("message") == "Success"  # no Email action in it
    assert [c.applied for c in calls("RunActionSet")] == [False, True]


def test_a_contact_added_without_opt_in_state_is_opted_in(api):
    add_contact(900001, email="new@example.com")
    root = api.xml("RunActionSet", identifymethod=1, identifyvalue=900001, actionsetid=101)
    assert root.findtext("message") == "Success"


def test_opt_in_state_is_not_part_of_a_contact(api):
    root = api.xml("GetContacts", contactid=FIRST + 9, pagingsize=1)
    (contact,) = root.find("contacts")
    assert "opted_in" not in [child.tag for child in contact]


# -- the undocumented method -----------------------------------------------------------------
def test_get_contact_links_can_be_made_to_not_exist(api):
    assert api.xml("GetContactLinks", contactid=FIRST).find("links") is not None
    faults.configure("allclients", hide_undocumented=True)
    response = api.post("GetContactLinks", contactid=FIRST)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"cannot be found" in response.content
    assert calls("GetContactLinks")[-1].status == 404
    assert ids(api.xml("GetContacts", pagingsize=3)) == [FIRST, FIRST + 1, FIRST + 2]
