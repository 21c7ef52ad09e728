"""The simulated Apptivo's own validation, hit with plain ``requests`` over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.apptivo import customers, seed
from crmhub.sandbox.models import Call, Record
from crmhub.sandbox.people import people_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
KIND = "apptivo"
PEOPLE = 15


class Api:
    """Post ``customers?a=<action>`` with the firm's keys in the form (unless told)."""

    def __init__(self, url: str, secrets: dict[str, str]) -> None:
        self.url = url
        self.keys = {"apiKey": secrets["api_key"], "accessKey": secrets["access_key"]}

    def post(self, action: str, *, keys: dict[str, str] | None = None, **params: object) -> dict:
        form = {**(self.keys if keys is None else keys)}
        form.update(
            {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in params.items()
                if v is not None
            }
        )
        response = requests.post(self.url, params={"a": action}, data=form, timeout=10)
        assert response.status_code == 200
        return response.json()

    def failure(self, action: str, **params: object) -> str:
        answer = self.post(action, **params)
        assert answer["status"] == "FAILURE", answer
        return answer["reason"]


@pytest.fixture
def api(sandbox_spec) -> Api:
    spec = sandbox_spec(KIND, people=PEOPLE)
    return Api(spec.base_url + "customers", dict(spec.secrets))


def first() -> Record:
    return Record.objects.filter(kind=KIND, deleted=False).order_by("remote_id").first()


# -- keys --------------------------------------------------------------------------------------
def test_wrong_key_fails_like_the_vendor(api):
    reason = api.failure("getConfigData", keys={**api.keys, "accessKey": "wrong"})
    assert "Key" in reason
    (call,) = Call.objects.filter(kind=KIND)
    assert call.operation == "getConfigData" and not call.applied
    assert "accessKey" not in call.params and "apiKey" not in call.params


def test_missing_key_fails(api):
    assert "required" in api.failure("getAll", keys={"apiKey": api.keys["apiKey"]})


def test_the_documents_accesKey_typo_is_not_a_key(api):
    keys = {"apiKey": api.keys["apiKey"], "accesKey": api.keys["accessKey"]}
    assert "Key" in api.failure("getAll", keys=keys)


def test_keys_in_the_query_string_work_like_the_vendor_docs(api):
    response = requests.get(api.url, params={"a": "getConfigData", **api.keys}, timeout=10)
    assert response.json()["objectId"] == 3
    call = Call.objects.get(kind=KIND)
    assert "apiKey" in call.params["_query"] and call.params["_form"] == []


def test_unknown_action_fails(api):
    assert "Invalid action" in api.failure("getEverything")


def test_only_get_and_post(api):
    response = requests.put(api.url, params={"a": "getAll"}, timeout=10)
    assert response.status_code == 405


def test_injected_fault_is_answered_and_recorded(api):
    faults.configure(KIND, fail_next=1, error_status=503)
    response = requests.post(api.url, params={"a": "getAll"}, data=api.keys, timeout=10)
    assert response.status_code == 503
    assert Call.objects.get(kind=KIND).status == 503
    assert api.post("getAll")["countOfRecords"] == PEOPLE


# -- configuration -------------------------------------------------------------------------
def test_config_data_has_a_json_string_web_layout(api):
    answer = api.post("getConfigData")
    assert isinstance(answer["webLayout"], str)
    assert json.loads(answer["webLayout"])["sections"]
    assert answer["statuses"][0]["statusName"] == "Active"
    assert {"categoryId", "categoryName"} <= set(answer["categories"][0])


# -- listings ------------------------------------------------------------------------------
def test_get_all_pages_in_customer_id_order(api):
    page1 = api.post("getAll", startIndex="0", numRecords="10")
    page2 = api.post("getAll", startIndex="10", numRecords="10")
    assert page1["countOfRecords"] == PEOPLE
    ids = [c["customerId"] for c in page1["data"] + page2["data"]]
    assert ids == sorted(ids) and len(set(ids)) == PEOPLE
    customer = page1["data"][0]
    assert customer["customerName"] and customer["lastUpdateDate"]
    datetime.strptime(customer["lastUpdateDate"], "%Y-%m-%d %H:%M:%S")
    assert "customAttributes" in customer  # the sample's full attribute set


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"startIndex": "-1"}, "startIndex"),
        ({"startIndex": "abc"}, "startIndex"),
        ({"numRecords": "0"}, "numRecords"),
        ({"numRecords": "501"}, "numRecords"),
        ({"objectId": "4"}, "objectId"),
    ],
)
def test_get_all_refuses_bad_paging(api, params, word):
    assert word in api.failure("getAll", **params)


def test_listing_queries_use_the_index_with_a_limit():
    seed(people_for(KIND, 30), batch_size=10)
    with CaptureQueriesContext(connections["sandbox"]) as captured:
        rows, total = customers.customers_page(start=10, count=5)
    assert total == 30 and len(rows) == 5
    listing = next(q["sql"] for q in captured.captured_queries if "ORDER BY" in q["sql"])
    assert "LIMIT 5" in listing and "OFFSET 10" in listing and "remote_id" in listing


def test_seed_bulk_inserts_in_batches(django_assert_max_num_queries):
    people = list(people_for(KIND, 2000))
    # A few multi-row INSERTs per batch (SQLite caps parameters per statement), never one per row.
    with django_assert_max_num_queries(40, connection=connections["sandbox"]):
        written = seed(people, batch_size=500)
    assert written == 2000
    without_email = Record.objects.filter(kind=KIND).exclude(data__has_key="emailAddresses")
    assert without_email.exists()
    names = set(Record.objects.filter(kind=KIND).values_list("data__customerName", flat=True))
    assert any("'" in name for name in names) and any(not name.isascii() for name in names)


def test_search_text_finds_names_and_refuses_empty_text(api):
    name = first().data["customerName"]
    answer = api.post("getAllBySearchText", searchText=name, numRecords="5")
    assert name in [c["customerName"] for c in answer["data"]]
    assert "searchText" in api.failure("getAllBySearchText", searchText=" ")
    assert "too long" in api.failure("getAllBySearchText", searchText="x" * 101)


def test_advanced_search_on_name_email_and_update_date(api):
    target = first()
    email = target.data["emailAddresses"][0]["emailAddress"]
    by_email = api.post(
        "getAllByAdvancedSearch", searchData={"emailAddresses": [{"emailAddress": email.upper()}]}
    )
    assert [c["customerId"] for c in by_email["data"]] == [target.remote_id]
    by_name = api.post(
        "getAllByAdvancedSearch", searchData={"customerName": target.data["customerName"]}
    )
    assert target.remote_id in [c["customerId"] for c in by_name["data"]]
    since = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    later = api.post("getAllByAdvancedSearch", searchData={"lastUpdateOnStartDate": since})
    assert later == {"data": [], "countOfRecords": 0}
    everything = api.post(
        "getAllByAdvancedSearch", searchData={"lastUpdateOnStartDate": "2000-01-01"}
    )
    assert everything["countOfRecords"] == PEOPLE


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({}, "searchData is required"),
        ({"searchData": "{not json"}, "not valid JSON"),
        ({"searchData": "[]"}, "expected a JSON dict"),
        ({"searchData": {"lastUpdateOnStartDate": "07/10/2017"}}, "lastUpdateOnStartDate"),
        ({"searchData": {}, "multiSelectData": {"statusIds": ["x"]}}, "statusIds"),
    ],
)
def test_advanced_search_validation(api, params, word):
    assert word in api.failure("getAllByAdvancedSearch", **params)


# -- save --------------------------------------------------------------------------------------
def test_save_creates_and_returns_the_customer(api):
    data = {
        "customerName": "Niamh Ó Briain",
        "customerId": None,
        "emailAddresses": [{"emailAddress": "niamh@example.com", "emailTypeCode": "BUSINESS"}],
    }
    answer = api.post("save", customerData=data)
    customer = answer["customer"]
    assert customer["customerName"] == "Niamh Ó Briain"
    assert customer["statusName"] == "Active"  # the firm's default status
    assert customer["emailAddresses"][0]["emailType"] == "Business"
    assert customer["customerId"] > first().remote_id
    assert ledger.applied_count(KIND, "save", "save:Niamh Ó Briain:niamh@example.com") == 1


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (None, "customerData is required"),
        ({"customerNumber": "1"}, "customerName is required"),
        ({"customerName": "   "}, "customerName is required"),
        ({"customerName": "A" * 101}, "too long"),
        ({"customerName": "Ana", "customerId": 5}, "customerId must be empty"),
        ({"customerName": "Ana", "statusId": 4}, "Invalid statusId"),
        ({"customerName": "Ana", "customerCategoryId": 1}, "Invalid customerCategoryId"),
        ({"customerName": "Ana", "emailAddresses": [{"emailAddress": "nope"}]}, "emailAddress"),
        ({"customerName": "Ana", "emailAddresses": "a@b.co"}, "list of objects"),
        (
            {"customerName": "Ana", "phoneNumbers": [{"phoneNumber": "1", "phoneTypeCode": "FAX"}]},
            "phoneTypeCode",
        ),
        ({"customerName": "Ana", "description": "x" * 4001}, "too long"),
    ],
)
def test_save_validation(api, data, word):
    params = {} if data is None else {"customerData": data}
    assert word in api.failure("save", **params)
    assert ledger.applied_count(KIND, "save") == 0


# -- update --------------------------------------------------------------------------------------
def test_update_changes_only_the_listed_attributes(api):
    target = first()
    data = {"customerId": target.remote_id, "customerName": "New Name", "description": "ignored"}
    answer = api.post(
        "update",
        customerId=str(target.remote_id),
        customerData=data,
        attributeName=["customerName"],
    )
    assert answer["customer"]["customerName"] == "New Name"
    after = Record.objects.get(pk=target.pk).data
    assert after["customerName"] == "New Name" and "description" not in after
    assert after["lastUpdateDate"] != target.data["lastUpdateDate"]
    assert ledger.applied_count(KIND, "update", f"update:{target.remote_id}:customerName") == 1


def test_update_accepts_the_template_spelling_and_records_it(api):
    target = first()
    api.post(
        "update",
        customerId=str(target.remote_id),
        customerData={"description": "VIP"},
        attributeNames=["description"],
    )
    call = Call.objects.get(kind=KIND, operation="update")
    assert "attributeNames" in call.params and "attributeName" not in call.params
    assert Record.objects.get(pk=target.pk).data["description"] == "VIP"


def test_update_email_needs_the_email_flag(api):
    target = first()
    old = target.data["emailAddresses"]
    data = {"emailAddresses": [{"emailAddress": "changed@example.com"}]}
    ids = {"customerId": str(target.remote_id), "attributeName": ["emailAddresses"]}
    api.post("update", customerData=data, **ids)
    assert Record.objects.get(pk=target.pk).data["emailAddresses"] == old
    assert ledger.applied_count(KIND, "update") == 0
    api.post("update", customerData=data, isEmailAddressUpdate="true", **ids)
    emails = Record.objects.get(pk=target.pk).data["emailAddresses"]
    assert [e["emailAddress"] for e in emails] == ["changed@example.com"]
    assert ledger.applied_count(KIND, "update", f"update:{target.remote_id}:emailAddresses") == 1


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"customerId": None, "attributeName": ["customerName"]}, "customerId is required"),
        ({"customerId": "1", "attributeName": ["customerName"]}, "Customer not found"),
        ({"attributeName": ["customerName"], "objectId": "4"}, "objectId"),
        ({"attributeName": ["favouriteColour"]}, "Invalid attribute name"),
        ({"attributeName": []}, "non-empty list"),
        ({}, "attributeNames is required"),
        ({"attributeName": ["description"]}, "missing from customerData"),
        (
            {"attributeName": ["customerName"], "isEmailAddressUpdate": "yes"},
            "isEmailAddressUpdate",
        ),
        ({"attributeName": ["customerName"], "customerData": {"customerName": ""}}, "required"),
        (
            {
                "attributeName": ["customerName"],
                "customerData": {"customerId": 1, "customerName": "A"},
            },
            "does not match",
        ),
    ],
)
def test_update_validation(api, params, word):
    target = first()
    params = {"customerId": str(target.remote_id), "customerData": {"customerName": "X"}, **params}
    assert word in api.failure("update", **params)
    assert Record.objects.get(pk=target.pk).data == target.data


# -- delete --------------------------------------------------------------------------------------
def test_delete_once_then_not_found(api):
    target = first()
    answer = api.post("delete", customerId=str(target.remote_id))
    assert answer == {"status": "SUCCESS", "customerId": target.remote_id}
    assert Record.objects.get(pk=target.pk).deleted
    assert "not found" in api.failure("delete", customerId=str(target.remote_id))
    assert ledger.applied_count(KIND, "delete", f"delete:{target.remote_id}") == 1
    assert api.post("getAll")["countOfRecords"] == PEOPLE - 1
    assert "customerId is required" in api.failure("delete")
