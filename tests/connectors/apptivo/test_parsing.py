"""Apptivo parsing on recorded fixtures: the vendor's samples, verbatim, and edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmhub.connectors.apptivo import client, parsing, payloads
from crmhub.connectors.apptivo.connector import ApptivoConnector
from crmhub.connectors.errors import AuthFailed, BadResponse, InvalidParams, NotFound, Rejected

FIXTURES = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def document(name: str) -> dict[str, Any]:
    return parsing.decode(raw(name))


def sample_params(name: str) -> dict[str, str]:
    """Return the parameters of a vendor sample request URL as the document prints it.

    The samples run over several lines, each continuation starting with ``&`` (and once,
    a slip of the document, ``multiSelectData:{...}``).
    """
    first, *rest = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    pieces = first.split("?", 1)[1].split("&")
    for line in rest:
        if line.startswith("&"):
            pieces.append(line[1:])
        else:
            key, _, value = line.partition(":")
            pieces.append(f"{key}={value}")
    return dict(piece.partition("=")[::2] for piece in pieces if piece)


# -- the vendor's samples ------------------------------------------------------------------
def test_update_sample_customer_data_parses_as_a_customer():
    params = sample_params("update_customer_vendor_request.txt")
    contact = parsing.parse_customer(json.loads(params["customerData"]))
    assert contact.remote_id == "1090590" == params["customerId"]
    assert contact.record_type == "customer"
    assert contact.full_name == "TestCustomer updated"
    assert contact.emails == ("customer@apptivo.com",)
    assert contact.phones == ()
    assert contact.updated_at == datetime(2017, 10, 7, 5, 30, 2, tzinfo=UTC)


def test_update_sample_sends_attribute_name_and_the_email_flag():
    params = sample_params("update_customer_vendor_request.txt")
    assert client.ATTRIBUTES_PARAM in params  # the sample, not the template's attributeNames
    assert "attributeNames" not in params
    assert json.loads(params[client.ATTRIBUTES_PARAM]) == ["customerName", "emailAddresses"]
    assert params["isEmailAddressUpdate"] == "true"


def test_create_sample_has_no_customer_id_so_it_is_not_a_listing_record():
    params = sample_params("create_customer_vendor_request.txt")
    data = json.loads(params["customerData"])
    assert data["customerName"] == "TestCustomer"
    assert params["a"] == "save"
    with pytest.raises(BadResponse):
        parsing.parse_customer(data)


def test_customer_data_we_send_uses_only_the_samples_attribute_names():
    create = json.loads(sample_params("create_customer_vendor_request.txt")["customerData"])
    update = json.loads(sample_params("update_customer_vendor_request.txt")["customerData"])
    config = parsing.parse_config(document("get_config_typical.json"))
    every_field = {
        "customer_name": "Ana",
        "status_id": 10000,
        "category_id": 27792,
        "email": "ana@example.com",
        "phone": "(312) 555-0100",
        "description": "VIP",
    }
    sent = payloads.customer_data(every_field, config)
    assert set(sent) <= set(create) | set(update)
    assert set(sent["emailAddresses"][0]) == set(update["emailAddresses"][0])
    assert sent["statusName"] == "Active" and sent["customerCategory"] == "SMB"


def test_customer_data_refuses_ids_the_firm_does_not_have():
    config = parsing.parse_config(document("get_config_typical.json"))
    with pytest.raises(InvalidParams) as caught:
        payloads.customer_data({"status_id": 10009, "category_id": 5}, config)
    assert list(caught.value.errors) == ["status_id"]  # 10009 is disabled in the fixture
    cleared = payloads.customer_data({"category_id": "", "email": "", "phone": ""}, config)
    assert cleared == {
        "customerCategoryId": None,
        "customerCategory": "",
        "emailAddresses": [],
        "phoneNumbers": [],
    }


def test_search_sample_matches_our_search_data_templates():
    params = sample_params("search_customers_vendor_request.txt")
    assert set(json.loads(params["searchData"])) == set(client.SEARCH_DATA_TEMPLATE)
    assert set(json.loads(params["multiSelectData"])) == set(client.MULTI_SELECT_TEMPLATE)
    assert params["objectId"] == str(parsing.CUSTOMERS_OBJECT_ID)
    assert {"startIndex", "numRecords"} <= set(params)
    ours = json.loads(client.search_data(lastUpdateOnStartDate="2024-01-01 00:00:00"))
    assert ours["lastUpdateOnStartDate"] == "2024-01-01 00:00:00"
    assert ours["customerNumber"] == ""


def test_config_sample_names_the_keys_we_send_and_mask():
    params = sample_params("get_config_vendor_request.txt")
    assert params["a"] == "getConfigData"
    assert {client.API_KEY_PARAM, client.ACCESS_KEY_PARAM} == {"apiKey", "accessKey"}
    assert {client.API_KEY_PARAM, client.ACCESS_KEY_PARAM} <= set(params)
    assert set(ApptivoConnector.secret_fields) == {"apiKey", "accessKey"}


# -- configuration ---------------------------------------------------------------------------
def test_config_decodes_web_layout_twice_and_skips_disabled_choices():
    config = parsing.parse_config(document("get_config_typical.json"))
    assert config.object_id == 3
    assert [(s.id, s.name) for s in config.statuses] == [("10000", "Active"), ("10001", "Inactive")]
    assert [(c.id, c.name) for c in config.categories] == [
        ("27792", "SMB"),
        ("27793", "Enterprise"),
    ]
    assert config.layout_sections == ("Customer Information", "Addresses")
    assert config.status(10001).name == "Inactive"
    assert config.category(1) is None
    data = parsing.config_data(config)
    assert json.loads(json.dumps(data)) == data
    assert data["phone_types"][0] == {"code": "PHONE_BUSINESS", "name": "Business"}


def test_config_with_broken_web_layout_is_a_bad_response():
    with pytest.raises(BadResponse):
        parsing.parse_config(document("get_config_weblayout_broken.json"))


def test_config_failure_about_the_key_is_auth_failed():
    with pytest.raises(AuthFailed) as caught:
        document("get_config_vendor_error.json")
    assert "Invalid apiKey or accessKey" in str(caught.value)


# -- listings --------------------------------------------------------------------------------
def test_listing_parses_names_emails_and_phones_as_the_crm_has_them():
    records, total = parsing.parse_customer_list(document("list_customers_typical.json"))
    contacts = [parsing.parse_customer(r) for r in records]
    assert total == 41
    assert [c.remote_id for c in contacts] == ["1090001", "1090002", "1090003"]
    assert contacts[0].full_name == "Seán O'Brien"
    assert contacts[0].emails == ("  Sean.OBrien1@Example.com ",)
    assert contacts[0].phones == ("(312) 555-0100",)
    assert contacts[1].emails == ()
    assert contacts[1].updated_at == datetime(2024, 3, 6, 23, 59, 59, tzinfo=UTC)
    assert contacts[2].emails == ("chloe.dangelo3@example.org", "billing@example.org")
    assert contacts[2].phones == ("617.555.0123",)
    assert contacts[2].raw["customerCategory"] == "SMB"


def test_one_item_listing():
    records, total = parsing.parse_customer_list(document("list_customers_one_item.json"))
    assert total == 1
    assert parsing.parse_customer(records[0]).full_name == "José Núñez"


def test_one_item_sent_as_an_object_is_wrapped():
    records, _ = parsing.parse_customer_list(document("list_customers_single_object.json"))
    assert [r["customerId"] for r in records] == [1090007]


def test_empty_listing():
    assert parsing.parse_customer_list(document("list_customers_empty.json")) == ([], 0)


def test_omitted_empty_fields_give_empty_values():
    records, _ = parsing.parse_customer_list(document("list_customers_omitted_fields.json"))
    contact = parsing.parse_customer(records[0])
    assert (contact.remote_id, contact.full_name) == ("1090010", "Ana Smith")
    assert contact.emails == contact.phones == ()
    assert contact.updated_at is None


def test_unknown_extra_fields_are_kept_in_raw_and_ignored():
    records, _ = parsing.parse_customer_list(document("list_customers_unknown_fields.json"))
    contact = parsing.parse_customer(records[0])
    assert contact.emails == ("wei.lee11@example.com",)
    assert contact.raw["someFutureField"] == {"nested": [1, 2]}


def test_listing_without_data_but_with_a_count_is_a_bad_response():
    with pytest.raises(BadResponse):
        parsing.parse_customer_list(document("list_customers_no_data.json"))


def test_html_error_page_is_a_bad_response():
    with pytest.raises(BadResponse) as caught:
        parsing.decode(raw("list_customers_html_error.html"))
    assert "not answer with JSON" in str(caught.value)


def test_truncated_body_is_a_bad_response():
    with pytest.raises(BadResponse):
        parsing.decode(raw("list_customers_truncated.json"))


def test_vendor_error_in_a_200_body_is_rejected():
    with pytest.raises(Rejected) as caught:
        document("list_customers_vendor_error.json")
    assert not isinstance(caught.value, AuthFailed | NotFound)
    assert "startIndex" in str(caught.value)


def test_non_object_json_is_a_bad_response():
    with pytest.raises(BadResponse):
        parsing.decode(b'[{"customerId": 1}]')


# -- changes -------------------------------------------------------------------------------
def test_created_customer_is_read_from_the_customer_key():
    customer = parsing.parse_saved_customer(document("create_customer_success.json"))
    contact = parsing.parse_customer(customer)
    assert contact.remote_id == "1090050"
    summary = parsing.summary(contact)
    assert summary["customer_name"] == "Renée García"
    assert summary["emails"] == ["renee@example.com"]
    assert summary["updated_at"] == "2025-01-15T10:00:00+00:00"
    assert json.loads(json.dumps(summary)) == summary


def test_updated_customer_may_also_come_bare():
    wrapped = document("update_customer_success.json")
    assert parsing.parse_saved_customer(wrapped) == parsing.parse_saved_customer(
        wrapped["customer"]
    )
    assert parsing.parse_saved_customer(wrapped)["description"] == "VIP"


def test_save_answer_without_a_customer_is_a_bad_response():
    with pytest.raises(BadResponse):
        parsing.parse_saved_customer({"status": "SUCCESS"})


def test_delete_success_and_not_found():
    assert document("delete_customer_success.json")["customerId"] == 1090001
    with pytest.raises(NotFound):
        document("delete_customer_not_found.json")


def test_search_results():
    records, total = parsing.parse_customer_list(document("search_customers_results.json"))
    assert total == 1
    assert parsing.summary(parsing.parse_customer(records[0]))["phones"] == ["+1 415 555 0199"]


# -- values ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-10-07 05:30:02", datetime(2017, 10, 7, 5, 30, 2, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("07/10/2017", None),
        (12345, None),
    ],
)
def test_parse_date(value, expected):
    assert parsing.parse_date(value) == expected


def test_format_date_is_the_remote_format():
    moment = datetime(2024, 2, 29, 23, 1, 2, tzinfo=UTC)
    assert parsing.format_date(moment) == "2024-02-29 23:01:02"
    assert parsing.parse_date(parsing.format_date(moment)) == moment


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("Invalid apiKey or accessKey.", AuthFailed),
        ("Invalid API Key", AuthFailed),
        ("sessionKey expired", AuthFailed),
        ("Customer not found: 12.", NotFound),
        ("customerName is required.", Rejected),
    ],
)
def test_failure_reasons_map_to_typed_errors(reason, error):
    assert type(parsing.error_for_failure(reason)) is error
