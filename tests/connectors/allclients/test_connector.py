"""The AllClients connector against the simulated AllClients, over real HTTP: the contract,
credentials, the contact listing and the read operations.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from crmhub.connectors import errors
from crmhub.connectors.allclients.connector import UNDOCUMENTED, AllClientsConnector
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults
from crmhub.sandbox.allclients import store
from crmhub.sandbox.models import Record
from tests.connectors.allclients.ledger import FIRST, calls, set_account_time_zone
from tests.connectors.contract import ConnectorContract

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class TestAllClientsContract(ConnectorContract):
    kind = "allclients"
    people = 23

    def a_change(self) -> tuple[str, dict[str, Any]]:
        return "run_action_set", {"contact_remote_id": FIRST, "action_set_id": 103}

    def a_read(self) -> tuple[str, dict[str, Any]]:
        return "get_contact", {"contact_remote_id": FIRST}


def test_registry_gives_this_connector(connector):
    assert isinstance(connector, AllClientsConnector)
    assert connector.secret_fields == ("apikey",)


# -- check_credentials ------------------------------------------------------------------------
def test_check_credentials_calls_get_categories_with_the_account(connector, spec):
    connector.check_credentials()
    (call,) = calls("GetCategories")
    assert call.params["accountid"] == spec.settings["account_id"]
    assert "apikey" not in call.params  # the ledger never keeps the key
    (record,) = connector.drain_calls()
    assert record.url.endswith("/api/2/GetCategories.aspx")
    assert record.request["form"]["apikey"] == "[redacted]"


def test_wrong_account_id_is_auth_failed(spec):
    other = str(int(spec.settings["account_id"]) + 1)
    connector = get_connector(
        dataclasses.replace(spec, settings={**spec.settings, "account_id": other})
    )
    with pytest.raises(errors.AuthFailed, match="Authentication failed"):
        connector.check_credentials()
    assert calls("GetCategories")[0].params["accountid"] == other


def test_missing_key_fails_before_sending(spec):
    connector = get_connector(dataclasses.replace(spec, secrets={}))
    with pytest.raises(errors.AuthFailed) as caught:
        connector.check_credentials()
    assert caught.value.request_sent is False
    assert calls("GetCategories") == []


def test_unknown_time_zone_setting_is_invalid(spec):
    with pytest.raises(errors.InvalidParams) as caught:
        get_connector(
            dataclasses.replace(spec, settings={**spec.settings, "time_zone": "Mars/Base"})
        )
    assert "time_zone" in caught.value.errors


def test_xml_entities_from_the_server_are_refused(connector):
    faults.configure("allclients", xml_attack="entity")
    with pytest.raises(errors.UnsafeXML):
        connector.check_credentials()


# -- listing ----------------------------------------------------------------------------------
def test_listing_pages_with_pagingsize_and_pagingoffset(connector):
    pages = list(connector.iter_contact_pages(page_size=5))
    assert [len(page.contacts) for page in pages] == [5, 5, 2]
    assert [page.number for page in pages] == [0, 1, 2]
    sent = [(c.params["pagingsize"], c.params["pagingoffset"]) for c in calls("GetContacts")]
    # No total: the short page is not taken for the end, the next offset must be empty.
    assert sent == [("5", "0"), ("5", "5"), ("5", "10"), ("5", "12")]


def test_a_server_serving_shorter_pages_than_asked_is_listed_to_the_end(connector, monkeypatch):
    from crmhub.sandbox.allclients import views

    listed = views._contacts
    # A server with a page-size cap of its own: it cuts every page to three.
    monkeypatch.setattr(views, "_contacts", lambda fields: list(listed(fields))[:3])
    pages = list(connector.iter_contact_pages(page_size=5))
    assert [len(page.contacts) for page in pages] == [3, 3, 3, 3]
    assert len({c.remote_id for page in pages for c in page.contacts}) == 12
    sent = [c.params["pagingoffset"] for c in calls("GetContacts")]
    assert sent == ["0", "3", "6", "9", "12"]


def test_listing_gives_contacts_as_the_crm_has_them(connector):
    contacts = [c for page in connector.iter_contact_pages(page_size=50) for c in page.contacts]
    stored = {
        r.remote_id: r for r in Record.objects.filter(kind="allclients", collection="contact")
    }
    assert {int(c.remote_id) for c in contacts} == set(stored)
    for contact in contacts:
        row = stored[int(contact.remote_id)].data
        assert contact.record_type == "person"
        assert (contact.first_name, contact.last_name) == (row["firstname"], row["lastname"])
        assert contact.company == row.get("company", "")
        assert contact.emails == tuple(row[k] for k in ("email", "otheremail") if k in row)
        assert contact.phones == (row["phone"],)
        assert contact.updated_at == datetime.fromisoformat(row["editdate"])
        assert contact.raw["id"] == contact.remote_id


def test_listing_in_json_is_the_same_as_in_xml(connector, json_connector):
    xml_contacts = [c for p in connector.iter_contact_pages(page_size=5) for c in p.contacts]
    json_contacts = [c for p in json_connector.iter_contact_pages(page_size=5) for c in p.contacts]
    assert json_contacts == xml_contacts
    assert {c.params.get("response_type") for c in calls("GetContacts")} == {None, "json"}


def test_json_one_item_pages_are_normalised(json_connector):
    pages = list(json_connector.iter_contact_pages(page_size=1))
    assert len(pages) == 12
    assert all(len(page.contacts) == 1 for page in pages)


def test_dates_are_read_in_the_connection_time_zone(spec):
    set_account_time_zone("America/Los_Angeles")
    right = get_connector(
        dataclasses.replace(spec, settings={**spec.settings, "time_zone": "America/Los_Angeles"})
    )
    wrong = get_connector(spec)  # still says America/Chicago
    first_right = next(right.iter_contact_pages(page_size=1)).contacts[0]
    first_wrong = next(wrong.iter_contact_pages(page_size=1)).contacts[0]
    stored = Record.objects.get(kind="allclients", collection="contact", remote_id=FIRST)
    assert first_right.updated_at == datetime.fromisoformat(stored.data["editdate"])
    assert first_right.updated_at - first_wrong.updated_at == (
        datetime(2000, 1, 1, 2, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)
    )


def test_page_size_is_capped_at_the_server_maximum(connector):
    list(connector.iter_contact_pages(page_size=5000))
    assert calls("GetContacts")[0].params["pagingsize"] == "500"


def test_a_repeated_page_is_a_bad_response(connector, monkeypatch):
    real_page = store.contacts_page
    monkeypatch.setattr(
        store, "contacts_page", lambda *, offset, size: real_page(offset=0, size=size)
    )
    with pytest.raises(errors.BadResponse, match="paging loop"):
        list(connector.iter_contact_pages(page_size=5))
    assert len(calls("GetContacts")) == 2


def test_empty_account_yields_one_empty_page(connector):
    Record.objects.filter(kind="allclients", collection="contact").delete()
    pages = list(connector.iter_contact_pages(page_size=5))
    assert [(page.contacts, page.number) for page in pages] == [((), 0)]


def _read_ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "http-read-ahead"]


def test_the_next_page_is_asked_before_this_one_is_handed_out(connector):
    pages = connector.iter_contact_pages(page_size=5)
    first = next(pages)
    pages.close()  # leaving early waits for the page asked ahead, and drops it
    assert [c.remote_id for c in first.contacts] == [str(FIRST + i) for i in range(5)]
    assert [c.params["pagingoffset"] for c in calls("GetContacts")] == ["0", "5"]
    assert not _read_ahead_threads()


def test_reading_ahead_keeps_one_request_on_its_way_at_most(connector, monkeypatch):
    send = connector.http._send
    on_way, most, sent = [0], [0], [0]
    lock = threading.Lock()

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            on_way[0] += 1
            sent[0] += 1
            most[0] = max(most[0], on_way[0])
        try:
            return send(*args, **kwargs)
        finally:
            with lock:
                on_way[0] -= 1

    monkeypatch.setattr(connector.http, "_send", counted)
    taken = 0
    for _page in connector.iter_contact_pages(page_size=2):
        taken += 1
        assert sent[0] <= taken + 1  # never more than one page ahead of what is taken
        threading.Event().wait(0.02)  # a slow consumer: the next page is there, waiting
    assert most[0] == 1
    assert (taken, sent[0]) == (6, 7)  # six pages and the empty offset after them
    assert not _read_ahead_threads()


def test_an_error_on_the_page_asked_ahead_comes_after_the_page_before(connector, monkeypatch):
    from crmhub.sandbox.allclients import views

    listed = views._contacts

    def failing(fields):  # type: ignore[no-untyped-def]
        if fields.get("pagingoffset") == "5":
            raise views.refuse("contact_not_found")
        return listed(fields)

    monkeypatch.setattr(views, "_contacts", failing)
    taken: list[int] = []

    def take() -> None:
        for page in connector.iter_contact_pages(page_size=5):
            taken.append(len(page.contacts))

    with pytest.raises(errors.NotFound):
        take()
    assert taken == [5]
    assert [c.params["pagingoffset"] for c in calls("GetContacts")] == ["0", "5"]
    assert not _read_ahead_threads()


def test_the_listing_takes_a_rate_slot_per_request_in_its_own_thread(connector):
    faults.configure("allclients", fail_next=1, error_status=429)  # the first page: a 429
    asked: list[tuple[str, str]] = []

    class Pacer:
        def before_request(self) -> None:
            asked.append(("slot", threading.current_thread().name))

        def rate_limited(self, error: errors.RateLimited) -> bool:
            asked.append(("429", threading.current_thread().name))
            return True

    connector.http.pacer = Pacer()
    pages = list(connector.iter_contact_pages(page_size=5))
    assert [len(page.contacts) for page in pages] == [5, 5, 2]
    me = threading.current_thread().name
    assert asked == [("slot", me), ("429", me)] + [("slot", me)] * 4
    offsets = [c.params["pagingoffset"] for c in calls("GetContacts")]
    assert offsets == ["0", "0", "5", "10", "12"]  # the first page answered 429, then again


# -- reads as operations ----------------------------------------------------------------------
def test_get_categories(connector):
    result = connector.run("get_categories", {})
    assert result.data["categories"][0] == {"id": "1", "name": "Prospect"}
    assert {c["name"] for c in result.data["categories"]} >= {"Client", "Friends & Family"}
    assert connector.operations["get_categories"].needs_contact is False
    json.dumps(result.data)


def test_get_contact_and_a_missing_one(json_connector):
    result = json_connector.run("get_contact", {"contact_remote_id": str(FIRST + 2)})
    assert result.remote_id == str(FIRST + 2)
    assert result.data["contact"]["id"] == str(FIRST + 2)
    assert calls("GetContacts")[0].params["contactid"] == str(FIRST + 2)
    json.dumps(result.data)
    with pytest.raises(errors.NotFound):
        json_connector.run("get_contact", {"contact_remote_id": "3"})


def test_get_contact_links_of_a_contact_without_links(connector):
    assert connector.run("get_contact_links", {"contact_remote_id": FIRST}).data == {"links": []}


def test_get_contact_links_is_labelled_undocumented():
    assert set(UNDOCUMENTED) == {"get_contact_links"}
    assert AllClientsConnector.operations["get_contact_links"].safe


def test_get_contact_links_on_a_server_without_it_is_not_available(connector):
    faults.configure("allclients", hide_undocumented=True)
    result = connector.run("get_contact_links", {"contact_remote_id": FIRST})
    assert result.data == {"available": False}
    assert result.message == "Contact links: not available from this CRM."
    assert calls("GetContactLinks")[0].status == 404


def test_get_contact_links_of_an_unknown_contact_still_fails(connector):
    with pytest.raises(errors.NotFound, match="Contact not found"):
        connector.run("get_contact_links", {"contact_remote_id": "3"})


@pytest.mark.parametrize("indent", [False, True], ids=["compact", "indented"])
def test_the_listing_reads_compact_and_indented_xml_alike(connector, indent):
    faults.configure("allclients", xml_indent=indent)
    body = connector.client.post("GetContacts", {"pagingsize": 2, "pagingoffset": 0})
    assert (b"\n    <contacts>" in body) is indent
    contacts = [c for page in connector.iter_contact_pages(page_size=5) for c in page.contacts]
    assert [c.remote_id for c in contacts] == [str(FIRST + i) for i in range(12)]
    assert all(c.full_name for c in contacts)


def test_operations_declare_their_safety(connector):
    safety = {name: op.safe for name, op in connector.operations.items()}
    assert safety == {
        "run_action_set": False,
        "add_contact_link": False,
        "get_contact": True,
        "get_contact_links": True,
        "get_categories": True,
    }
