"""Parsing of AllClients answers on recorded fixtures (vendor samples and edge cases)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crmhub.connectors import errors
from crmhub.connectors.allclients import parsing

FIXTURES = Path(__file__).parent / "fixtures"
CHICAGO = ZoneInfo("America/Chicago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- the vendor's own samples -----------------------------------------------------------------
def test_run_action_set_vendor_success_sample():
    answer = parsing.parse_confirmation(fixture("run_action_set_success.xml"))
    assert answer.message == "Success"
    assert answer.details == "Action Set completed"


def test_vendor_samples_are_kept_exactly_as_printed():
    # The RunActionSet page indents with no-break spaces; the parser must not mind.
    assert "\u00a0".encode() in fixture("run_action_set_success.xml")
    assert fixture("add_contact_link_flag_exists.xml").startswith(b'<?xml version="1.0"?>\n <re')


@pytest.mark.parametrize(
    "name", ["run_action_set_auth_failed.xml", "add_contact_link_auth_failed.xml"]
)
def test_vendor_authentication_failed_sample_is_auth_failed(name):
    with pytest.raises(errors.AuthFailed) as caught:
        parsing.parse_confirmation(fixture(name))
    assert str(caught.value) == "Authentication failed"
    assert not caught.value.retryable


def test_add_contact_link_vendor_success_sample_gives_the_source_id():
    answer = parsing.parse_confirmation(fixture("add_contact_link_success.xml"))
    assert (answer.message, answer.source_id) == ("Success", "15631")


def test_add_contact_link_vendor_failure_sample_is_rejected_with_its_text():
    with pytest.raises(errors.Rejected) as caught:
        parsing.parse_confirmation(fixture("add_contact_link_flag_exists.xml"))
    assert str(caught.value) == "Flag with this 'name' already exists"
    assert not isinstance(caught.value, errors.AuthFailed | errors.NotFound)


def test_get_contacts_public_php_sample():
    (contact,) = parsing.parse_contacts(fixture("get_contacts_php_sample.xml"), CHICAGO)
    assert contact.remote_id == "64704"
    assert contact.record_type == "person"
    assert (contact.first_name, contact.last_name) == ("Rasmus", "Lerdorf")
    assert contact.full_name == "Rasmus Lerdorf"
    assert contact.company == ""
    assert contact.emails == ()
    # editdate 1/3/2015 7:03:10 AM in Chicago (CST, UTC-6)
    assert contact.updated_at == datetime(2015, 1, 3, 13, 3, 10, tzinfo=UTC)
    assert contact.raw["adddate"] == "12/31/2014 12:46:50 PM"


# -- lists in both formats --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["get_contacts_many.xml", "get_contacts_many.json"])
def test_get_contacts_many_in_both_formats(name):
    contacts = parsing.parse_contacts(fixture(name), CHICAGO)
    assert [c.remote_id for c in contacts] == ["64704", "64705", "64706"]
    sean, zoe, lukasz = contacts
    assert (sean.first_name, sean.last_name, sean.company) == ("Seán", "O'Brien", "Acme & Sons")
    assert sean.emails == ("  Sean.Obrien1@Example.Com ", "sean.home@example.net")
    assert sean.phones == ("(312) 555-0100", "312.555.0199")
    assert sean.updated_at == datetime(2021, 7, 5, 4, 59, 59, tzinfo=UTC)  # CDT, UTC-5
    # Omitted empty fields, unknown extra fields (kept in raw), nested unknown data.
    assert zoe.emails == () and zoe.company == ""
    assert zoe.raw["spousename"] == "Renée"
    assert zoe.raw["customfields"] == {"field": ["one", "two"]}
    assert zoe.phones == ("+1 415 555 0101",)
    # No editdate: the add date stands in.
    assert lukasz.updated_at == datetime(2017, 11, 5, 5, 0, tzinfo=UTC)  # still CDT that night
    assert lukasz.phones == ()


# -- compact XML (what the vendor sends) and indented XML read alike ---------------------------
@pytest.mark.parametrize(
    ("compact", "indented", "parse"),
    [
        (
            "get_contacts_many_compact.xml",
            "get_contacts_many.xml",
            lambda body: parsing.parse_contacts(body, CHICAGO),
        ),
        ("get_categories_compact.xml", "get_categories_success.xml", parsing.parse_categories),
        (
            "get_contact_links_compact.xml",
            "get_contact_links_success.xml",
            lambda body: parsing.parse_links(body, CHICAGO),
        ),
    ],
)
def test_compact_and_indented_xml_parse_alike(compact, indented, parse):
    assert b">\n" not in fixture(compact).split(b"?>", 1)[1]
    assert b"\n    <" in fixture(indented)
    assert parse(fixture(compact)) == parse(fixture(indented))
    assert len(parse(fixture(compact))) >= 2


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?>\n<results><error>Authentication failed</error></results>',
        b'<?xml version="1.0"?>\n<results>\n    <error>Authentication failed</error>\n</results>',
    ],
    ids=["compact", "indented"],
)
def test_an_error_in_compact_or_indented_xml_is_typed(body):
    with pytest.raises(errors.AuthFailed):
        parsing.parse_contacts(body, CHICAGO)


@pytest.mark.parametrize("name", ["get_contacts_one_item.json", "get_contacts_one_item.xml"])
def test_get_contacts_one_item_list_is_normalised(name):
    contacts = parsing.parse_contacts(fixture(name), CHICAGO)
    assert [c.remote_id for c in contacts] == ["64704"]


@pytest.mark.parametrize("name", ["get_contacts_empty.xml", "get_contacts_empty.json"])
def test_get_contacts_empty_list(name):
    assert parsing.parse_contacts(fixture(name), CHICAGO) == ()


def test_get_contacts_json_with_contactid_key_and_numbers():
    first, second = parsing.parse_contacts(fixture("get_contacts_contactid_key.json"), CHICAGO)
    assert (first.remote_id, second.remote_id) == ("64704", "64705")
    assert first.emails == ()
    assert second.phones == ("3125550100",)
    assert second.updated_at is None


def test_dates_follow_the_account_time_zone():
    sample = fixture("get_contacts_php_sample.xml")
    (chicago,) = parsing.parse_contacts(sample, CHICAGO)
    (los_angeles,) = parsing.parse_contacts(sample, LOS_ANGELES)
    assert los_angeles.updated_at - chicago.updated_at == (
        datetime(2015, 1, 3, 15, 3, 10, tzinfo=UTC) - datetime(2015, 1, 3, 13, 3, 10, tzinfo=UTC)
    )
    assert los_angeles.updated_at.tzinfo is UTC


def test_unreadable_dates_give_none_not_a_failed_sync():
    odd, impossible = parsing.parse_contacts(fixture("get_contacts_bad_date.xml"), CHICAGO)
    assert odd.updated_at is None
    assert impossible.updated_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2/15/2014 1:15:05 PM", datetime(2014, 2, 15, 19, 15, 5, tzinfo=UTC)),
        ("12/31/2014 12:46:50 AM", datetime(2014, 12, 31, 6, 46, 50, tzinfo=UTC)),
        ("12/31/2014 12:46:50 PM", datetime(2014, 12, 31, 18, 46, 50, tzinfo=UTC)),
        ("7/4/2021 10:00 am", datetime(2021, 7, 4, 15, 0, tzinfo=UTC)),
        ("07/04/2021 22:00:00", datetime(2021, 7, 5, 3, 0, tzinfo=UTC)),
        ("13/4/2021 10:00 AM", None),
        ("7/4/2021 13:00 PM", None),
        ("", None),
    ],
)
def test_parse_datetime(text, expected):
    assert parsing.parse_datetime(text, CHICAGO) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2021, 4, 15, 15, 0, tzinfo=UTC), "4/15/2021 10:00 AM"),
        (datetime(2024, 1, 1, 0, 15, tzinfo=UTC), "12/31/2023 6:15 PM"),
        (datetime(2024, 7, 1, 5, 5, tzinfo=UTC), "7/1/2024 12:05 AM"),
        (datetime(2024, 7, 1, 17, 59, 59, tzinfo=UTC), "7/1/2024 12:59 PM"),
        # Whatever zone the moment is given in, it is sent in Central time (CST, CDT).
        (datetime(2030, 1, 15, 16, 0, tzinfo=ZoneInfo("Europe/Berlin")), "1/15/2030 9:00 AM"),
        (datetime(2030, 7, 15, 9, 30, tzinfo=ZoneInfo("America/New_York")), "7/15/2030 8:30 AM"),
        (datetime(2030, 3, 10, 3, 30, tzinfo=ZoneInfo("America/Chicago")), "3/10/2030 3:30 AM"),
        (datetime(2030, 11, 3, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")), "11/3/2030 1:30 AM"),
    ],
)
def test_format_start_in_us_central(moment, expected):
    assert parsing.format_start(moment, CHICAGO) == expected


def test_categories_and_links():
    categories = parsing.parse_categories(fixture("get_categories_success.xml"))
    assert [(c.category_id, c.name) for c in categories] == [
        ("1", "Prospect"),
        ("6", "Friends & Family"),
    ]
    (one,) = parsing.parse_categories(fixture("get_categories_one_item.json"))
    assert one.name == "Prospect"
    assert parsing.parse_categories(fixture("get_categories_empty.json")) == ()
    first, second = parsing.parse_links(fixture("get_contact_links_success.xml"), CHICAGO)
    assert (first.link_id, first.url, first.label) == (
        "15631",
        "https://example.com/deal/42",
        "Deal room",
    )
    assert first.added_at == datetime(2024, 1, 2, 21, 4, 5, tzinfo=UTC)
    assert second.added_at is None
    (only,) = parsing.parse_links(fixture("get_contact_links_one_item.json"), CHICAGO)
    assert only.link_id == "15631"


def test_json_confirmations_and_a_bom_with_crlf():
    assert parsing.parse_confirmation(fixture("run_action_set_success.json")).details == (
        "Action Set completed"
    )
    assert parsing.parse_confirmation(fixture("add_contact_link_success.json")).source_id == "15631"
    assert parsing.parse_confirmation(fixture("add_contact_link_bom_crlf.xml")).source_id == "15640"


# -- failures ---------------------------------------------------------------------------------
def test_vendor_error_in_a_json_200_body():
    with pytest.raises(errors.AuthFailed):
        parsing.parse_contacts(fixture("get_contacts_auth_failed.json"), CHICAGO)
    with pytest.raises(errors.NotFound) as caught:
        parsing.parse_confirmation(fixture("run_action_set_not_found.json"))
    assert str(caught.value) == "Contact not found"


@pytest.mark.parametrize(
    "name",
    [
        "get_contacts_html_error.html",
        "get_contacts_truncated.xml",
        "get_contacts_truncated.json",
        "get_contacts_no_id.xml",
        "get_contacts_no_collection.xml",
        "get_contacts_wrong_root.xml",
    ],
)
def test_bad_answers_are_bad_response(name):
    with pytest.raises(errors.BadResponse):
        parsing.parse_contacts(fixture(name), CHICAGO)


def test_html_page_is_named_as_such():
    with pytest.raises(errors.BadResponse, match="HTML page"):
        parsing.read_results(fixture("get_contacts_html_error.html"))


def test_entities_are_refused_unexpanded():
    with pytest.raises(errors.UnsafeXML):
        parsing.parse_contacts(fixture("get_contacts_entity.xml"), CHICAGO)


@pytest.mark.parametrize("body", [b"", b"   \n", b"OK", b"null", b"[1, 2]", b'{"result": {}}'])
def test_not_an_allclients_answer(body):
    with pytest.raises(errors.BadResponse):
        parsing.read_results(body)


def test_a_change_needs_a_success_message():
    with pytest.raises(errors.BadResponse):
        parsing.parse_confirmation(fixture("run_action_set_no_message.xml"))
    with pytest.raises(errors.Rejected) as caught:
        parsing.parse_confirmation(fixture("run_action_set_not_success.xml"))
    assert str(caught.value) == "Failed"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Authentication failed", errors.AuthFailed),
        (" authentication FAILED ", errors.AuthFailed),
        ("Action Set not found", errors.NotFound),
        ("Invalid startdatetime", errors.Rejected),
    ],
)
def test_vendor_error_mapping(text, error):
    mapped = parsing.vendor_error(text)
    assert type(mapped) is error
    assert str(mapped) == text.strip()
