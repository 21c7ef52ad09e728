"""The CRM.COM connector against the simulated CRM.COM over real HTTP.

Every operation: success and each documented failure, with what arrived checked on the
sandbox's ledger and every change applied exactly once.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from crmhub.connectors import errors
from crmhub.connectors.base import ConnectionSpec
from crmhub.connectors.crmcom import client as client_module
from crmhub.connectors.crmcom import parsing
from crmhub.connectors.crmcom.connector import CrmComConnector
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults
from crmhub.sandbox.crmcom import compose, store
from crmhub.sandbox.models import Account, Call, Record
from tests.connectors.contract import ConnectorContract

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _fresh_tokens():
    client_module.forget_all_tokens()
    yield
    client_module.forget_all_tokens()


class TestCrmComContract(ConnectorContract):
    kind = "crmcom"
    people = 23

    def a_change(self) -> tuple[str, dict[str, Any]]:
        return "communication_create", phone_call()

    def a_read(self) -> tuple[str, dict[str, Any]]:
        return "contact_show", {"contact_remote_id": contact(1)}


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def spec(sandbox_spec) -> ConnectionSpec:  # type: ignore[no-untyped-def]
    return sandbox_spec("crmcom", people=10)


@pytest.fixture
def connector(spec):  # type: ignore[no-untyped-def]
    connector = get_connector(spec)
    assert isinstance(connector, CrmComConnector)
    yield connector
    connector.close()


def contact(remote_id: int = 1) -> str:
    return store.object_id(store.CONTACT, remote_id)


def email_contact() -> str:
    rows = Record.objects.filter(kind="crmcom", collection="contact").order_by("remote_id")
    return next(contact(r.remote_id) for r in rows if r.data.get("email"))


def calls(operation: str, **filters: Any) -> list[Call]:
    return list(Call.objects.filter(kind="crmcom", operation=operation, **filters).order_by("id"))


def applied(operation: str) -> list[str]:
    return [c.effect for c in calls(operation, applied=True)]


def phone_call(**extra: Any) -> dict[str, Any]:
    return {
        "contact_remote_id": contact(1),
        "direction": "outgoing",
        "media": "PHONE",
        "subject": "Call back",
        "content": "Please call back.",
        **extra,
    }


def pending_entry(connector: CrmComConnector) -> dict[str, Any]:
    connector.run("communication_create", phone_call(media="SMS", subject="Queued"))
    latest = connector.run("queue_get_latest", {"media": "SMS", "number": 1})
    return dict(latest.data["queue_entries"][0])


# -- create ------------------------------------------------------------------------------------
def test_create_sends_the_vendor_parameters_and_applies_once(connector):
    result = connector.run("communication_create", phone_call(notes="From crmhub"))
    comm = result.data["communication"]
    assert result.remote_id == comm["id"] and comm["life_cycle_state"] == "COMPLETED"
    assert result.message == f"Communication {comm['number']} created (COMPLETED)."
    (call,) = calls("communications/create")
    assert call.params == {
        "contact_information_identifier": {"id": contact(1)},
        "direction": "OUTGOING",
        "media": "PHONE",
        "subject": "Call back",
        "content": "Please call back.",
        "notes": "From crmhub",
    }
    marker = compose.create_marker(contact(1), "Call back", "Please call back.")
    assert applied("communications/create") == [f"create:{marker}"]
    json.dumps(result.data)  # JSON-safe for the Action record


def test_create_with_every_documented_parameter(connector):
    params = {
        "contact_remote_id": email_contact(),
        "template": "Payment Reminder",
        "category": {"code": "cci"},
        "communication_queue_external_system": {"alternative_code": "E1"},
        "to": "payer@example.com",
        "life_cycle_state": "draft",
        "owned_by_group": "Main Group",
        "privacy_level": {"number": "8"},
        "udf_string_1": "gold",
        "udf_float_2": "12.5",
        "udf_date_3": "2024-05-05",
        "referring_to": {"subscription": "S60302"},
        "unrestricted_parameter_set": [
            {"type": "STRING", "name": "name", "string_value": "Marios"},
            {"type": "FLOAT", "name": "amount", "value": "10"},
        ],
        "fields_set": ["id", "number", "life_cycle_state", "media", "category"],
    }
    result = connector.run("communication_create", params)
    comm = result.data["communication"]
    assert set(comm["raw"]) == {"id", "number", "life_cycle_state", "media", "category"}
    assert (comm["media"], comm["life_cycle_state"], comm["category"]) == (
        "EMAIL",
        "DRAFT",
        "Customer Care Information",
    )
    (call,) = calls("communications/create", applied=True)
    sent = call.params
    assert sent["template_identifier"] == {"name": "Payment Reminder"}
    assert sent["category_identifier"] == {"code": "cci"}
    assert sent["communication_queue_external_system_identifier"] == {"alternative_code": "E1"}
    assert sent["owned_by_group_identifier"] == {"name": "Main Group"}
    assert sent["privacy_level_identifier"] == {"number": "8"}
    assert (sent["udf_float_2"], sent["udf_date_3"]) == (12.5, "2024-05-05T00:00:00")
    assert sent["referring_to"] == {"subscription_identifier": {"number": "S60302"}}
    assert sent["unrestricted_parameter_set"][1] == {
        "type": "FLOAT",
        "name": "amount",
        "float_value": 10.0,
    }
    assert sent["fields_set"] == "id,number,life_cycle_state,media,category"
    assert "direction" not in sent  # the template sets it


def test_create_refused_by_the_server_is_typed_and_applies_nothing(connector):
    # The template makes the media EMAIL, which needs "to": only the server can know.
    with pytest.raises(errors.Rejected) as caught:
        connector.run(
            "communication_create",
            {"contact_remote_id": contact(1), "template": "Payment Reminder"},
        )
    assert caught.value.code == "MISSING_MANDATORY_PARAMETER"
    assert "to" in caught.value.description
    assert applied("communications/create") == []


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"contact_remote_id": "0" * 32}, errors.NotFound),
        ({"template": "No Such Template", "subject": "x"}, errors.NotFound),
        ({"category": "No Such Category"}, errors.NotFound),
    ],
)
def test_create_with_unknown_records_is_not_found(connector, change, kind):
    with pytest.raises(kind):
        connector.run("communication_create", phone_call(**change))
    assert applied("communications/create") == []


def test_create_is_validated_before_anything_is_sent(connector):
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate("communication_create", {"media": "EMAIL", "subject": "s" * 256})
    assert set(caught.value.errors) >= {"contact_remote_id", "direction", "content", "subject"}
    assert "to" in caught.value.errors
    assert not calls("communications/create")


def test_create_email_enters_the_queue(connector):
    to = "someone@example.com"
    result = connector.run(
        "communication_create", phone_call(contact_remote_id=email_contact(), media="EMAIL", to=to)
    )
    number = result.data["communication"]["number"]
    pending = connector.run("queue_list", {"media": "EMAIL", "life_cycle_state": "pending"})
    assert number in [e["communication_number"] for e in pending.data["queue_entries"]]


# -- update, complete, set as viewed -----------------------------------------------------------
def test_update_a_draft_and_refusal_on_completed(connector):
    draft = connector.run("communication_create", phone_call(life_cycle_state="DRAFT", notes="n"))
    number = draft.data["communication"]["number"]
    result = connector.run(
        "communication_update",
        {"communication": number, "subject": "Changed", "notes": None, "udf_string_2": "x"},
    )
    comm = result.data["communication"]
    assert (comm["subject"], comm["notes"]) == ("Changed", "")
    (call,) = calls("communications/update")
    assert call.params == {
        "communication_identifier": {"number": number},
        "subject": "Changed",
        "notes": None,
        "udf_string_2": "x",
    }
    completed = connector.run("communication_create", phone_call())
    with pytest.raises(errors.Rejected) as caught:
        connector.run(
            "communication_update",
            {"communication": completed.data["communication"]["id"], "subject": "Late"},
        )
    assert caught.value.code == "INVALID_LIFE_CYCLE_STATE"
    assert applied("communications/update") == [f"update:{number}"]


def test_update_unrestricted_parameters_with_actions(connector):
    draft = connector.run(
        "communication_create",
        phone_call(
            life_cycle_state="DRAFT",
            unrestricted_parameter_set=[{"type": "STRING", "name": "test", "value": "one"}],
        ),
    )
    result = connector.run(
        "communication_update",
        {
            "communication": draft.data["communication"]["number"],
            "unrestricted_parameter_set": [
                {"action": "add", "type": "DATE", "name": "due", "value": "2024-06-01"},
                {"action": "remove", "unrestricted_parameter_identifier": "test"},
            ],
        },
    )
    names = [p["name"] for p in result.data["communication"]["raw"]["unrestricted_parameter_set"]]
    assert names == ["due"]


def test_complete_once_then_refused(connector):
    draft = connector.run("communication_create", phone_call(life_cycle_state="DRAFT"))
    number = draft.data["communication"]["number"]
    done = connector.run("communication_complete", {"communication": number})
    assert done.data["communication"]["life_cycle_state"] == "COMPLETED"
    assert done.message == f"Communication {number} completed (COMPLETED)."
    with pytest.raises(errors.Rejected) as caught:
        connector.run("communication_complete", {"communication": number})
    assert caught.value.code == "INVALID_LIFE_CYCLE_STATE"
    assert applied("communications/complete") == [f"complete:{number}"]


def test_complete_unknown_is_not_found(connector):
    with pytest.raises(errors.NotFound):
        connector.run("communication_complete", {"communication": "CM999999"})


def test_set_as_viewed_only_completed(connector):
    done = connector.run("communication_create", phone_call(media="SMS"))
    number = done.data["communication"]["number"]
    viewed = connector.run(
        "communication_set_as_viewed", {"communication": number, "viewed_on": "2024-02-03"}
    )
    assert viewed.data["communication"]["viewed"] is True
    assert viewed.data["communication"]["viewed_on"] == "2024-02-03T00:00:00+00:00"
    draft = connector.run("communication_create", phone_call(life_cycle_state="DRAFT"))
    with pytest.raises(errors.Rejected):
        connector.run(
            "communication_set_as_viewed", {"communication": draft.data["communication"]["id"]}
        )
    assert applied("communications/set_as_viewed") == [f"viewed:{number}"]


# -- the queue ---------------------------------------------------------------------------------
def test_queue_process_once(connector):
    entry = pending_entry(connector)
    result = connector.run("queue_process", {"queue_entry": entry["number"]})
    assert result.data["queue_entry"]["life_cycle_state"] == "COMPLETED"
    assert result.remote_id == entry["id"]
    with pytest.raises(errors.Rejected) as caught:
        connector.run("queue_process", {"queue_entry": entry["id"]})
    assert caught.value.code == "INVALID_LIFE_CYCLE_STATE"
    assert applied("communications/queue/process") == [f"process:{entry['id']}"]
    (first, _) = calls("communications/queue/process")
    assert first.params == {"communication_queue_identifier": {"number": entry["number"]}}


def test_queue_reject_needs_code_and_description(connector):
    entry = pending_entry(connector)
    with pytest.raises(errors.InvalidParams) as caught:
        connector.run("queue_reject", {"queue_entry": entry["id"], "error_code": "01"})
    assert set(caught.value.errors) == {"error_description"}
    assert not calls("communications/queue/reject")
    result = connector.run(
        "queue_reject",
        {"queue_entry": entry["id"], "error_code": "01", "error_description": "Not configured."},
    )
    rejected = result.data["queue_entry"]
    assert (rejected["life_cycle_state"], rejected["error_code"]) == ("REJECTED", "01")
    with pytest.raises(errors.Rejected):
        connector.run(
            "queue_reject",
            {"queue_entry": entry["id"], "error_code": "02", "error_description": "Again."},
        )
    assert applied("communications/queue/reject") == [f"reject:{entry['id']}"]


def test_queue_remove_from_pending_not_from_rejected(connector):
    entry = pending_entry(connector)
    removed = connector.run("queue_remove", {"queue_entry": entry["number"]})
    assert removed.data["queue_entry"]["life_cycle_state"] == "COMPLETED_AND_REMOVED"
    other = pending_entry(connector)
    connector.run(
        "queue_reject", {"queue_entry": other["id"], "error_code": "9", "error_description": "d"}
    )
    with pytest.raises(errors.Rejected) as caught:
        connector.run("queue_remove", {"queue_entry": other["id"]})
    assert caught.value.code == "INVALID_LIFE_CYCLE_STATE"
    assert applied("communications/queue/remove") == [f"remove:{entry['id']}"]


# -- reads -------------------------------------------------------------------------------------
def test_communications_list_and_show(connector):
    created = connector.run("communication_create", phone_call())
    listed = connector.run(
        "communications_list", {"contact_remote_id": contact(1), "number_of_results": 50}
    )
    numbers = [c["number"] for c in listed.data["communications"]]
    assert created.data["communication"]["number"] in numbers
    assert listed.data["count"] == len(numbers)
    (call,) = calls("communications/list")
    assert call.params["contact_information_identifier"] == f"id={contact(1)}"
    shown = connector.run("communication_show", {"communication": numbers[0]})
    assert shown.data["communication"]["number"] == numbers[0]
    with pytest.raises(errors.NotFound):
        connector.run("communication_show", {"communication": "CM999999"})
    with pytest.raises(errors.InvalidParams):
        connector.validate("communications_list", {"direction": "OUTGOING"})


def test_queue_reads(connector):
    entry = pending_entry(connector)
    by_system = connector.run(
        "queue_list", {"communication_queue_external_system": {"alternative_code": "ESMSS"}}
    )
    assert by_system.data["queue_entries"]
    latest = connector.run("queue_get_latest", {"media": "SMS", "number": 5})
    assert latest.data["queue_entries"][0]["number"] == entry["number"]
    pending = connector.run("queue_get_pending_completed", {"media": "SMS", "number_of_results": 5})
    assert entry["number"] in [e["number"] for e in pending.data["queue_entries"]]
    shown = connector.run("queue_show", {"queue_entry": entry["id"]})
    assert shown.data["queue_entry"]["communication_number"] == entry["communication_number"]
    with pytest.raises(errors.NotFound):
        connector.run("queue_show", {"queue_entry": "999999"})
    with pytest.raises(errors.InvalidParams) as caught:
        connector.validate(
            "queue_list", {"media": "SMS", "communication_queue_external_system": "X"}
        )
    assert "media" in caught.value.errors


def test_contact_show(connector):
    result = connector.run("contact_show", {"contact_remote_id": contact(3)})
    shown = result.data["contact"]
    assert shown["remote_id"] == contact(3) == result.remote_id
    assert shown["raw"]["number"] == "CI000003"
    with pytest.raises(errors.NotFound):
        connector.run("contact_show", {"contact_remote_id": "F" * 32})


def test_listing_matches_the_seeded_people(connector):
    pages = list(connector.iter_contact_pages(page_size=4))
    contacts = [c for page in pages for c in page.contacts]
    assert [p.number for p in pages] == [0, 1, 2]
    seeded = Record.objects.filter(kind="crmcom", collection="contact").order_by("remote_id")
    assert [c.remote_id for c in contacts] == [contact(r.remote_id) for r in seeded]
    first = contacts[0]
    assert first.updated_at is not None and first.updated_at.tzinfo is not None
    assert first.record_type in ("person", "company")
    sent = [c.params for c in calls("contact_information/list")]
    assert [(p["number_of_results"], p["offset"]) for p in sent] == [
        ("4", "0"),
        ("4", "4"),
        ("4", "8"),
        ("4", "10"),  # no total: the listing ends once the next offset is confirmed empty
    ]


def test_a_server_serving_shorter_pages_than_asked_is_listed_to_the_end(connector, monkeypatch):
    from crmhub.sandbox.crmcom import contacts as listing

    paging = listing.paging

    def capped(params):  # type: ignore[no-untyped-def]
        offset, size = paging(params)
        return offset, min(size, 3)  # the server cuts every page to three

    monkeypatch.setattr(listing, "paging", capped)
    pages = list(connector.iter_contact_pages(page_size=4))
    assert [len(page.contacts) for page in pages] == [3, 3, 3, 1]
    assert len({c.remote_id for page in pages for c in page.contacts}) == 10
    sent = [c.params["offset"] for c in calls("contact_information/list")]
    assert sent == ["0", "3", "6", "9", "10"]


def test_listing_stops_on_a_page_repeated_verbatim(connector, monkeypatch):
    real = connector.client.get

    def stuck(path, params):  # type: ignore[no-untyped-def]
        return real(path, {**params, "offset": 0})

    monkeypatch.setattr(connector.client, "get", stuck)
    with pytest.raises(errors.BadResponse, match="same contacts again"):
        list(connector.iter_contact_pages(page_size=3))


# -- tokens --------------------------------------------------------------------------------------
def test_token_is_cached_across_connectors_of_a_connection(spec):
    for _ in range(2):
        connector = get_connector(spec)
        list(connector.iter_contact_pages(page_size=50))
        connector.close()
    assert len(calls("authentication/token")) == 1


def test_token_is_renewed_after_100_minutes(connector):
    now = [1000.0]
    connector.client.clock = lambda: now[0]
    connector.run("contact_show", {"contact_remote_id": contact(1)})
    now[0] += 99 * 60
    connector.run("contact_show", {"contact_remote_id": contact(1)})
    assert len(calls("authentication/token")) == 1
    now[0] += 2 * 60
    connector.run("contact_show", {"contact_remote_id": contact(1)})
    assert len(calls("authentication/token")) == 2


def _token_lifetime(seconds: int) -> None:
    account = Account.objects.get(kind="crmcom")
    account.credentials = {**account.credentials, "token_lifetime_seconds": str(seconds)}
    account.save()


def test_token_expiring_mid_way_logs_in_again_once(connector):
    pages = connector.iter_contact_pages(page_size=4)
    first = next(pages)
    time.sleep(2.1)
    _token_lifetime(2)  # the cached token (over two seconds old) is now expired for the server
    rest = list(pages)
    assert len(first.contacts) + sum(len(p.contacts) for p in rest) == 10
    # A page refused for its expired token is asked again after one new login. The server
    # stamps a token with whole seconds (iat truncated, as JWTs are), so a new token lives
    # between 1 and 2 s: long enough for the page asked again, but on a loaded machine one
    # may expire again before the last page: count. (With 1 s it could live ~0 s, and the
    # page asked again with it was refused a second time: CI's failure of stop 23.)
    offsets = [int(c.params["offset"]) for c in calls("contact_information/list")]
    assert offsets == sorted(offsets) and sorted(set(offsets)) == [0, 4, 8, 10]
    assert offsets[:3] == [0, 4, 4], "the page after the token expired: refused, asked again"
    asked_again = len(offsets) - len(set(offsets))
    assert len(calls("authentication/token")) == 1 + asked_again


def test_unsafe_call_refused_for_its_token_is_sent_again_and_applied_once(connector):
    connector.check_credentials()
    time.sleep(2.1)
    _token_lifetime(2)  # the new token lives 1-2 s (whole-second iat): enough for the resend
    result = connector.run("communication_create", phone_call())
    assert len(calls("communications/create")) == 2  # refused (invalid token), then applied
    assert len(applied("communications/create")) == 1
    assert result.data["communication"]["life_cycle_state"] == "COMPLETED"


def test_only_one_new_login_when_the_new_token_is_refused_too(connector):
    connector.check_credentials()
    _token_lifetime(0)  # every token, even a fresh one, is expired
    with pytest.raises(parsing.InvalidToken) as caught:
        connector.run("communication_create", phone_call())
    assert isinstance(caught.value, errors.AuthFailed)
    assert len(calls("authentication/token")) == 2
    assert len(calls("communications/create")) == 2
    assert applied("communications/create") == []


def test_token_never_appears_in_records_or_errors(connector, spec):
    connector.check_credentials()
    token = client_module._tokens[connector.client._key].value
    _token_lifetime(0)
    with pytest.raises(errors.AuthFailed) as caught:
        connector.run("contact_show", {"contact_remote_id": contact(1)})
    dump = json.dumps([c.as_dict() for c in connector.drain_calls()])
    assert token not in dump and spec.secrets["password"] not in dump
    assert "[redacted]" in dump
    assert token not in str(caught.value) and token not in (caught.value.url or "")


def test_wrong_unit_is_auth_failed(spec):
    settings = {**spec.settings, "unit": "Another Unit"}
    connector = get_connector(ConnectionSpec(**{**spec.__dict__, "settings": settings}))
    with pytest.raises(errors.AuthFailed):
        connector.check_credentials()


# -- an unsafe call whose answer is lost ---------------------------------------------------------
def test_unreadable_answer_to_a_change_is_an_unknown_outcome(connector):
    connector.check_credentials()
    faults.configure("crmcom", malformed_rate=1.0)
    with pytest.raises(errors.UnknownOutcome):
        connector.run("communication_create", phone_call())
    with pytest.raises(errors.BadResponse) as read:
        connector.run("contact_show", {"contact_remote_id": contact(1)})
    assert not isinstance(read.value, errors.UnknownOutcome)


def test_timeout_after_the_change_was_applied_is_not_retryable_blindly(connector):
    connector.check_credentials()
    faults.configure("crmcom", timeout_after_apply=True, timeout_rate=1.0, hang_seconds=6)
    with pytest.raises(errors.UnknownOutcome) as caught:
        connector.run("communication_create", phone_call())
    assert caught.value.request_sent is True and not caught.value.retryable
    assert len(applied("communications/create")) == 1


# -- release switches ------------------------------------------------------------------------------
def test_features_of_later_releases_are_refused_on_older_connections(spec):
    old = get_connector(
        ConnectionSpec(**{**spec.__dict__, "settings": {**spec.settings, "release": "11"}})
    )
    with pytest.raises(errors.InvalidParams) as caught:
        old.validate("communication_set_as_viewed", {"communication": "CM000001"})
    assert "__all__" in caught.value.errors
    with pytest.raises(errors.InvalidParams) as paging:
        old.validate("communications_list", {"contact_remote_id": contact(1), "offset": 5})
    assert "number_of_results" in paging.value.errors
    old.validate("queue_remove", {"queue_entry": "1"})


def test_get_pending_completed_sends_number_before_r13(spec, monkeypatch):
    old = get_connector(
        ConnectionSpec(**{**spec.__dict__, "settings": {**spec.settings, "release": "12.2"}})
    )
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(old.client, "get", lambda path, params: sent.append((path, params)) or [])
    old.run("queue_get_pending_completed", {"media": "SMS", "number_of_results": 3})
    assert sent == [("communications/queue/get_pending_completed", {"media": "SMS", "number": 3})]
