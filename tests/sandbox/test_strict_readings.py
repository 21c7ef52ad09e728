"""The simulated Apptivo, Collect! and CRM.COM as strict oracles: Unicode search, filters
refused by name, identifier objects only in POST bodies, and undocumented operations that
can be made to not exist.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from crmhub.sandbox import faults
from crmhub.sandbox.apptivo import customers
from crmhub.sandbox.crmcom import store as crmcom_store
from crmhub.sandbox.models import Call, Record
from tests.sandbox import test_collect as collect
from tests.sandbox.test_apptivo import Api as ApptivoApi
from tests.sandbox.test_crmcom import Api as CrmComApi
from tests.sandbox.test_crmcom import code

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


# -- Apptivo -------------------------------------------------------------------------------------
@pytest.fixture
def apptivo(sandbox_spec) -> ApptivoApi:
    spec = sandbox_spec("apptivo", people=40)
    return ApptivoApi(spec.base_url + "customers", dict(spec.secrets))


def _customer(api: ApptivoApi, name: str, **data: Any) -> int:
    answer = api.post("save", customerData={"customerName": name, **data})
    return int(answer["customer"]["customerId"])


def _found(api: ApptivoApi, action: str, **params: Any) -> list[int]:
    answer = api.post(action, startIndex=0, numRecords=100, **params)
    assert "data" in answer, answer
    return sorted(int(row["customerId"]) for row in answer["data"])


def test_text_search_ignores_case_beyond_ascii(apptivo):
    seeded = _found(apptivo, "getAllBySearchText", searchText="Müller")
    new = _customer(apptivo, "Jürgen Müller")
    assert _found(apptivo, "getAllBySearchText", searchText="MÜLLER") == sorted([*seeded, new])
    assert _found(apptivo, "getAllBySearchText", searchText="müller") == sorted([*seeded, new])
    ole = _customer(apptivo, "Øle Straße")
    assert _found(apptivo, "getAllBySearchText", searchText="øLE STRASSE") == [ole]
    assert "_text" not in apptivo.post("getAll", numRecords=100)["data"][-1]  # never answered


def test_text_search_finds_what_an_update_wrote(apptivo):
    found = _customer(apptivo, "Zoë Quill")
    apptivo.post(
        "update",
        customerId=found,
        objectId=3,
        customerData={"customerName": "Ébène Quill"},
        attributeName=["customerName"],
    )
    assert _found(apptivo, "getAllBySearchText", searchText="ÉBÈNE") == [found]
    assert _found(apptivo, "getAllBySearchText", searchText="Zoë Quill") == []


def test_advanced_search_name_ignores_case_beyond_ascii(apptivo):
    found = _customer(apptivo, "Ängel Ørsted")
    search = {"customerName": "ÄNGEL ØR", "emailAddresses": [], "phoneNumbers": []}
    assert _found(apptivo, "getAllByAdvancedSearch", searchData=search, objectId=3) == [found]


def test_search_still_finds_rows_stored_before_the_search_keys(apptivo):
    legacy = Record.objects.filter(kind="apptivo").order_by("remote_id").first()
    legacy.data = {k: v for k, v in legacy.data.items() if not k.startswith("_")}
    legacy.save()
    name = legacy.data["customerName"]
    assert legacy.remote_id in _found(apptivo, "getAllBySearchText", searchText=name)


@pytest.mark.parametrize(
    ("search", "multi", "reason"),
    [
        ({"description": "vip"}, {}, "searchData.description is not supported"),
        ({"phoneNumbers": [{"phoneNumber": "312"}]}, {}, "searchData.phoneNumbers is not"),
        ({"creationOnStartDate": "2024-01-01"}, {}, "searchData.creationOnStartDate is not"),
        ({"addresses": [{"addressGroupName": "Address1", "city": "Oslo"}]}, {}, "addresses"),
        ({}, {"marketIds": [4]}, "multiSelectData.marketIds is not supported"),
    ],
)
def test_an_advanced_search_filter_not_simulated_is_refused(apptivo, search, multi, reason):
    answer = apptivo.post(
        "getAllByAdvancedSearch", searchData=search, multiSelectData=multi, objectId=3
    )
    assert answer["status"] == "FAILURE" and reason in answer["reason"]


def test_the_documents_search_sample_with_its_blanks_is_accepted(apptivo):
    search = {
        "customerName": "",
        "customerNumber": "1",
        "assigneeObjectRefName": None,
        "phoneNumbers": [],
        "emailAddresses": [],
        "isUnsubscribed": None,
        "customAttributes": [],
        "addresses": [
            {
                "addressAttributeId": "address_section_attr_id",
                "addressGroupName": "Address1",
                "addressType": "",
                "state": "",
                "stateId": None,
            }
        ],
    }
    multi = {"marketIds": [], "categoryIds": [], "statusIds": []}
    answer = apptivo.post(
        "getAllByAdvancedSearch",
        startIndex=0,
        numRecords=50,
        iDisplayLength=50,
        iDisplayStart=0,
        searchData=search,
        multiSelectData=multi,
        objectId=3,
        territoryType="MULTIPLE",
    )
    assert answer["countOfRecords"] >= 1


@pytest.mark.parametrize(
    ("action", "params", "reason"),
    [
        ("getAll", {"numRecord": 10}, "Invalid parameter 'numRecord' for getAll"),
        ("getAll", {"sortColumn": "customerName"}, "Invalid parameter 'sortColumn'"),
        ("getAllBySearchText", {"searchText": "a", "sessionKey": "s"}, "sessionKey is not"),
        ("save", {"customerData": {"customerName": "X"}, "isLeadConvert": "Y"}, "isLeadConvert"),
        ("delete", {"customerId": 1, "force": "true"}, "Invalid parameter 'force'"),
    ],
)
def test_a_parameter_not_simulated_is_refused_never_ignored(apptivo, action, params, reason):
    assert reason in apptivo.failure(action, **params)
    assert not Call.objects.filter(kind="apptivo", applied=True).exists()


def test_the_page_cap_is_an_error_that_names_it(apptivo):
    reason = apptivo.failure("getAll", numRecords=501)
    assert "500" in reason and "numRecords" in reason
    assert len(apptivo.post("getAll", numRecords=40)["data"]) == 40


def test_seeded_customers_carry_their_search_keys(apptivo):
    row = Record.objects.filter(kind="apptivo").order_by("remote_id").first()
    name, number = row.data["customerName"], row.data["customerNumber"]
    assert row.data["_name"] == customers.fold(name)
    assert row.data["_text"].split("\n")[:2] == [customers.fold(name), number]


# -- Collect! ------------------------------------------------------------------------------------
@pytest.fixture
def collect_spec(sandbox_spec):
    return sandbox_spec("collect", people=12)


def _plans(spec, token: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(
        collect.url(spec, "collect/data/contact_plan"),
        headers=collect.headers(spec, token),
        timeout=5,
    )


def test_the_contact_plan_listing_can_be_made_to_not_exist(collect_spec):
    token = collect.login(collect_spec)
    assert _plans(collect_spec, token).json()["type"]["recId"] == "contact_plan"
    faults.configure("collect", hide_undocumented=True)
    gone = _plans(collect_spec, token)
    assert gone.status_code == 404
    assert gone.json() == {"error": "Unknown table 'contact_plan'."}
    one = requests.get(
        collect.url(collect_spec, "collect/data/contact_plan/1"),
        headers=collect.headers(collect_spec, token),
        timeout=5,
    )
    assert one.status_code == 404
    # The plans themselves are still there: runplan finds them by code.
    ran = collect.runplan(collect_spec, {"plan": "REV", "debtor": 1}, token)
    assert ran.status_code == 200


# -- CRM.COM -------------------------------------------------------------------------------------
@pytest.fixture
def crmcom(sandbox_spec) -> CrmComApi:
    return CrmComApi(sandbox_spec("crmcom", people=6))


def _contact(remote_id: int) -> str:
    return crmcom_store.object_id(crmcom_store.CONTACT, remote_id)


def _phone_call(**identifiers: Any) -> dict[str, Any]:
    return {
        "direction": "OUTGOING",
        "media": "PHONE",
        "subject": "Call back",
        "content": "Please call back.",
        "life_cycle_state": "DRAFT",
        **identifiers,
    }


@pytest.mark.parametrize(
    "identifiers",
    [
        {"contact_information_identifier": "id={contact}"},
        {"contact_information_identifier": {"id": "{contact}"}, "category_identifier": "code=cci"},
    ],
    ids=["contact", "category"],
)
def test_a_post_body_identifier_must_be_an_object(crmcom, identifiers):
    sent = json.loads(json.dumps(identifiers).replace("{contact}", _contact(1)))
    before = Record.objects.filter(kind="crmcom", collection="communication").count()
    answer = crmcom.post("communications/create", **_phone_call(**sent))
    assert code(answer) == "INVALID_PARAMETER"
    assert "must be an identifier object" in answer["status"]["description"]
    assert Record.objects.filter(kind="crmcom", collection="communication").count() == before


def test_a_post_identifier_object_and_a_get_field_value_still_work(crmcom):
    made = crmcom.post(
        "communications/create",
        **_phone_call(
            contact_information_identifier={"id": _contact(1)},
            category_identifier={"code": "cci"},
        ),
    )
    assert code(made) == "OK"
    number = made["data"]["number"]
    shown = crmcom.get("communications/show", communication_identifier=f"number={number}")
    assert shown["data"]["category"]["code"] == "cci"
    refused = crmcom.post("communications/complete", communication_identifier=f"number={number}")
    assert code(refused) == "INVALID_PARAMETER"
    done = crmcom.post("communications/complete", communication_identifier={"number": number})
    assert done["data"]["life_cycle_state"] == "COMPLETED"


def test_the_contact_list_can_be_made_to_not_exist(crmcom):
    assert code(crmcom.get("contact_information/list", number_of_results=2)) == "OK"
    faults.configure("crmcom", hide_undocumented=True)
    response = requests.get(
        f"{crmcom.base}contact_information/list",
        params={"token": crmcom.token, "number_of_results": 2},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    shown = crmcom.get(
        "contact_information/show", contact_information_identifier=f"id={_contact(1)}"
    )
    assert code(shown) == "OK"
