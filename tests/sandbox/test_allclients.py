"""The simulated AllClients API on its own (credentials, reads, seeding, faults), hit
with plain ``requests`` form posts.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crmhub.sandbox import faults
from crmhub.sandbox.allclients import store, views
from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Account, Record
from crmhub.sandbox.people import people_for
from crmhub.sandbox.services import sandbox_seed
from tests.sandbox.allclients_api import FIRST, add_contact, calls, seeded_api

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def api(web_server):
    return seeded_api(web_server.url)


# -- credentials ------------------------------------------------------------------------------
def test_credentials_look_like_the_vendor_ones():
    credentials = store.default_credentials()
    assert credentials["account_id"].isdigit()
    assert len(credentials["api_key"]) == 32
    assert credentials["api_key"] == credentials["api_key"].upper()
    int(credentials["api_key"], 16)
    settings, secrets = store.connection_settings(credentials)
    assert settings == {"account_id": credentials["account_id"], "time_zone": "America/Chicago"}
    assert secrets == {"api_key": credentials["api_key"]}


WRONG_CREDENTIALS = {
    "non-numeric account": lambda a, k: {"accountid": f"{a}x", "apikey": k},
    "no account": lambda a, k: {"apikey": k},
    "no key": lambda a, k: {"accountid": a},
    "lower-case key": lambda a, k: {"accountid": a, "apikey": k.lower()},
    "longer key": lambda a, k: {"accountid": a, "apikey": k + "0"},
    "other account": lambda a, k: {"accountid": str(int(a) + 1), "apikey": k},
    "negative account": lambda a, k: {"accountid": f"-{a}", "apikey": k},
}


@pytest.mark.parametrize("case", WRONG_CREDENTIALS)
def test_wrong_credentials_fail_like_the_vendor(api, case):
    real = api.credentials
    response = api.post(
        "GetCategories", auth=WRONG_CREDENTIALS[case](real["accountid"], real["apikey"])
    )
    assert response.status_code == 200
    assert response.content == (
        b'<?xml version="1.0"?>\n<results><error>Authentication failed</error></results>'
    )
    assert calls("GetCategories")[0].applied is False


def test_the_right_credentials_pass(api):
    assert api.xml("GetCategories").find("categories") is not None


def test_auth_failure_in_json(api):
    response = api.post("GetContacts", auth={"accountid": "1", "apikey": "x"}, response_type="json")
    assert response.json() == {"results": {"error": "Authentication failed"}}


def test_changes_need_credentials_too(api):
    response = api.post(
        "AddContactLink",
        auth={"accountid": api.credentials["accountid"], "apikey": "0" * 32},
        contactid=FIRST,
        url="https://example.com/",
        label="x",
    )
    assert b"<error>Authentication failed</error>" in response.content
    assert not Record.objects.filter(kind="allclients", collection="link").exists()


def test_get_is_not_allowed(api):
    response = requests.get(f"{api.base_url}GetCategories.aspx", params=api.credentials, timeout=10)
    assert response.status_code == 405
    assert calls("GetCategories")[0].status == 405


def test_the_ledger_never_keeps_the_key(api):
    api.xml("GetCategories")
    (call,) = calls("GetCategories")
    assert call.params == {"accountid": api.credentials["accountid"]}


# -- GetContacts ------------------------------------------------------------------------------
def test_get_contacts_xml_in_the_vendor_shape(api):
    root = api.xml("GetContacts", pagingsize=3, pagingoffset=0)
    contacts = root.find("contacts")
    assert [c.findtext("id") for c in contacts] == [str(FIRST + i) for i in range(3)]
    first = contacts[0]
    person = next(people_for("allclients", 12))
    assert first.findtext("firstname") == person.first_name
    assert first.findtext("lastname") == person.last_name
    assert first.findtext("phone") == person.phone
    # 2014-02-15T19:15:05Z in Chicago
    assert first.findtext("adddate") == "2/15/2014 1:15:05 PM"


def test_empty_fields_are_left_out(api):
    add_contact(900001, firstname="Only", lastname="Name")
    root = api.xml("GetContacts", contactid=900001, pagingsize=10)
    (contact,) = root.find("contacts")
    assert [child.tag for child in contact] == ["id", "firstname", "lastname", "adddate"]


def test_get_contacts_pages_to_the_end(api):
    seen = []
    for offset in range(0, 15, 5):
        root = api.xml("GetContacts", pagingsize=5, pagingoffset=offset)
        seen += [c.findtext("id") for c in root.find("contacts")]
    assert seen == [str(FIRST + i) for i in range(12)]
    root = api.xml("GetContacts", pagingsize=5, pagingoffset=12)
    assert list(root.find("contacts")) == []


def test_get_contacts_json_one_item_is_an_object_many_an_array_none_null(api):
    one = api.json("GetContacts", pagingsize=1, pagingoffset=0)
    assert isinstance(one["results"]["contacts"]["contact"], dict)
    assert one["results"]["contacts"]["contact"]["id"] == str(FIRST)
    many = api.json("GetContacts", pagingsize=2, pagingoffset=0)
    assert [c["id"] for c in many["results"]["contacts"]["contact"]] == [str(FIRST), str(FIRST + 1)]
    none = api.json("GetContacts", pagingsize=2, pagingoffset=100)
    assert none == {"results": {"contacts": None}}


def test_get_contacts_keeps_accents_and_apostrophes(api):
    add_contact(900001, firstname="Seán", lastname="O'Brien", company="Müller & Søn")
    for body in (
        api.post("GetContacts", contactid=900001, pagingsize=1).content,
        api.post("GetContacts", contactid=900001, pagingsize=1, response_type="json").content,
    ):
        text = body.decode("utf-8")
        assert "Seán" in text and "Müller" in text and "Søn" in text
    data = api.json("GetContacts", contactid=900001, pagingsize=1)
    assert data["results"]["contacts"]["contact"]["lastname"] == "O'Brien"


def test_dates_follow_the_account_time_zone(api):
    account = Account.objects.get(kind="allclients")
    account.credentials = {**account.credentials, "time_zone": "America/Los_Angeles"}
    account.save()
    root = api.xml("GetContacts", pagingsize=1)
    assert root.find("contacts")[0].findtext("adddate") == "2/15/2014 11:15:05 AM"


def test_get_contacts_filters_by_email(api):
    add_contact(900001, firstname="Ana", email="  Ana@Example.COM ")
    root = api.xml("GetContacts", email="ana@example.com", pagingsize=10)
    assert [c.findtext("id") for c in root.find("contacts")] == ["900001"]


def test_calls_without_paging_are_delayed(api, monkeypatch):
    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    root = api.xml("GetContacts")
    assert slept == [ASSUMPTIONS.unpaged_delay_seconds]
    assert len(root.find("contacts")) == 12


@pytest.mark.parametrize("field", ["pagingsize", "pagingoffset", "contactid"])
def test_paging_fields_must_be_numeric(api, field):
    assert api.error("GetContacts", **{"pagingsize": 5, field: "ten"}) == f"{field} must be numeric"


def _ids(page):  # type: ignore[no-untyped-def]
    return [row.remote_id for row in page]


def test_pages_are_read_with_a_limit_from_the_index():
    sandbox_seed(people=50, kinds=("allclients",), reset=True)
    with CaptureQueriesContext(connections["sandbox"]) as queries:
        page = store.contacts_page(offset=40, size=5)
    assert _ids(page) == [FIRST + i for i in range(40, 45)]
    reads = [q["sql"] for q in queries if '"sandbox_record"' in q["sql"]]
    assert len(reads) == 2
    assert all("LIMIT" in sql for sql in reads)


@pytest.mark.skipif(
    connections["sandbox"].vendor != "sqlite", reason="the records version is kept on SQLite"
)
def test_the_next_page_starts_where_the_last_ended_without_counting_the_offset():
    sandbox_seed(people=50, kinds=("allclients",), reset=True)
    store.contacts_page(offset=10, size=5)
    with CaptureQueriesContext(connections["sandbox"]) as queries:
        page = store.contacts_page(offset=15, size=5)
    assert _ids(page) == [FIRST + i for i in range(15, 20)]
    assert not any("OFFSET" in q["sql"] for q in queries)


@pytest.mark.parametrize(
    "change",
    [
        lambda: Record.objects.filter(kind="allclients", remote_id=FIRST + 3).delete(),
        lambda: Record.objects.filter(kind="allclients", remote_id=FIRST + 3).update(deleted=True),
        lambda: add_contact(remote_id=FIRST - 1),
    ],
    ids=["deleted", "marked deleted", "added before"],
)
def test_a_page_after_records_changed_is_counted_again(change):  # type: ignore[no-untyped-def]
    sandbox_seed(people=50, kinds=("allclients",), reset=True)
    store.contacts_page(offset=10, size=5)
    change()
    live = list(store.rows(store.CONTACT).order_by("remote_id").values_list("remote_id", flat=True))
    assert _ids(store.contacts_page(offset=15, size=5)) == live[15:20]


def test_seed_uses_bulk_inserts_and_is_deterministic():
    with CaptureQueriesContext(connections["sandbox"]) as queries:
        written = store.seed(people_for("allclients", 1000), batch_size=250)
    inserts = [q for q in queries if q["sql"].startswith("INSERT")]
    assert written == 1000 + len(store.CATEGORIES) + len(store.ACTION_SETS) + len(
        store.TEAM_MEMBERS
    )
    assert len(inserts) < 20  # batches, never a row at a time
    rows = Record.objects.filter(kind="allclients", collection="contact").order_by("remote_id")
    assert rows.count() == 1000
    assert rows.first().remote_id == FIRST
    assert rows.last().remote_id == FIRST + 999
    some = people_for("allclients", 1000)
    assert rows.first().data["firstname"] == next(some).first_name
    without_email = rows.exclude(data__has_key="email").count()
    assert 0 < without_email < 300


# -- GetCategories ----------------------------------------------------------------------------
def test_get_categories(api):
    root = api.xml("GetCategories")
    names = [c.findtext("name") for c in root.find("categories")]
    assert names == [name for _, name in store.CATEGORIES]
    data = api.json("GetCategories")
    assert data["results"]["categories"]["category"][0] == {"categoryid": "1", "name": "Prospect"}


# -- faults -----------------------------------------------------------------------------------
def test_injected_faults_come_first_and_are_recorded(api):
    faults.configure("allclients", fail_next=1, error_status=503)
    response = api.post("RunActionSet", identifymethod=1, identifyvalue=FIRST, actionsetid=101)
    assert response.status_code == 503
    (call,) = calls("RunActionSet")
    assert (call.status, call.applied) == (503, False)
    again = api.xml("RunActionSet", identifymethod=1, identifyvalue=FIRST, actionsetid=103)
    assert again.findtext("message") == "Success"


def test_malformed_fault_follows_the_requested_format(api):
    faults.configure("allclients", malformed_rate=1.0)
    assert api.post("GetCategories").content.startswith(b"<?xml")
    with pytest.raises(json.JSONDecodeError):
        api.post("GetCategories", response_type="json").json()
