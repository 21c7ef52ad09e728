"""Pure parsing of CRM.COM answers, on recorded fixtures.

``*_vendor_*`` fixtures are the response samples of ../shared/seeds/crmcom-communications.txt
copied exactly as printed (between the code block's first ``{`` and last ``}``). Three list
samples are printed with their tail elided (``....``): as printed they are not JSON; the
``*_elision_removed`` copies drop that one line so the rest can be checked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmhub.connectors import errors
from crmhub.connectors.crmcom import parsing

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def data(name: str) -> object:
    return parsing.unwrap(load(name))


# -- vendor samples -------------------------------------------------------------------------
VALID_VENDOR_SAMPLES = sorted(
    p.name
    for p in FIXTURES.glob("*_vendor_*.json")
    if p.stem
    not in (
        "communications_list_vendor_sample",
        "queue_list_vendor_sample",
        "queue_get_latest_vendor_sample",
    )
)


def test_every_vendor_sample_is_here():
    assert len(VALID_VENDOR_SAMPLES) == 19


@pytest.mark.parametrize("name", VALID_VENDOR_SAMPLES)
def test_vendor_samples_are_ok_envelopes(name):
    envelope = parsing.parse_envelope(load(name))
    assert envelope.status.code == "OK"
    assert envelope.data


@pytest.mark.parametrize(
    "name",
    [
        "communications_list_vendor_sample.json",
        "queue_list_vendor_sample.json",
        "queue_get_latest_vendor_sample.json",
    ],
)
def test_vendor_samples_with_an_elided_tail_are_bad_responses(name):
    with pytest.raises(errors.BadResponse):
        parsing.unwrap(load(name))


def test_communication_show_sample():
    comm = parsing.parse_communication(data("communication_show_vendor_sample.json"))
    assert (comm.id, comm.number) == ("AFC7A8F8F2174A099CDC3AD168B85B3E", "CM000680")
    assert (comm.life_cycle_state, comm.media, comm.direction) == ("DRAFT", "EMAIL", "OUTGOING")
    assert comm.subject == " Information for your STRIPE Payment Registered Card"
    assert (comm.to, comm.sender) == ("eleni.sites@gmail.com", "e_michailidou@crm.com")
    assert comm.contact_id == "460BB0DB7A4EB61D9D6E3DFEE8566C08"
    assert comm.contact_name == "Clark Kathy"
    assert comm.category == "Customer Care Information"
    assert comm.updated_at == datetime(2015, 4, 30, 13, 23, 51, tzinfo=UTC)
    assert comm.viewed is False and comm.viewed_on is None
    assert comm.raw["referring_to"]["payment"]["number"] == "182"


def test_communication_create_sample_with_a_raw_line_break_in_a_string():
    comm = parsing.parse_communication(data("communication_create_vendor_sample.json"))
    assert (comm.number, comm.life_cycle_state) == ("554", "COMPLETED")
    assert comm.contact_name == "Kyriacos Xenofontos"
    subscription = comm.raw["referring_to"]["subscription"]
    assert subscription["type"]["description"] == "For Subscribers residing in London\n"


def test_communication_create_unrestricted_sample():
    comm = parsing.parse_communication(data("communication_create_vendor_unrestricted.json"))
    assert comm.number == "CM001634" and comm.life_cycle_state == "DRAFT"
    keys = [p["key"] for p in comm.raw["unrestricted_parameter_set"]]
    assert "unrestricted_date.date" in keys
    assert comm.content.endswith("FLOAT: 10 #unrestricted_float.newfl ")


def test_communication_create_fields_set_sample_has_only_those_fields():
    comm = parsing.parse_communication(data("communication_create_vendor_fields_set.json"))
    assert comm.id == "" and comm.number == ""
    assert (comm.media, comm.subject) == ("EMAIL", "Subscription Notice")
    assert comm.contact_name == "Mercer Ben11 omonoia"
    assert comm.updated_at is None


def test_communication_update_samples():
    comm = parsing.parse_communication(data("communication_update_vendor_sample.json"))
    assert comm.number == "290" and comm.life_cycle_state == "DRAFT"
    assert comm.content.startswith("Dear Paulos")
    again = parsing.parse_communication(data("communication_update_vendor_unrestricted.json"))
    names = [p["name"] for p in again.raw["unrestricted_parameter_set"]]
    assert names == ["test_string", "name", "update", "date"]


def test_communication_complete_sample():
    comm = parsing.parse_communication(data("communication_complete_vendor_sample.json"))
    assert (comm.number, comm.life_cycle_state) == ("41", "COMPLETED")
    assert comm.contact_name == "Stephane Spector"


def test_set_as_viewed_sample_reads_the_java_date():
    comm = parsing.parse_communication(data("communication_set_as_viewed_vendor_sample.json"))
    assert comm.viewed is True
    assert comm.viewed_on == datetime(2017, 5, 22, 9, 42, 3, tzinfo=UTC)  # EEST is UTC+3
    assert comm.contact_name == "Persia Xenopoulou"


def test_communications_list_sample():
    comms = parsing.parse_communications(
        data("communications_list_vendor_sample_elision_removed.json")
    )
    assert [c.number for c in comms] == ["77"]
    assert comms[0].contact_name == "Elena Michael"


def test_queue_show_sample():
    entry = parsing.parse_queue_entry(data("queue_show_vendor_sample.json"))
    assert (entry.number, entry.life_cycle_state) == ("1", "COMPLETED")
    assert (entry.error_code, entry.error_description) == ("05", "Error with life cycle state.")
    assert (entry.communication_number, entry.contact_name) == ("50", "Marios Ioannou47")
    assert entry.external_system == ""


def test_queue_list_and_get_latest_samples():
    listed = parsing.parse_queue_entries(data("queue_list_vendor_sample_elision_removed.json"))
    assert [e.number for e in listed] == ["2", "6", "7"]
    latest = parsing.parse_queue_entries(
        data("queue_get_latest_vendor_sample_elision_removed.json")
    )
    assert latest and latest[-1].external_system == "New Test"


def test_queue_process_samples():
    entry = parsing.parse_queue_entry(data("queue_process_vendor_sample.json"))
    assert entry.id == "BE4C746D2894889EF68DD79323D8CE88" and entry.life_cycle_state == "COMPLETED"
    narrow = parsing.parse_queue_entry(data("queue_process_vendor_fields_set.json"))
    assert set(narrow.raw) == {"communication", "number", "id"}
    assert narrow.life_cycle_state == "" and narrow.subject.startswith(" Information")


def test_queue_reject_samples():
    entry = parsing.parse_queue_entry(data("queue_reject_vendor_sample.json"))
    assert entry.number == "9"
    assert parsing.parse_queue_entry(data("queue_reject_vendor_fields_set.json")).number == "10"


def test_queue_remove_sample():
    entry = parsing.parse_queue_entry(data("queue_remove_vendor_sample.json"))
    assert entry.life_cycle_state == "COMPLETED_AND_REMOVED"
    assert (entry.communication_number, entry.external_system) == ("CM003004", "EXT 1")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "queue_get_pending_completed_vendor_sample.json",
            [("2701", "PENDING"), ("2700", "PENDING"), ("2699", "COMPLETED")],
        ),
        (
            "queue_get_pending_completed_vendor_sample_2.json",
            [
                ("2231", "COMPLETED"),
                ("2230", "COMPLETED"),
                ("2229", "COMPLETED"),
                ("986", "PENDING"),
            ],
        ),
    ],
)
def test_get_pending_completed_samples_hold_pending_and_completed_newest_first(name, expected):
    entries = parsing.parse_queue_entries(data(name))
    assert [(e.number, e.life_cycle_state) for e in entries] == expected
    assert entries[-1].external_system in ("EXT 1", "External SMS System")


def test_results_are_json_safe():
    import json

    comm = parsing.parse_communication(data("communication_show_vendor_sample.json"))
    dumped = json.loads(json.dumps(comm.as_data()))
    assert dumped["updated_at"] == "2015-04-30T13:23:51+00:00"
    assert dumped["raw"]["number"] == "CM000680"


# -- contacts ---------------------------------------------------------------------------------
def test_contact_list_success():
    person, company = parsing.parse_contacts(data("contact_list_success.json"))
    assert person.remote_id == "3139061DB901C362000000000000007B"
    assert (person.record_type, person.first_name, person.last_name) == (
        "person",
        "Seán",
        "O'Brien",
    )
    assert (person.full_name, person.company) == ("Seán O'Brien", "Acme Inc")
    assert person.emails == ("sean.obrien123@example.com",)
    assert person.phones == ("(312) 555-0199",)
    assert person.updated_at == datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)
    assert person.raw["number"] == "CI000123"
    assert (company.record_type, company.full_name, company.emails) == (
        "company",
        "Globex GmbH",
        (),
    )


def test_contact_list_one_item_and_lone_object():
    (one,) = parsing.parse_contacts(data("contact_list_one_item.json"))
    assert one.full_name == "Zoë Núñez"
    (lone,) = parsing.parse_contacts(data("contact_list_lone_object.json"))
    assert lone.full_name == "Renée D'Angelo"


def test_contact_list_omitted_and_unknown_fields():
    (bare,) = parsing.parse_contacts(data("contact_list_omitted_fields.json"))
    assert (bare.record_type, bare.full_name, bare.emails, bare.updated_at) == (
        "person",
        "",
        (),
        None,
    )
    (extra,) = parsing.parse_contacts(data("contact_list_unknown_fields.json"))
    assert extra.emails == ("bjorn@example.org",)
    assert extra.raw["loyalty_tier"] == {"name": "Gold"}


@pytest.mark.parametrize("name", ["contact_list_empty.json", "contact_list_data_null.json"])
def test_contact_list_empty(name):
    assert parsing.parse_contacts(data(name)) == ()


@pytest.mark.parametrize(
    "name",
    [
        "contact_list_html_error.html",
        "contact_list_truncated.json",
        "contact_list_not_an_envelope.json",
        "contact_list_not_a_list_of_records.json",
        "contact_list_omitted_id.json",
    ],
)
def test_contact_list_bad_bodies(name, tmp_path):
    if name == "contact_list_omitted_id.json":
        body = b'{"status": {"code": "OK"}, "data": [{"first_name": "Ana"}]}'
    else:
        body = load(name)
    with pytest.raises(errors.BadResponse):
        parsing.parse_contacts(parsing.unwrap(body))


def test_html_error_page_message_shows_what_came():
    with pytest.raises(errors.BadResponse) as caught:
        parsing.unwrap(load("contact_list_html_error.html"))
    assert "<!doctype html>" in str(caught.value)


# -- vendor errors in a 200 body ---------------------------------------------------------------
def test_invalid_token_is_an_auth_error_carrying_the_vendor_status():
    with pytest.raises(parsing.InvalidToken) as caught:
        parsing.unwrap(load("contact_list_invalid_token.json"))
    error = caught.value
    assert isinstance(error, errors.AuthFailed)
    assert error.code == "INVALID_TOKEN"
    assert error.vendor_message == "Invalid token"
    assert error.description.startswith("The token is unknown")
    assert "INVALID_TOKEN" in str(error)


def test_wrong_credentials_are_auth_failed_but_not_invalid_token():
    with pytest.raises(errors.AuthFailed) as caught:
        parsing.unwrap(load("login_wrong_credentials.json"))
    assert not isinstance(caught.value, parsing.InvalidToken)


def test_not_found_and_rejections():
    with pytest.raises(errors.NotFound) as missing:
        parsing.unwrap(load("contact_show_not_found.json"))
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(errors.Rejected) as refused:
        parsing.unwrap(load("communication_create_missing_to.json"))
    assert not isinstance(refused.value, errors.NotFound | errors.AuthFailed)
    assert refused.value.description.startswith("to (mandatory")
    assert refused.value.retryable is False
    with pytest.raises(errors.Rejected) as state:
        parsing.unwrap(load("communication_complete_wrong_state.json"))
    assert state.value.code == "INVALID_LIFE_CYCLE_STATE"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("INVALID_TOKEN", parsing.InvalidToken),
        ("TOKEN_EXPIRED", parsing.InvalidToken),
        ("AUTHENTICATION_FAILED", parsing.CrmComAuthFailed),
        ("NOT_FOUND", parsing.CrmComNotFound),
        ("INVALID_PARAMETER", parsing.CrmComRejected),
        ("SOMETHING_NEW", parsing.CrmComRejected),
    ],
)
def test_error_for_status_maps_codes_in_one_place(code, kind):
    assert type(parsing.error_for_status(parsing.VendorStatus(code))) is kind


# -- login and dates ----------------------------------------------------------------------------
def test_login_token():
    token = parsing.parse_token(data("login_success.json"))
    assert token.startswith("eyJ") and token.count(".") == 2
    with pytest.raises(errors.BadResponse):
        parsing.parse_token(data("login_no_token.json"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-04-30T13:23:51", datetime(2015, 4, 30, 13, 23, 51, tzinfo=UTC)),
        ("2015-04-30T13:23:51+02:00", datetime(2015, 4, 30, 11, 23, 51, tzinfo=UTC)),
        ("Mon May 05 15:49:59 EEST 2014", datetime(2014, 5, 5, 12, 49, 59, tzinfo=UTC)),
        ("Mon May 22 12:42:03 UTC 2017", datetime(2017, 5, 22, 12, 42, 3, tzinfo=UTC)),
        ("Mon May 22 12:42:03 XYZT 2017", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime(text, expected):
    assert parsing.parse_datetime(text) == expected
