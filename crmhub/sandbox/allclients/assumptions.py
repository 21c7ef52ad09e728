"""Everything the simulated AllClients decides where the vendor documents are silent.

The documents (``seeds/allclients-*.txt``, ``spec/public-facts.md`` §1) fix the form
fields, the max lengths that trim instead of failing, the identify methods, the start
time format and zone, the ``<results><error>`` failure shape and one error text
("Authentication failed"). Every other choice of this simulator is named here, in this
one constant, so that correcting it against a real account is a one-line change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Assumptions:
    #: The account's time zone when none is set (dates are shown in it; the documents say
    #: only that it is an account setting; the spec chose Central, the vendor's own zone).
    default_time_zone: str = "America/Chicago"
    #: How long an unpaged GetContacts waits before answering (documented: "will be
    #: delayed", without a length).
    unpaged_delay_seconds: float = 1.0
    #: The most contacts one GetContacts answer holds, paged or not. No document states a
    #: cap; this one only keeps a runaway call from building a huge answer, and asking for
    #: more is refused with ``too_many_contacts`` (never cut silently).
    max_contacts_per_answer: int = 100_000
    #: The four phone fields GetContacts' ``phone`` filter searches (documented: "all 4
    #: contact phone number fields", unnamed). Seeded contacts have ``phone`` only.
    phone_fields: tuple[str, ...] = ("phone", "phone2", "phone3", "phone4")
    #: Phones match on their digits (formatting ignored, a leading NANP "1" of an 11-digit
    #: number dropped); ``*`` at the start or end is a wildcard (documented for email and
    #: phone; applied to the other text filters too).
    phone_match: str = "digits"
    #: Text filters (email, otheremail, firstname, lastname, company) ignore case and
    #: surrounding spaces.
    text_filters: tuple[str, ...] = ("email", "otheremail", "firstname", "lastname", "company")
    #: Documented GetContacts filters this simulator does not implement: refused with
    #: ``unsupported_filter`` (never ignored, which would answer every contact).
    unsupported_filters: tuple[str, ...] = (
        "categoryid",
        "category2id",
        "flagid",
        "sourceid",
        "othersystemid",
        "clienttouch",
        "adddateafter",
        "getcategories",
        "otherfirstname",
        "otherlastname",
        "address",
        "city",
        "state",
        "postalcode",
    )
    #: Contacts carry an email opt-in state (the RunActionSet document needs "a valid,
    #: opted-in email address" for Email actions; no document shows the field, so it is
    #: not part of a GetContacts answer). A contact stored without one is opted in.
    opted_in_field: str = "opted_in"
    #: A GET is answered 405 (the documents say "http form post" only).
    get_status: int = 405
    #: ``response_type`` is compared without case and surrounding spaces.
    response_type_json: str = "json"
    #: ``GetContactLinks`` exists and answers ``<links><link><id>, <url>, <label>,
    #: <adddate>`` (no document describes it; with the ``hide_undocumented`` fault it
    #: answers like a missing page: HTTP 404 with an HTML body, as IIS does).
    undocumented_methods: tuple[str, ...] = ("GetContactLinks",)
    missing_page: bytes = (
        b"<!DOCTYPE html><html><head><title>The resource cannot be found.</title></head>"
        b"<body><h1>Server Error in '/' Application.</h1>"
        b"<h2><i>The resource cannot be found.</i></h2></body></html>"
    )
    #: The error texts (only "Authentication failed" is documented).
    errors: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(
            {
                "not_numeric": "{name} must be numeric",
                "unknown_field": "Unknown field '{name}'",
                "unsupported_filter": "Filter '{name}' is not supported by this simulator",
                "too_many_contacts": (
                    "GetContacts answers at most {limit} contacts per call (simulator "
                    "limit); use pagingsize and pagingoffset"
                ),
                "contact_required": "contactid is required",
                "contact_not_found": "Contact not found",
                "team_member_not_found": "Team Member not found",
                "action_set_required": "actionsetid or actionsetname is required",
                "action_set_not_found": "Action Set not found",
                "invalid_identify_method": "Invalid identifymethod",
                "identify_value_required": "identifyvalue is required",
                "identify_value_integer": "identifyvalue must be an integer",
                "identify_value_email": "identifyvalue must be an email address",
                "not_opted_in": "Contact does not have a valid, opted-in email address",
                "invalid_start": "Invalid startdatetime",
                "url_required": "url is required",
                "url_scheme": "url must start with https:// or http://",
                "label_required": "label is required",
            }
        )
    )


ASSUMPTIONS = Assumptions()


def error_text(key: str, **values: object) -> str:
    """Return the assumed error text ``key`` with ``values`` filled in."""
    return ASSUMPTIONS.errors[key].format(**values)
