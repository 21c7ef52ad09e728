"""The simulated CRM.COM's own validation, hit with plain ``requests`` over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from crmhub.sandbox import faults
from crmhub.sandbox.crmcom import compose, store
from crmhub.sandbox.models import Account, Call, Record

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PEOPLE = 12


class Api:
    """A bare CRM.COM client: no connector code, so the sandbox is checked on its own."""

    def __init__(self, spec: Any) -> None:
        self.base = spec.base_url
        self.login_body = {**spec.settings, **spec.secrets}
        self.login_body.pop("release")
        self._token: str | None = None

    def login(self, **overrides: Any) -> dict[str, Any]:
        body = {**self.login_body, **overrides}
        body = {k: v for k, v in body.items() if v is not None}
        response = requests.post(f"{self.base}authentication/token", json=body, timeout=5)
        assert response.status_code == 200
        return response.json()

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.login()["data"]["token"]
        return self._token

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        params.setdefault("token", self.token)
        response = requests.get(f"{self.base}{path}", params=params, timeout=5)
        assert response.status_code == 200
        return response.json()

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        body.setdefault("token", self.token)
        response = requests.post(f"{self.base}{path}", json=body, timeout=5)
        assert response.status_code == 200
        return response.json()


@pytest.fixture
def api(sandbox_spec) -> Api:  # type: ignore[no-untyped-def]
    return Api(sandbox_spec("crmcom", people=PEOPLE))


def code(answer: dict[str, Any]) -> str:
    return str(answer["status"]["code"])


def contact_id(remote_id: int) -> str:
    return store.object_id(store.CONTACT, remote_id)


def email_contact() -> str:
    """Return the id of a seeded contact that has an email."""
    for record in Record.objects.filter(kind="crmcom", collection="contact").order_by("remote_id"):
        if record.data.get("email"):
            return contact_id(record.remote_id)
    raise AssertionError("no seeded contact with an email")


def create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "contact_information_identifier": {"id": contact_id(1)},
        "direction": "OUTGOING",
        "media": "PHONE",
        "subject": "Call back",
        "content": "Please call back.",
        **fields,
    }
    return api.post("communications/create", **body)


# -- authentication -----------------------------------------------------------------------------
def test_login_answers_a_jwt_shaped_token_in_the_envelope(api):
    answer = api.login()
    assert answer["status"] == {"code": "OK", "message": "", "description": ""}
    token = answer["data"]["token"]
    assert token.count(".") == 2 and len(token) > 32
    call = Call.objects.get(kind="crmcom", operation="authentication/token")
    assert "password" not in call.params and call.params["username"] == "crmhub_api"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"password": "wrong-password"}, "AUTHENTICATION_FAILED"),
        ({"organisation": "other-org"}, "AUTHENTICATION_FAILED"),
        ({"unit": "Other Unit"}, "AUTHENTICATION_FAILED"),
        ({"username": None}, "MISSING_MANDATORY_PARAMETER"),
        ({"password": None}, "MISSING_MANDATORY_PARAMETER"),
    ],
)
def test_login_refuses_wrong_or_missing_credentials(api, override, expected):
    answer = api.login(**override)
    assert code(answer) == expected
    assert answer["data"] is None


def test_unit_is_optional(api):
    assert code(api.login(unit=None)) == "OK"


def test_calls_without_a_valid_token_are_refused(api):
    assert code(api.get("contact_information/list", token="")) == "INVALID_TOKEN"
    assert code(api.get("contact_information/list", token="a.b.c")) == "INVALID_TOKEN"
    forged = api.token[:-3] + ("AAA" if not api.token.endswith("AAA") else "BBB")
    assert code(api.get("contact_information/list", token=forged)) == "INVALID_TOKEN"


def test_token_expires_after_the_account_lifetime(api):
    assert code(api.get("contact_information/list")) == "OK"
    account = Account.objects.get(kind="crmcom")
    account.credentials = {**account.credentials, "token_lifetime_seconds": "0"}
    account.save()
    answer = api.get("contact_information/list")
    assert code(answer) == "INVALID_TOKEN"
    assert "expired" in answer["status"]["description"]


def test_released_token_is_refused(api):
    token = api.token
    assert code(api.post("authentication/token/release")) == "OK"
    assert code(api.get("contact_information/list", token=token)) == "INVALID_TOKEN"


def test_body_that_is_not_json_is_malformed(api):
    response = requests.post(
        f"{api.base}communications/create",
        data=b"{not json",
        timeout=5,
        headers={"Content-Type": "application/json"},
    )
    assert response.json()["status"]["code"] == "MALFORMED_REQUEST"


def test_wrong_http_method_is_405(api):
    response = requests.get(f"{api.base}communications/create", timeout=5)
    assert response.status_code == 405


def test_injected_fault_comes_before_anything(api):
    faults.configure("crmcom", fail_next=1, error_status=502)
    response = requests.post(f"{api.base}authentication/token", json=api.login_body, timeout=5)
    assert response.status_code == 502
    assert not Call.objects.filter(kind="crmcom").exists()


# -- contacts -------------------------------------------------------------------------------------
def test_contact_list_pages_by_offset_to_the_end(api):
    seen: list[str] = []
    for offset in range(0, PEOPLE + 5, 5):
        answer = api.get("contact_information/list", number_of_results=5, offset=offset)
        seen += [c["id"] for c in answer["data"]]
    assert len(seen) == PEOPLE == len(set(seen))


@pytest.mark.parametrize(
    "params",
    [{"number_of_results": 1001}, {"number_of_results": 0}, {"offset": "-1"}, {"page": "2"}],
)
def test_contact_list_refuses_bad_paging(api, params):
    assert code(api.get("contact_information/list", **params)) == "INVALID_PARAMETER"


def test_contact_show_by_each_identifier(api):
    record = Record.objects.get(kind="crmcom", collection="contact", remote_id=2)
    shown = api.get(
        "contact_information/show", contact_information_identifier=f"id={contact_id(2)}"
    )
    assert shown["data"]["id"] == contact_id(2)
    for field in ("number", "id"):
        again = api.get(
            "contact_information/show",
            contact_information_identifier=f"{field}={shown['data'][field]}",
        )
        assert again["data"]["id"] == contact_id(2)
    if record.data["type"] == "PERSON":
        id_number = shown["data"]["demographics"]["id_number"]
        by_id_number = api.get(
            "contact_information/show", contact_information_identifier=f"id_number={id_number}"
        )
        assert by_id_number["data"]["id"] == contact_id(2)


def test_contact_show_validates_the_identifier(api):
    show = "contact_information/show"
    assert code(api.get(show)) == "MISSING_MANDATORY_PARAMETER"
    assert code(api.get(show, contact_information_identifier="CI000001")) == "INVALID_PARAMETER"
    assert code(api.get(show, contact_information_identifier="email=x@y.z")) == "INVALID_PARAMETER"
    assert code(api.get(show, contact_information_identifier="number=CI999999")) == "NOT_FOUND"
    assert code(api.get(show, contact_information_identifier="id=" + "A" * 32)) == "NOT_FOUND"


def test_fields_set_limits_the_answer(api):
    answer = api.get(
        "contact_information/show",
        contact_information_identifier="number=CI000001",
        fields_set="id,first_name,number",
    )
    assert set(answer["data"]) <= {"id", "first_name", "number"}


# -- communications -------------------------------------------------------------------------------
def test_create_defaults_to_completed_and_records_the_effect_once(api):
    answer = create(api)
    assert code(answer) == "OK"
    data = answer["data"]
    assert data["life_cycle_state"] == "COMPLETED"
    assert data["number"].startswith("CM") and data["contact_information"]["id"] == contact_id(1)
    marker = compose.create_marker(contact_id(1), "Call back", "Please call back.")
    calls = Call.objects.filter(kind="crmcom", operation="communications/create", applied=True)
    assert [c.effect for c in calls] == [f"create:{marker}"]
    assert "token" not in calls[0].params


def test_create_email_enters_the_queue_as_pending(api):
    to = "someone@example.com"
    answer = create(
        api, media="EMAIL", to=to, contact_information_identifier={"id": email_contact()}
    )
    number = answer["data"]["number"]
    queue = api.get("communications/queue/list", media="EMAIL", life_cycle_state="PENDING")
    assert number in [e["communication"]["number"] for e in queue["data"]]


def test_draft_is_not_queued(api):
    answer = create(api, media="SMS", life_cycle_state="DRAFT")
    queue = api.get("communications/queue/list", media="SMS", number_of_results=100)
    assert answer["data"]["number"] not in [e["communication"]["number"] for e in queue["data"]]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"direction": None}, "MISSING_MANDATORY_PARAMETER"),
        ({"subject": None}, "MISSING_MANDATORY_PARAMETER"),
        ({"media": "EMAIL"}, "MISSING_MANDATORY_PARAMETER"),
        ({"media": "EMAIL", "to": "not-an-email"}, "INVALID_PARAMETER"),
        ({"media": "FAX"}, "INVALID_PARAMETER"),
        ({"direction": "SIDEWAYS"}, "INVALID_PARAMETER"),
        ({"life_cycle_state": "PENDING"}, "INVALID_PARAMETER"),
        ({"subject": "x" * 256}, "INVALID_PARAMETER"),
        ({"udf_string_1": "y" * 256}, "INVALID_PARAMETER"),
        ({"udf_float_2": "ten"}, "INVALID_PARAMETER"),
        ({"udf_date_1": "31/12/2024"}, "INVALID_PARAMETER"),
        ({"contact_information_identifier": None}, "MISSING_MANDATORY_PARAMETER"),
        ({"contact_information_identifier": {"id": "A" * 32}}, "NOT_FOUND"),
        ({"contact_information_identifier": {"id": "x", "number": "y"}}, "INVALID_PARAMETER"),
        ({"category_identifier": {"name": "No Such Category"}}, "NOT_FOUND"),
        ({"template_identifier": {"code": "PAYREM"}}, "INVALID_PARAMETER"),
        ({"referring_to": {"spaceship_identifier": {"number": "1"}}}, "INVALID_PARAMETER"),
        (
            {"unrestricted_parameter_set": [{"type": "STRING", "name": "n"}]},
            "MISSING_MANDATORY_PARAMETER",
        ),
        ({"colour": "blue"}, "INVALID_PARAMETER"),
    ],
)
def test_create_validates_as_documented(api, fields, expected):
    answer = _create_without(api, fields)
    assert code(answer) == expected, answer["status"]
    assert not Call.objects.filter(kind="crmcom", applied=True).exists()


def _create_without(api: Api, fields: dict[str, Any]) -> dict[str, Any]:
    body = {
        "contact_information_identifier": {"id": contact_id(1)},
        "direction": "OUTGOING",
        "media": "PHONE",
        "subject": "Call back",
        "content": "Please call back.",
    }
    body.update({k: v for k, v in fields.items() if v is not None})
    for name in [k for k, v in fields.items() if v is None]:
        body.pop(name)
    return api.post("communications/create", **body)


def test_template_sets_the_fields_and_placeholders_are_filled(api):
    contact = email_contact()
    answer = api.post(
        "communications/create",
        contact_information_identifier={"id": contact},
        template_identifier={"name": "Payment Reminder"},
        to="payer@example.com",
    )
    data = answer["data"]
    assert (data["media"], data["direction"], data["subject"]) == (
        "EMAIL",
        "OUTGOING",
        "Payment reminder",
    )
    first_name = data["contact_information"]["first_name"] or ""
    assert (
        data["content"].startswith(f"Dear {first_name},")
        or data["contact_information"]["type"] == "COMPANY"
    )
    assert data["category"]["code"] == "BIL"


def test_unrestricted_parameters_fill_the_content_like_the_vendor_sample(api):
    answer = create(
        api,
        life_cycle_state="DRAFT",
        content=(
            "#unrestricted_string.name left. FLOAT: #unrestricted_float.float "
            "#unrestricted_float.newfl"
        ),
        unrestricted_parameter_set=[
            {"type": "STRING", "string_value": "Marios", "name": "name"},
            {"type": "FLOAT", "float_value": "10", "name": "float"},
            {"type": "DATE", "date_value": "2014-05-05T15:49:59", "name": "date"},
        ],
    )
    data = answer["data"]
    assert data["content"] == "Marios left. FLOAT: 10 #unrestricted_float.newfl"
    keys = {p["key"] for p in data["unrestricted_parameter_set"]}
    assert keys == {
        "unrestricted_string.name",
        "unrestricted_float.float",
        "unrestricted_date.date",
    }


def test_update_only_drafts_and_null_clears(api):
    completed = create(api)["data"]["number"]
    refused = api.post(
        "communications/update", communication_identifier={"number": completed}, notes="x"
    )
    assert code(refused) == "INVALID_LIFE_CYCLE_STATE"
    draft = create(api, life_cycle_state="DRAFT", notes="keep me")["data"]["number"]
    updated = api.post(
        "communications/update",
        communication_identifier={"number": draft},
        notes=None,
        subject="New",
    )
    assert updated["data"]["notes"] is None and updated["data"]["subject"] == "New"
    cleared = api.post(
        "communications/update", communication_identifier={"number": draft}, subject=None
    )
    assert code(cleared) == "INVALID_PARAMETER"
    effects = Call.objects.filter(kind="crmcom", operation="communications/update", applied=True)
    assert [c.effect for c in effects] == [f"update:{draft}"]


def test_update_unrestricted_parameters_add_update_remove(api):
    draft = create(
        api,
        life_cycle_state="DRAFT",
        unrestricted_parameter_set=[
            {"type": "STRING", "string_value": "test2", "name": "test"},
            {"type": "FLOAT", "float_value": 10, "name": "float"},
        ],
    )["data"]["number"]
    answer = api.post(
        "communications/update",
        communication_identifier={"number": draft},
        unrestricted_parameter_set=[
            {"action": "add", "type": "STRING", "string_value": "test", "name": "test_string"},
            {
                "action": "update",
                "unrestricted_parameter_identifier": {"name": "test"},
                "string_value": "update",
                "name": "update",
            },
            {
                "action": "remove",
                "unrestricted_parameter_identifier": {"key": "unrestricted_float.float "},
            },
        ],
    )
    names = sorted(p["name"] for p in answer["data"]["unrestricted_parameter_set"])
    assert names == ["test_string", "update"]


def test_complete_only_drafts_and_queues_email(api):
    draft = create(
        api,
        life_cycle_state="DRAFT",
        media="EMAIL",
        to="a@example.com",
        contact_information_identifier={"id": email_contact()},
    )["data"]["number"]
    done = api.post("communications/complete", communication_identifier={"number": draft})
    assert done["data"]["life_cycle_state"] == "COMPLETED"
    again = api.post("communications/complete", communication_identifier={"number": draft})
    assert code(again) == "INVALID_LIFE_CYCLE_STATE"
    assert Call.objects.filter(effect=f"complete:{draft}", applied=True).count() == 1
    queue = api.get("communications/queue/list", media="EMAIL", number_of_results=100)
    assert draft in [e["communication"]["number"] for e in queue["data"]]


def test_set_as_viewed_only_completed(api):
    draft = create(api, life_cycle_state="DRAFT")["data"]["number"]
    refused = api.post("communications/set_as_viewed", communication_identifier={"number": draft})
    assert code(refused) == "INVALID_LIFE_CYCLE_STATE"
    done = create(api, media="SMS")["data"]["number"]
    viewed = api.post(
        "communications/set_as_viewed",
        communication_identifier={"number": done},
        viewed_on="2017-05-22T12:42:03",
    )
    assert viewed["data"]["viewed"] == 1
    assert viewed["data"]["viewed_on"] == "Mon May 22 12:42:03 UTC 2017"
    pending = api.get("communications/queue/get_pending_completed", media="SMS")
    assert done not in [e["communication"]["number"] for e in pending["data"]]


def test_communications_list_needs_contact_or_category(api):
    assert code(api.get("communications/list")) == "INVALID_PARAMETER"
    number = create(api)["data"]["number"]
    mine = api.get("communications/list", contact_information_identifier=f"id={contact_id(1)}")
    assert number in [c["number"] for c in mine["data"]]
    assert all(c["contact_information"]["id"] == contact_id(1) for c in mine["data"])
    by_media = api.get(
        "communications/list", contact_information_identifier=f"id={contact_id(1)}", media="EMAIL"
    )
    assert number not in [c["number"] for c in by_media["data"]]


# -- the queue ------------------------------------------------------------------------------------
def test_queue_list_needs_exactly_one_source(api):
    assert code(api.get("communications/queue/list")) == "INVALID_PARAMETER"
    both = api.get(
        "communications/queue/list",
        media="SMS",
        communication_queue_external_system_identifier="alternative_code=ESMSS",
    )
    assert code(both) == "INVALID_PARAMETER"
    system = api.get(
        "communications/queue/list",
        communication_queue_external_system_identifier="alternative_code=ESMSS",
    )
    assert code(system) == "OK" and system["data"]
    assert all(
        e["communication_queue_external_system"]["alternative_code"] == "ESMSS"
        for e in system["data"]
    )


def test_get_latest_needs_number_and_answers_newest_pending_first(api):
    assert (
        code(api.get("communications/queue/get_latest", media="SMS"))
        == "MISSING_MANDATORY_PARAMETER"
    )
    first = create(api, media="SMS")["data"]["number"]
    second = create(api, media="SMS", subject="Second")["data"]["number"]
    latest = api.get("communications/queue/get_latest", media="SMS", number=2)
    assert [e["communication"]["number"] for e in latest["data"]] == [second, first]
    assert all(e["life_cycle_state"] == "PENDING" for e in latest["data"])


def _pending_entry(api: Api) -> dict[str, Any]:
    create(api, media="SMS")
    return api.get("communications/queue/get_latest", media="SMS", number=1)["data"][0]


def test_process_moves_pending_to_completed_once(api):
    entry = _pending_entry(api)
    ident = {"number": entry["number"]}
    done = api.post("communications/queue/process", communication_queue_identifier=ident)
    assert done["data"]["life_cycle_state"] == "COMPLETED"
    again = api.post("communications/queue/process", communication_queue_identifier=ident)
    assert code(again) == "INVALID_LIFE_CYCLE_STATE"
    assert Call.objects.filter(effect=f"process:{entry['id']}", applied=True).count() == 1


def test_reject_needs_code_and_description(api):
    entry = _pending_entry(api)
    ident = {"id": entry["id"]}
    missing_code = api.post(
        "communications/queue/reject", communication_queue_identifier=ident, error_description="x"
    )
    assert code(missing_code) == "MISSING_MANDATORY_PARAMETER"
    too_long = api.post(
        "communications/queue/reject",
        communication_queue_identifier=ident,
        error_code="01",
        error_description="d" * 256,
    )
    assert code(too_long) == "INVALID_PARAMETER"
    rejected = api.post(
        "communications/queue/reject",
        communication_queue_identifier=ident,
        error_code="01",
        error_description="Communication definition is not configured.",
    )
    assert rejected["data"]["life_cycle_state"] == "REJECTED"
    assert rejected["data"]["error_code"] == "01"
    removed = api.post("communications/queue/remove", communication_queue_identifier=ident)
    assert code(removed) == "INVALID_LIFE_CYCLE_STATE"


def test_remove_from_pending_or_completed(api):
    entry = _pending_entry(api)
    ident = {"number": entry["number"]}
    removed = api.post("communications/queue/remove", communication_queue_identifier=ident)
    assert removed["data"]["life_cycle_state"] == "COMPLETED_AND_REMOVED"
    assert code(api.post("communications/queue/remove", communication_queue_identifier=ident)) == (
        "INVALID_LIFE_CYCLE_STATE"
    )
    shown = api.get(
        "communications/queue/show", communication_queue_identifier=f"number={entry['number']}"
    )
    assert shown["data"]["life_cycle_state"] == "COMPLETED_AND_REMOVED"


def test_queue_show_unknown_is_not_found(api):
    answer = api.get("communications/queue/show", communication_queue_identifier="number=999999")
    assert code(answer) == "NOT_FOUND"


def test_seed_writes_people_and_fixed_data(api):
    contacts = Record.objects.filter(kind="crmcom", collection="contact")
    assert contacts.count() == PEOPLE
    kinds = {r.data["type"] for r in contacts}
    assert "PERSON" in kinds
    assert Record.objects.filter(kind="crmcom", collection="template").count() == 3
    assert Record.objects.filter(kind="crmcom", collection="queue").exists()
    assert json.dumps([r.data for r in contacts])  # plain JSON


def test_contact_list_reads_only_the_page_it_answers(api):
    from django.db import connections
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from crmhub.sandbox.crmcom.contacts import contact_list

    request = RequestFactory().get("/", {"token": api.token, "number_of_results": 3, "offset": 5})
    with CaptureQueriesContext(connections["sandbox"]) as queries:
        response = contact_list(request)
    assert [c["number"] for c in json.loads(response.content)["data"]] == [
        "CI000006",
        "CI000007",
        "CI000008",
    ]
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert reads and all("LIMIT" in sql for sql in reads)
    assert any('ORDER BY "sandbox_record"."remote_id" ASC LIMIT 3 OFFSET 5' in sql for sql in reads)
