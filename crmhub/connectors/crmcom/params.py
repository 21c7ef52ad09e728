"""Validation of the CRM.COM operations' parameters, before anything is sent.

Parameter names are crmhub's (``contact_remote_id``, ``template``, ``communication``...);
``connector.py`` turns them into the vendor's (``contact_information_identifier``...).
An identifier parameter takes a string or an object with exactly one identifier field:
a string names a template, category, external system, group or privacy level by its
``name``, and a communication or queue entry by its ``id`` (32 hex digits) or ``number``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from crmhub.connectors.errors import InvalidParams

# -- decisions where the documents are silent (mirrored by the sandbox) ---------------------
#: Field lengths the documents do not print.
MAX_LENGTHS = {
    "subject": 255,
    "to": 255,
    "notes": 4000,
    "content": 10000,
    "udf_string": 255,
    "error_code": 50,
    "error_description": 255,
}
#: The largest page a list call asks for.
MAX_RESULTS = 1000
#: The identifier fields each object accepts (the identifier tables are not printed).
IDENTIFIER_FIELDS = {
    "template": ("id", "name", "alternative_code"),
    "category": ("id", "name", "code"),
    "communication_queue_external_system": ("id", "name", "alternative_code"),
    "owned_by_group": ("id", "name", "alternative_code"),
    "privacy_level": ("id", "name", "number"),
    "communication": ("id", "number"),
    "queue_entry": ("id", "number"),
    "unrestricted_parameter": ("id", "name", "key"),
}

DIRECTIONS = ("INCOMING", "OUTGOING")
MEDIA = ("EMAIL", "SMS", "PHONE", "LETTER", "FACE_TO_FACE")
LIFE_CYCLE_STATES = ("DRAFT", "COMPLETED")
QUEUE_STATES = ("PENDING", "REJECTED", "COMPLETED", "COMPLETED_AND_REMOVED")
PARAMETER_TYPES = ("STRING", "FLOAT", "DATE", "INTEGER")
REFERRING_ENTITIES = (
    "payment_gateway_card",
    "service_request",
    "payment",
    "bill",
    "notification",
    "activity",
    "spend_reward_transaction",
    "award_reward_transaction",
    "buy_in_advance_request",
    "accounts_receivable",
    "communication",
    "rewards_participant",
    "payment_gateway_request",
    "lead",
    "subscription",
    "job",
)
UDF_FIELDS = (
    *(f"udf_string_{i}" for i in range(1, 9)),
    *(f"udf_float_{i}" for i in range(1, 5)),
    *(f"udf_date_{i}" for i in range(1, 5)),
)
LINKS = ("template", "category", "communication_queue_external_system", "owned_by_group")
LINKS_ALL = (*LINKS, "privacy_level")
#: May be cleared (sent as null) by communication_update.
CLEARABLE = {"to", "notes", *LINKS_ALL[1:], *UDF_FIELDS, "referring_to"}
REQUIRED = "This field is required."
_HEX_ID = re.compile(r"^[0-9A-Fa-f]{32}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

Errors = dict[str, list[str]]


class Checker:
    """Collect cleaned values and error messages for one operation's parameters."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.errors: Errors = {}
        self.cleaned: dict[str, Any] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def given(self, name: str) -> bool:
        value = self.params.get(name)
        return not (value is None or (isinstance(value, str) and not value.strip()))

    def cleared(self, name: str) -> bool:
        return name in self.params and not self.given(name)

    def text(self, name: str, *, required: bool = False, limit: str | None = None) -> None:
        if not self.given(name):
            if required:
                self.fail(name, REQUIRED)
            return
        value = self.params[name]
        if not isinstance(value, str):
            self.fail(name, "Give text.")
            return
        most = MAX_LENGTHS.get(limit or name)
        if most is not None and len(value) > most:
            self.fail(name, f"At most {most} characters (this has {len(value)}).")
            return
        self.cleaned[name] = value

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = False) -> None:
        if not self.given(name):
            if required:
                self.fail(name, REQUIRED)
            return
        value = str(self.params[name]).strip().upper()
        if value not in options:
            self.fail(name, f"Choose one of {', '.join(options)}.")
            return
        self.cleaned[name] = value

    def whole(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> None:
        if not self.given(name):
            return
        value = self.params[name]
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit():
            self.fail(name, "Give a whole number.")
            return
        number = int(text)
        if number < minimum or (maximum is not None and number > maximum):
            top = f" to {maximum}" if maximum is not None else " or more"
            self.fail(name, f"Give a whole number from {minimum}{top}.")
            return
        self.cleaned[name] = number

    def identifier(self, name: str, *, kind: str | None = None, required: bool = False) -> None:
        """Clean an identifier parameter into ``{field: value}``."""
        if not self.given(name):
            if required:
                self.fail(name, REQUIRED)
            return
        fields = IDENTIFIER_FIELDS[kind or name]
        value = self.params[name]
        if isinstance(value, str):
            value = value.strip()
            default = "name" if "name" in fields else ("id" if _HEX_ID.match(value) else "number")
            self.cleaned[name] = {default: value.upper() if default == "id" else value}
            return
        if isinstance(value, Mapping):
            pairs = [(k, v) for k, v in value.items() if v not in (None, "")]
            if len(pairs) == 1 and pairs[0][0] in fields and isinstance(pairs[0][1], str | int):
                self.cleaned[name] = {pairs[0][0]: str(pairs[0][1]).strip()}
                return
        self.fail(name, f"Give a name or exactly one of {', '.join(fields)}.")

    def contact(self, *, required: bool) -> None:
        """Clean ``contact_remote_id`` (the contact's CRM.COM id, as the index holds it)."""
        if not self.given("contact_remote_id"):
            if required:
                self.fail("contact_remote_id", REQUIRED)
            return
        value = self.params["contact_remote_id"]
        if not isinstance(value, str):
            self.fail("contact_remote_id", "Give the contact's CRM.COM id.")
            return
        self.cleaned["contact_remote_id"] = value.strip()

    def fields_set(self) -> None:
        if not self.given("fields_set"):
            return
        value = self.params["fields_set"]
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            self.fail("fields_set", "Give field names separated by commas.")
            return
        names = [n.strip() for n in names if n.strip()]
        if not names or not all(_FIELD_NAME.match(n) for n in names):
            self.fail("fields_set", "Give field names (lower case, digits, _) separated by commas.")
            return
        self.cleaned["fields_set"] = ",".join(names)

    def date(self, name: str) -> None:
        if not self.given(name):
            return
        value = self.params[name]
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M"):
            try:
                moment = datetime.strptime(str(value).strip(), fmt)
            except ValueError:
                continue
            self.cleaned[name] = moment.strftime("%Y-%m-%dT%H:%M:%S")
            return
        self.fail(name, "Give a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.")

    def number(self, name: str) -> None:
        if not self.given(name):
            return
        value = self.params[name]
        try:
            if isinstance(value, bool):
                raise ValueError
            self.cleaned[name] = float(value)
        except (TypeError, ValueError):
            self.fail(name, "Give a number.")

    def result(self, allowed: set[str]) -> dict[str, Any]:
        for name in sorted(set(self.params) - allowed - {"contact_remote_id"}):
            self.fail(name, "Unknown parameter for this operation.")
        if self.errors:
            raise InvalidParams(self.errors)
        return self.cleaned


Cleaner = Callable[[Checker], set[str]]
