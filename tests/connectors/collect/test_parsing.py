"""Pure parsing of Collect! answers, on recorded fixtures (``<operation>_<scenario>.<ext>``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmhub.connectors.collect import parsing
from crmhub.connectors.errors import AuthFailed, BadResponse, Rejected

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def contacts(name: str, table: str) -> list:  # type: ignore[type-arg]
    page = parsing.parse_data_page(fixture(name), table=table)
    return [parsing.contact_from_row(table, page.row_id, row) for row in page.rows]


# -- the vendor's own samples (seeds/collect-runplan.txt, public-facts §3) -------------------
def test_runplan_body_matches_the_vendor_example() -> None:
    body = parsing.runplan_body(
        plan="REV", table="debtor", rowid=123, websocket_id="43tzLWO2RJzlxQPpsw4EOA=="
    )
    assert body == json.loads(fixture("run_plan_vendor_request.json"))
    assert list(body) == ["plan", "debtor", "websocket-id"]


def test_runplan_success_has_no_body() -> None:
    assert fixture("run_plan_vendor_no_body.txt") == b""
    assert parsing.parse_runplan(fixture("run_plan_vendor_no_body.txt")) == {}
    assert parsing.parse_runplan(b"  \n") == {}


def test_listing_header_as_documented() -> None:
    """The documented ``type`` header (its ``data`` was elided in the help page)."""
    page = parsing.parse_data_page(fixture("list_contacts_vendor_header.json"), table="debtor")
    assert (page.rec_id, page.row_id, page.num_records, page.num_pages) == (
        "debtor",
        "de_rowid",
        15398,
        16,
    )
    assert page.rows == ()


# -- login -----------------------------------------------------------------------------------
def test_login_returns_the_token() -> None:
    token = parsing.parse_login(fixture("login_success.json"))
    assert token == "eyJvcCI6Ik9XTiJ9:1tEXaZ:c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_login_error_in_a_200_body_is_auth_failed() -> None:
    with pytest.raises(AuthFailed, match="Invalid operator ID or password"):
        parsing.parse_login(fixture("login_error_in_200.json"))


@pytest.mark.parametrize(
    "name", ["login_no_token.json", "login_html_page.html", "login_truncated.json"]
)
def test_login_without_a_token_is_a_bad_response(name: str) -> None:
    with pytest.raises(BadResponse):
        parsing.parse_login(fixture(name))


# -- listing ---------------------------------------------------------------------------------
def test_debtor_rows_become_contacts() -> None:
    found = contacts("list_contacts_debtor.json", "debtor")
    assert [c.remote_id for c in found] == ["debtor:1", "debtor:2", "debtor:3"]
    jose, zoe, soren = found
    assert (jose.first_name, jose.last_name, jose.full_name) == ("José", "O'Brien", "José O'Brien")
    assert jose.record_type == "debtor"
    assert jose.company == "Acme Inc"
    assert jose.emails == ("jose.obrien1@example.com",)
    assert jose.phones == ("312.555.0101",)
    assert jose.updated_at == datetime(2024, 3, 5, 14, 3, tzinfo=UTC)
    assert jose.raw["de_number"] == "DE0000001"
    assert zoe.emails == ()
    assert zoe.phones == ("415.555.0199", "415.555.0100")
    assert zoe.updated_at == datetime(2024, 3, 6, 7, 0, tzinfo=UTC)
    assert soren.last_name == "Van der Berg"
    assert soren.phones == ()
    assert soren.updated_at == datetime(2024, 3, 7, 10, 15, 30, tzinfo=UTC)  # naive: UTC


def test_one_item_list_and_one_item_object() -> None:
    listed = contacts("list_contacts_one_item.json", "associate")
    single = contacts("list_contacts_one_item_object.json", "associate")
    assert [c.remote_id for c in listed] == [c.remote_id for c in single] == ["associate:7"]
    assert single[0].first_name == "Seán"
    assert single[0].updated_at is None


def test_omitted_and_null_fields() -> None:
    globex, nameless = contacts("list_contacts_omitted_fields.json", "client")
    assert (globex.full_name, globex.first_name, globex.last_name) == ("Globex Holdings", "", "")
    assert globex.emails == () and globex.phones == () and globex.company == ""
    assert nameless.remote_id == "client:5"
    assert nameless.full_name == ""


def test_unknown_extra_fields_are_kept_in_raw() -> None:
    (ana,) = contacts("list_contacts_extra_fields.json", "cosigner")
    assert ana.phones == ("+1 212 555 0101",)
    assert ana.raw["cs_custom_42"] == {"nested": [1, 2]}


def test_empty_page() -> None:
    page = parsing.parse_data_page(fixture("list_contacts_empty.json"), table="cosigner")
    assert page.rows == () and page.num_records == 0


@pytest.mark.parametrize(
    "name",
    [
        "list_contacts_html_error.html",
        "list_contacts_truncated.json",
        "list_contacts_wrong_table.json",
    ],
)
def test_unreadable_listings_are_bad_responses(name: str) -> None:
    with pytest.raises(BadResponse):
        parsing.parse_data_page(fixture(name), table="debtor")


def test_row_without_rowid_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="de_rowid"):
        contacts("list_contacts_row_without_rowid.json", "debtor")


def test_listing_error_in_a_200_body_is_rejected() -> None:
    with pytest.raises(Rejected, match="no rights to table debtor"):
        parsing.parse_data_page(fixture("list_contacts_error_in_200.json"), table="debtor")


def test_contact_plans_listing() -> None:
    page = parsing.parse_data_page(fixture("list_plans_success.json"), table="contact_plan")
    assert [row["cp_code"] for row in page.rows] == ["REV", "PRM"]
    assert page.row_id == "cp_rowid"


# -- runplan ---------------------------------------------------------------------------------
def test_runplan_error_in_a_200_body_is_rejected() -> None:
    with pytest.raises(Rejected, match="XYZ does not exist"):
        parsing.parse_runplan(fixture("run_plan_error_in_200.json"))


def test_runplan_html_body_is_a_bad_response() -> None:
    with pytest.raises(BadResponse):
        parsing.parse_runplan(fixture("run_plan_html_page.html"))


def test_runplan_future_body_is_kept() -> None:
    assert parsing.parse_runplan(fixture("run_plan_future_body.json"))["events"] == 2


# -- the Web Socket --------------------------------------------------------------------------
def test_socket_hello() -> None:
    message = parsing.parse_socket_message(fixture("socket_hello.json"))
    assert (message.type, message.websocket_id) == ("hello", "43tzLWO2RJzlxQPpsw4EOA==")


def test_socket_prompt() -> None:
    message = parsing.parse_socket_message(fixture("socket_prompt_start_date.json"))
    assert message.type == "prompt" and message.prompt is not None
    assert message.prompt.prompt_id == "9f1c"
    assert message.prompt.message.startswith("Contact plan PRM")
    assert message.prompt.fields[0]["name"] == "start_date"


def test_socket_prompt_with_one_field_object_and_numeric_id() -> None:
    message = parsing.parse_socket_message(fixture("socket_prompt_single_field.json"))
    assert message.prompt is not None
    assert message.prompt.prompt_id == "17"
    assert [f["name"] for f in message.prompt.fields] == ["confirm"]
    answer = json.loads(parsing.answer_message(message.raw["prompt_id"], {"confirm": True}))
    assert answer == {"type": "answer", "prompt_id": 17, "values": {"confirm": True}}


def test_socket_done_and_unknown_messages() -> None:
    done = parsing.parse_socket_message(fixture("socket_done_failed.json"))
    assert (done.type, done.ok) == ("done", False)
    assert "rolled back" in done.message
    assert parsing.parse_socket_message(fixture("socket_unknown_type.json")).type == "other"
    with pytest.raises(BadResponse):
        parsing.parse_socket_message("not json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("O'Brien, José", ("José", "O'Brien")),
        ("Van der Berg,  Søren ", ("Søren", "Van der Berg")),
        ("Acme Inc", ("", "")),
        ("Smith,", ("", "Smith")),
    ],
)
def test_split_name(name: str, expected: tuple[str, str]) -> None:
    assert parsing.split_name(name) == expected


def test_error_message_reads_the_vendor_error() -> None:
    assert parsing.error_message(b'{"error": "The token has expired."}') == "The token has expired."
    assert parsing.error_message(b"<html>nope</html>") is None
