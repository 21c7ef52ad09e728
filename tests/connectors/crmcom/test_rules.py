"""Validation of every CRM.COM operation's parameters (nothing is sent)."""

from __future__ import annotations

from typing import Any

import pytest

from crmhub.connectors.base import ConnectionSpec
from crmhub.connectors.crmcom.connector import CrmComConnector, release_of, vendor_params
from crmhub.connectors.errors import InvalidParams

CONTACT = "3139061DB901C362000000000000007B"


@pytest.fixture
def connector() -> CrmComConnector:
    spec = ConnectionSpec(
        kind="crmcom",
        base_url="https://crm.example.com/crmapi/rest/v2/",
        settings={"username": "api", "organisation": "org", "release": "14"},
        secrets={"password": "pw-secret"},
    )
    return CrmComConnector(spec)


def errors_of(connector: CrmComConnector, operation: str, params: dict[str, Any]) -> dict:
    with pytest.raises(InvalidParams) as caught:
        connector.validate(operation, params)
    return caught.value.errors


def test_every_operation_has_rules_and_a_safety(connector):
    unsafe = {name for name, op in connector.operations.items() if not op.safe}
    assert unsafe == {
        "communication_create",
        "communication_update",
        "communication_complete",
        "communication_set_as_viewed",
        "queue_process",
        "queue_reject",
        "queue_remove",
    }
    assert connector.secret_fields == ("password", "token")


def test_create_cleans_and_normalises(connector):
    cleaned = connector.validate(
        "communication_create",
        {
            "contact_remote_id": f" {CONTACT} ",
            "direction": "outgoing",
            "media": "email",
            "subject": "Hello",
            "content": "Body",
            "to": "a@example.com",
            "category": "Billing",
            "udf_float_1": 3,
            "udf_date_1": "2024-01-02T03:04",
            "fields_set": "id, number",
            "notes": "",
        },
    )
    assert cleaned == {
        "contact_remote_id": CONTACT,
        "direction": "OUTGOING",
        "media": "EMAIL",
        "subject": "Hello",
        "content": "Body",
        "to": "a@example.com",
        "category": {"name": "Billing"},
        "udf_float_1": 3.0,
        "udf_date_1": "2024-01-02T03:04:00",
        "fields_set": "id,number",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"direction": "SIDEWAYS"}, "direction"),
        ({"media": "FAX"}, "media"),
        ({"media": "EMAIL", "to": None}, "to"),
        ({"media": "EMAIL", "to": "not an email"}, "to"),
        ({"subject": "s" * 256}, "subject"),
        ({"content": "c" * 10001}, "content"),
        ({"notes": "n" * 4001}, "notes"),
        ({"udf_string_8": "u" * 256}, "udf_string_8"),
        ({"udf_float_4": "ten"}, "udf_float_4"),
        ({"udf_date_2": "02/01/2024"}, "udf_date_2"),
        ({"life_cycle_state": "PENDING"}, "life_cycle_state"),
        ({"template": {"id": "1", "name": "x"}}, "template"),
        ({"category": {"colour": "red"}}, "category"),
        ({"referring_to": {"spaceship": "1"}}, "referring_to"),
        ({"referring_to": "S60302"}, "referring_to"),
        (
            {"unrestricted_parameter_set": [{"name": "x", "string_value": "y"}]},
            "unrestricted_parameter_set",
        ),
        (
            {"unrestricted_parameter_set": [{"type": "FLOAT", "name": "f", "value": "x"}]},
            "unrestricted_parameter_set",
        ),
        ({"unrestricted_parameter_set": "name=x"}, "unrestricted_parameter_set"),
        ({"fields_set": "id; number"}, "fields_set"),
        ({"contact_remote_id": None}, "contact_remote_id"),
        ({"contact_remote_id": 12}, "contact_remote_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_create_refuses(connector, params, field):
    base = {
        "contact_remote_id": CONTACT,
        "direction": "OUTGOING",
        "media": "PHONE",
        "subject": "s",
        "content": "c",
    }
    assert field in errors_of(connector, "communication_create", {**base, **params})


def test_create_without_template_needs_the_four_fields(connector):
    errors = errors_of(connector, "communication_create", {"contact_remote_id": CONTACT})
    assert set(errors) == {"direction", "media", "subject", "content"}
    assert connector.validate(
        "communication_create", {"contact_remote_id": CONTACT, "template": "Call Notes"}
    ) == {"contact_remote_id": CONTACT, "template": {"name": "Call Notes"}}


def test_update_clears_only_optional_fields(connector):
    cleaned = connector.validate(
        "communication_update",
        {"communication": "cm000041", "notes": None, "category": "", "udf_date_1": None},
    )
    assert cleaned == {
        "communication": {"number": "cm000041"},
        "notes": None,
        "category": None,
        "udf_date_1": None,
    }
    errors = errors_of(
        connector, "communication_update", {"communication": "41", "subject": None, "media": ""}
    )
    assert set(errors) == {"subject", "media"}
    assert "communication" in errors_of(connector, "communication_update", {"subject": "x"})


def test_update_unrestricted_actions(connector):
    cleaned = connector.validate(
        "communication_update",
        {
            "communication": "a" * 32,
            "unrestricted_parameter_set": [
                {"action": "add", "type": "string", "name": "n", "value": "v"},
                {"action": "update", "unrestricted_parameter_identifier": "n", "string_value": "w"},
                {
                    "action": "remove",
                    "unrestricted_parameter_identifier": {"key": "unrestricted_string.n"},
                },
            ],
        },
    )
    assert cleaned["communication"] == {"id": "A" * 32}
    assert cleaned["unrestricted_parameter_set"] == [
        {"action": "add", "type": "STRING", "name": "n", "string_value": "v"},
        {
            "action": "update",
            "unrestricted_parameter_identifier": {"name": "n"},
            "string_value": "w",
        },
        {"action": "remove", "unrestricted_parameter_identifier": {"key": "unrestricted_string.n"}},
    ]
    errors = errors_of(
        connector,
        "communication_update",
        {
            "communication": "1",
            "unrestricted_parameter_set": [{"action": "rename"}, {"action": "remove"}],
        },
    )
    assert len(errors["unrestricted_parameter_set"]) == 2


@pytest.mark.parametrize(
    ("operation", "params", "field"),
    [
        ("communication_complete", {}, "communication"),
        ("communication_show", {"communication": {"code": "1"}}, "communication"),
        ("communication_set_as_viewed", {"communication": "1", "viewed_on": "soon"}, "viewed_on"),
        ("queue_process", {}, "queue_entry"),
        ("queue_remove", {"queue_entry": {"name": "x"}}, "queue_entry"),
        ("queue_reject", {"queue_entry": "1", "error_description": "d"}, "error_code"),
        ("queue_reject", {"queue_entry": "1", "error_code": "c"}, "error_description"),
        (
            "queue_reject",
            {"queue_entry": "1", "error_code": "c" * 51, "error_description": "d"},
            "error_code",
        ),
        ("queue_list", {}, "media"),
        ("queue_list", {"media": "SMS", "life_cycle_state": "DONE"}, "life_cycle_state"),
        ("queue_list", {"media": "SMS", "number_of_results": 0}, "number_of_results"),
        ("queue_list", {"media": "SMS", "number_of_results": 1001}, "number_of_results"),
        ("queue_list", {"media": "SMS", "offset": -1}, "offset"),
        ("queue_get_latest", {"media": "SMS"}, "number"),
        ("queue_get_latest", {"number": 1}, "media"),
        ("queue_get_pending_completed", {"media": "SMS", "number": 3}, "number"),
        ("communications_list", {}, "contact_remote_id"),
        ("communications_list", {"contact_remote_id": CONTACT, "media": "FAX"}, "media"),
        ("contact_show", {}, "contact_remote_id"),
        (
            "contact_show",
            {"contact_remote_id": CONTACT, "fields_set": ["id", "Bad Name"]},
            "fields_set",
        ),
    ],
)
def test_operations_refuse(connector, operation, params, field):
    assert field in errors_of(connector, operation, params)


def test_identifiers_from_strings(connector):
    assert connector.validate("queue_show", {"queue_entry": "2700"}) == {
        "queue_entry": {"number": "2700"}
    }
    assert connector.validate(
        "queue_list",
        {
            "communication_queue_external_system": "External SMS System",
            "contact_remote_id": CONTACT,
        },
    ) == {
        "communication_queue_external_system": {"name": "External SMS System"},
        "contact_remote_id": CONTACT,
    }


def test_contact_remote_id_is_tolerated_where_it_is_not_used(connector):
    assert connector.validate(
        "queue_process", {"queue_entry": "1", "contact_remote_id": CONTACT}
    ) == {"queue_entry": {"number": "1"}}


def test_vendor_params_in_a_query_string_and_a_body():
    cleaned = {
        "contact_remote_id": CONTACT,
        "category": {"code": "cci"},
        "referring_to": {"subscription": {"number": "S1"}},
        "number_of_results": 5,
    }
    query = {k: v for k, v in cleaned.items() if k != "referring_to"}
    assert vendor_params(query, query=True) == {
        "contact_information_identifier": f"id={CONTACT}",
        "category_identifier": "code=cci",
        "number_of_results": 5,
    }
    assert vendor_params(cleaned, query=False)["referring_to"] == {
        "subscription_identifier": {"number": "S1"}
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("14", (14, 0, 0)), ("R13.2", (13, 2, 0)), ("10.1.3", (10, 1, 3)), ("", (14, 0, 0))],
)
def test_release_of(text, expected):
    assert release_of({"release": text}) == expected


def test_release_of_refuses_text():
    with pytest.raises(InvalidParams):
        release_of({"release": "fourteen"})
