"""The Apptivo connector against the simulated Apptivo over real HTTP, ledger checked."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmhub.connectors import errors
from crmhub.connectors.apptivo import connector as connector_module
from crmhub.connectors.apptivo.connector import ApptivoConnector
from crmhub.connectors.base import ContactPage
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults, ledger
from crmhub.sandbox.models import Call, Record
from tests.connectors.contract import ConnectorContract

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
KIND = "apptivo"


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    connector_module.clear_config_cache()
    yield
    connector_module.clear_config_cache()


class TestApptivoContract(ConnectorContract):
    kind = KIND
    people = 23

    def a_change(self) -> tuple[str, dict[str, Any]]:
        return "create_customer", {"customer_name": "Ana Contract"}

    def a_read(self) -> tuple[str, dict[str, Any]]:
        return "search_customers", {"search_text": "a"}


# -- helpers ---------------------------------------------------------------------------------
@pytest.fixture
def spec(sandbox_spec):
    return sandbox_spec(KIND, people=12)


@pytest.fixture
def connector(spec):
    connector = get_connector(spec)
    yield connector
    connector.close()


def calls(operation: str) -> list[Call]:
    return list(Call.objects.filter(kind=KIND, operation=operation).order_by("id"))


def stored(customer_id: str | int) -> Record:
    return Record.objects.get(kind=KIND, collection="customers", remote_id=int(customer_id))


def first_customer() -> Record:
    return Record.objects.filter(kind=KIND, deleted=False).order_by("remote_id").first()


# -- transport and listing ---------------------------------------------------------------------
def test_registry_gives_the_apptivo_connector(connector):
    assert isinstance(connector, ApptivoConnector)
    assert connector.supports_incremental


def test_keys_travel_in_the_form_never_in_the_url(connector, spec):
    connector.check_credentials()
    (call,) = calls("getConfigData")
    assert call.params["_query"] == ["a"]
    assert {"apiKey", "accessKey"} <= set(call.params["_form"])
    assert "apiKey" not in call.params and "accessKey" not in call.params
    (record,) = connector.drain_calls()
    assert record.method == "POST"
    assert record.url.endswith("/customers?a=getConfigData")
    assert record.request["form"]["apiKey"] == record.request["form"]["accessKey"] == "[redacted]"
    assert spec.secrets["api_key"] not in json.dumps(record.as_dict())


def test_listing_gives_customers_with_aware_dates_and_raw_records(connector):
    pages = list(connector.iter_contact_pages(page_size=5))
    assert [len(p.contacts) for p in pages] == [5, 5, 2]
    assert all(p.total == 12 for p in pages)
    assert [p.number for p in pages] == [0, 1, 2]
    contacts = [c for p in pages for c in p.contacts]
    assert all(c.record_type == "customer" and c.updated_at.tzinfo is not None for c in contacts)
    row = stored(contacts[0].remote_id)
    assert contacts[0].full_name == row.data["customerName"]
    assert contacts[0].raw["customerId"] == row.remote_id
    assert contacts[0].updated_at == row.updated_at.astimezone(UTC)
    with_email = [c for c in contacts if c.emails]
    assert with_email and all(c.phones for c in contacts)
    listings = calls("getAll")
    assert [(c.params["startIndex"], c.params["numRecords"]) for c in listings] == [
        ("0", "5"),
        ("5", "5"),
        ("10", "5"),
    ]


def test_listing_stops_on_the_count_without_an_extra_empty_page(connector):
    pages = list(connector.iter_contact_pages(page_size=6))
    assert [len(p.contacts) for p in pages] == [6, 6]
    assert len(calls("getAll")) == 2


def test_page_size_is_capped_at_the_largest_page(connector):
    list(connector.iter_contact_pages(page_size=10_000))
    assert calls("getAll")[0].params["numRecords"] == str(connector_module.MAX_PAGE_SIZE)


def test_incremental_listing_returns_only_what_changed_since(connector):
    since = datetime.now(UTC) - timedelta(seconds=2)
    target = first_customer()
    connector.run(
        "update_customer",
        {"contact_remote_id": str(target.remote_id), "description": "changed"},
    )
    pages = list(connector.iter_contact_pages(since=since, page_size=50))
    assert [c.remote_id for p in pages for c in p.contacts] == [str(target.remote_id)]
    (search,) = calls("getAllByAdvancedSearch")
    search_data = json.loads(search.params["searchData"])
    assert search_data["lastUpdateOnStartDate"] == since.strftime("%Y-%m-%d %H:%M:%S")
    assert search.params["objectId"] == "3"


def test_repeated_page_is_a_bad_response(connector, monkeypatch):
    page = {"data": [{"customerId": 1, "customerName": "A"}], "countOfRecords": 5}
    monkeypatch.setattr(connector.client, "call", lambda action, params=None: page)
    pages = connector.iter_contact_pages(page_size=1)
    first_page: ContactPage = next(pages)
    assert [c.remote_id for c in first_page.contacts] == ["1"]
    with pytest.raises(errors.BadResponse):
        next(pages)


def test_wrong_keys_fail_every_operation_as_auth(sandbox_spec):
    spec = sandbox_spec(KIND, people=3, wrong_secrets=False)
    bad = get_connector(dataclasses.replace(spec, secrets={**spec.secrets, "access_key": "nope"}))
    with pytest.raises(errors.AuthFailed):
        bad.run("search_customers", {"search_text": "a"})
    with pytest.raises(errors.AuthFailed):
        list(bad.iter_contact_pages())
    bad.close()


def test_missing_keys_fail_before_sending(spec):
    bare = ApptivoConnector(dataclasses.replace(spec, secrets={}))
    with pytest.raises(errors.AuthFailed) as caught:
        bare.check_credentials()
    assert caught.value.request_sent is False
    assert not Call.objects.filter(kind=KIND).exists()


# -- configuration -------------------------------------------------------------------------
def test_get_config_gives_choices_for_forms(connector):
    result = connector.run("get_config", {})
    assert result.data["object_id"] == 3
    assert {"id": "10000", "name": "Active"} in result.data["statuses"]
    assert {"id": "27792", "name": "SMB"} in result.data["categories"]
    assert "Customer Information" in result.data["layout_sections"]
    assert json.loads(json.dumps(result.data)) == result.data


def test_config_is_cached_per_connection_for_ten_minutes(connector, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(connector_module, "clock", lambda: now[0])
    connector.run("get_config", {})
    connector.run("get_config", {})
    assert len(calls("getConfigData")) == 1
    now[0] += connector_module.CONFIG_TTL + 1
    connector.run("get_config", {})
    assert len(calls("getConfigData")) == 2


def test_get_config_refuses_params(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("get_config", {"x": 1})
    assert caught.value.errors == {"x": ["Unknown parameter."]}


# -- create --------------------------------------------------------------------------------------
def test_create_customer_saves_once_with_resolved_names(connector):
    result = connector.run(
        "create_customer",
        {
            "customer_name": "Renée O'Brien",
            "status_id": "10001",
            "category_id": 27793,
            "email": "renee.obrien@example.com",
            "phone": "(312) 555-0100",
            "description": "Met at the fair",
        },
    )
    assert ledger.applied_count(KIND, "save", "save:Renée O'Brien:renee.obrien@example.com") == 1
    row = stored(result.remote_id)
    assert row.data["statusName"] == "Inactive"
    assert row.data["customerCategory"] == "Enterprise"
    assert row.data["emailAddresses"][0]["emailAddress"] == "renee.obrien@example.com"
    assert row.data["phoneNumbers"][0]["phoneNumber"] == "(312) 555-0100"
    sent = json.loads(calls("save")[0].params["customerData"])
    assert sent["customerId"] is None and sent["statusName"] == "Inactive"
    assert result.data["customer"]["customer_name"] == "Renée O'Brien"
    assert result.data["customer"]["status"] == "Inactive"
    assert result.remote_id in result.message


def test_create_customer_needs_a_name_before_anything_is_sent(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.run("create_customer", {"email": "x@example.com"})
    assert caught.value.errors == {"customer_name": ["This field is required."]}
    assert not Call.objects.filter(kind=KIND).exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"customer_name": "A" * 101}, "customer_name"),
        ({"customer_name": "Ana", "email": "not-an-email"}, "email"),
        ({"customer_name": "Ana", "phone": "call me"}, "phone"),
        ({"customer_name": "Ana", "status_id": "active"}, "status_id"),
        ({"customer_name": "Ana", "description": "x" * 4001}, "description"),
        ({"customer_name": "Ana", "customerName": "Ana"}, "customerName"),
    ],
)
def test_create_customer_validation(connector, params, field):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("create_customer", params)
    assert list(caught.value.errors) == [field]


def test_create_customer_with_an_unknown_status_is_refused_after_config_only(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.run("create_customer", {"customer_name": "Ana", "status_id": 99})
    assert "Active" in caught.value.errors["status_id"][0]
    assert calls("save") == []


def test_create_customer_server_error_is_an_unknown_outcome(connector):
    connector.run("get_config", {})  # cached: the fault hits the save itself
    faults.configure(KIND, fail_next=1, error_status=502)
    with pytest.raises(errors.UnknownOutcome) as caught:
        connector.run("create_customer", {"customer_name": "Ana"})
    assert caught.value.retryable is False
    assert ledger.applied_count(KIND, "save") == 0


def test_create_customer_config_failure_is_retryable_and_saves_nothing(connector):
    faults.configure(KIND, fail_next=1, error_status=503)
    with pytest.raises(errors.Unavailable) as caught:
        connector.run("create_customer", {"customer_name": "Ana"})
    assert not isinstance(caught.value, errors.UnknownOutcome)
    assert caught.value.retryable
    assert calls("save") == []


def test_update_customer_unreadable_answer_is_an_unknown_outcome(connector):
    target = first_customer()
    connector.run("get_config", {})
    faults.configure(KIND, malformed_rate=1.0)
    with pytest.raises(errors.UnknownOutcome):
        connector.run(
            "update_customer", {"contact_remote_id": str(target.remote_id), "description": "x"}
        )


def test_create_customer_rate_limited_is_retryable_and_not_sent(connector):
    connector.run("get_config", {})
    faults.configure(KIND, rate_limit_rate=1.0, retry_after=3)
    with pytest.raises(errors.RateLimited) as caught:
        connector.run("create_customer", {"customer_name": "Ana"})
    assert caught.value.request_sent is False
    assert ledger.applied_count(KIND, "save") == 0


def test_create_customer_timeout_after_apply_is_unknown_and_applied_once(spec):
    quick = get_connector(dataclasses.replace(spec, timeout=(2.0, 1.0)))
    quick.run("get_config", {})
    faults.configure(KIND, timeout_after_apply=True, timeout_rate=1.0, hang_seconds=2.5)
    with pytest.raises(errors.UnknownOutcome):
        quick.run("create_customer", {"customer_name": "Slow Poke"})
    assert ledger.applied_count(KIND, "save", "save:Slow Poke:") == 1
    quick.close()


# -- update --------------------------------------------------------------------------------------
def test_update_customer_changes_only_the_given_attributes(connector):
    target = first_customer()
    before = target.data
    result = connector.run(
        "update_customer",
        {
            "contact_remote_id": str(target.remote_id),
            "customer_name": "Zoë Renamed",
            "status_id": 10002,
        },
    )
    effect = f"update:{target.remote_id}:customerName,statusId,statusName"
    assert ledger.applied_count(KIND, "update", effect) == 1
    (call,) = calls("update")
    assert json.loads(call.params["attributeName"]) == ["customerName", "statusId", "statusName"]
    assert "attributeNames" not in call.params
    assert "isEmailAddressUpdate" not in call.params
    after = stored(target.remote_id).data
    assert after["customerName"] == "Zoë Renamed"
    assert after["statusName"] == "Prospect"
    assert after.get("emailAddresses") == before.get("emailAddresses")
    assert after["phoneNumbers"] == before["phoneNumbers"]
    assert result.data["changed"] == ["customerName", "statusId", "statusName"]
    assert result.data["customer"]["customer_name"] == "Zoë Renamed"
    assert result.remote_id == str(target.remote_id)


def test_update_customer_email_sends_the_email_flag(connector):
    target = first_customer()
    connector.run(
        "update_customer",
        {"contact_remote_id": str(target.remote_id), "email": "new.address@example.com"},
    )
    (call,) = calls("update")
    assert call.params["isEmailAddressUpdate"] == "true"
    emails = stored(target.remote_id).data["emailAddresses"]
    assert [e["emailAddress"] for e in emails] == ["new.address@example.com"]


def test_update_customer_clears_phone_and_category(connector):
    target = first_customer()
    connector.run(
        "update_customer",
        {"contact_remote_id": str(target.remote_id), "phone": "", "category_id": ""},
    )
    data = stored(target.remote_id).data
    assert data["phoneNumbers"] == []
    assert data["customerCategoryId"] is None


def test_update_customer_needs_a_change_and_a_customer(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("update_customer", {"contact_remote_id": "12"})
    assert "__all__" in caught.value.errors
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("update_customer", {"customer_name": "X"})
    assert list(caught.value.errors) == ["contact_remote_id"]
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("update_customer", {"contact_remote_id": "12", "customer_name": ""})
    assert list(caught.value.errors) == ["customer_name"]


def test_update_unknown_customer_is_not_found_and_changes_nothing(connector):
    with pytest.raises(errors.NotFound):
        connector.run("update_customer", {"contact_remote_id": "999", "description": "x"})
    assert ledger.applied_count(KIND, "update") == 0


# -- delete --------------------------------------------------------------------------------------
def test_delete_customer_once_then_not_found(connector):
    target = first_customer()
    customer_id = str(target.remote_id)
    result = connector.run("delete_customer", {"contact_remote_id": customer_id})
    assert result.remote_id == customer_id
    assert stored(customer_id).deleted
    listed = [c.remote_id for p in connector.iter_contact_pages(page_size=50) for c in p.contacts]
    assert customer_id not in listed and len(listed) == 11
    with pytest.raises(errors.NotFound):
        connector.run("delete_customer", {"contact_remote_id": customer_id})
    assert ledger.applied_count(KIND, "delete", f"delete:{customer_id}") == 1


def test_delete_customer_needs_a_numeric_id(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("delete_customer", {"contact_remote_id": "abc"})
    assert list(caught.value.errors) == ["contact_remote_id"]


# -- search --------------------------------------------------------------------------------------
def test_search_customers_by_name(connector):
    target = first_customer()
    name = target.data["customerName"]
    result = connector.run("search_customers", {"search_text": name, "limit": 5})
    assert str(target.remote_id) in [c["customer_id"] for c in result.data["customers"]]
    assert result.data["total"] >= 1
    (call,) = calls("getAllBySearchText")
    assert call.params["searchText"] == name
    assert call.params["numRecords"] == "5"


def test_search_customers_without_match(connector):
    result = connector.run("search_customers", {"search_text": "no such person zzz"})
    assert result.data["customers"] == [] and result.data["total"] == 0


def test_search_customers_validation(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("search_customers", {"search_text": "  ", "limit": 500})
    assert set(caught.value.errors) == {"search_text", "limit"}


def test_operations_declare_their_safety():
    ops = ApptivoConnector.operations
    assert {name for name, op in ops.items() if op.safe} == {"get_config", "search_customers"}
    assert ops["create_customer"].needs_contact is False
    assert ops["update_customer"].needs_contact and ops["delete_customer"].needs_contact
