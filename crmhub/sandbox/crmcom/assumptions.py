"""Everything the simulated CRM.COM decides where the vendor documents are silent.

The documents (``seeds/crmcom-communications.txt``, ``spec/public-facts.md`` §4) fix the
methods, their parameters and which are mandatory or semi-optional, the envelope
``{"status": {"code", "message", "description"}, "data"}``, identifier objects in POST
bodies, the life cycle rules of communications and of the queue, the R13 paging and the
token's lifetime. Every other choice of this simulator is named here, in this one
constant, so that correcting it against a real server is a one-line change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(values: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(values)


@dataclass(frozen=True)
class Assumptions:
    #: Error codes of the envelope (no list is published; every error is HTTP 200).
    error_codes: Mapping[str, str] = field(
        default_factory=lambda: _frozen(
            {
                "invalid_token": "INVALID_TOKEN",
                "authentication_failed": "AUTHENTICATION_FAILED",
                "missing": "MISSING_MANDATORY_PARAMETER",
                "invalid": "INVALID_PARAMETER",
                "not_found": "NOT_FOUND",
                "life_cycle": "INVALID_LIFE_CYCLE_STATE",
                "malformed": "MALFORMED_REQUEST",
            }
        )
    )
    #: Lengths the documents leave open (a longer value is refused, not trimmed).
    max_lengths: Mapping[str, int] = field(
        default_factory=lambda: _frozen(
            {
                "subject": 255,
                "to": 255,
                "notes": 4000,
                "content": 10000,
                "udf_string": 255,
                "error_code": 50,
                "error_description": 255,
                "identifier": 255,
            }
        )
    )
    #: The largest ``number_of_results``: a bigger one is refused naming it, never cut.
    max_results: int = 1000
    #: ``number_of_results`` when a list call gives none.
    default_results: int = 50
    #: In a GET query string an identifier is written ``name_identifier=field=value`` (the
    #: documents print no GET request). POST bodies take identifier objects only, as every
    #: POST example writes them (``{"number": "CM000680"}``).
    get_identifier_separator: str = "="
    #: The identifier fields each object accepts (the documents' tables are not printed).
    identifier_fields: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: _frozen(
            {
                "contact": (
                    "id",
                    "number",
                    "id_number",
                    "passport_number",
                    "social_security_number",
                    "vat_registration_number",
                    "registration_number",
                ),
                "communication": ("id", "number"),
                "queue": ("id", "number"),
                "template": ("id", "name", "alternative_code"),
                "category": ("id", "name", "code"),
                "external_system": ("id", "name", "alternative_code"),
                "group": ("id", "name", "alternative_code"),
                "privacy_level": ("id", "name", "number"),
                "unrestricted_parameter": ("id", "name", "key"),
            }
        )
    )
    #: Object numbers: prefix + six digits (the samples show both ``CM000680`` and bare
    #: numbers such as ``41``; queue entries are bare).
    number_prefixes: Mapping[str, str] = field(
        default_factory=lambda: _frozen({"contact": "CI", "communication": "CM", "queue": ""})
    )
    #: A parameter a method does not document is refused (INVALID_PARAMETER), so a misspelt
    #: name shows instead of being ignored.
    unknown_parameters_refused: bool = True
    #: EMAIL and SMS communications are queued (both queue settings are on) when they are
    #: COMPLETED, drafts only once completed; any media naming an external system too.
    queued_media: tuple[str, ...] = ("EMAIL", "SMS")
    #: Queue entries are processed or rejected from PENDING only (removing, from PENDING
    #: or COMPLETED, is documented).
    process_from: tuple[str, ...] = ("PENDING",)
    #: ``communications/update`` without ``life_cycle_state`` keeps the state (the
    #: document's text, copied from create, says "created as COMPLETED").
    update_keeps_state: bool = True
    #: direction, media, subject and content cannot be cleared by an update (sent as
    #: null), though "fields specified as null will be set as null": they are mandatory.
    uncleared_fields: tuple[str, ...] = ("direction", "media", "subject", "content")
    #: ``viewed_on`` is written as the samples' Java date, in UTC (a sample shows EEST).
    viewed_on_zone: str = "UTC"
    #: A contact's ``name`` is "first last" (one sample shows "Clark Kathy", others null).
    name_order: str = "first last"
    #: ``fields_set`` keeps top-level fields only.
    fields_set_depth: int = 1
    #: The sender of EMAIL communications.
    sender: str = "info@sandbox.crmhub.test"
    #: Methods no document describes: ``contact_information/list`` pages contacts with
    #: ``number_of_results``/``offset`` (spec README, point 5). With the
    #: ``hide_undocumented`` fault each answers 404 with an HTML page, as the servlet
    #: container of a server without it would.
    undocumented_methods: tuple[str, ...] = ("contact_information/list",)
    missing_page: bytes = (
        b'<!doctype html><html lang="en"><head><title>HTTP Status 404 - Not Found</title>'
        b"</head><body><h1>HTTP Status 404 - Not Found</h1></body></html>"
    )


ASSUMPTIONS = Assumptions()
