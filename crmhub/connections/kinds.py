"""What each kind of connection asks for: its settings, its secrets, its defaults."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError


def _numeric(value: str) -> str:
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:  # int("²") fails
        raise ValidationError("Must be a positive whole number (digits only).")
    return value


def _time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. America/Chicago).")
    return value


def _release(value: str) -> str:
    parts = value.removeprefix("R").split(".")
    if not parts or not all(p.isdigit() for p in parts):
        raise ValidationError("Give the CRM.COM release as numbers, e.g. 14 or 13.2.")
    return value.removeprefix("R")


def _ws_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValidationError("The Web Socket path starts with '/', e.g. /api/v1/ws.")
    # Only a path on the connection's own host: nothing that could name another host or
    # break the request line (the socket opens on the base URL's host, checked like it).
    odd = any(ch in "\\@?#" or ch.isspace() or not ch.isprintable() for ch in value)
    if value.startswith("//") or odd:
        raise ValidationError("Give only a path on the server, e.g. /api/v1/ws.")
    return value


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""
    help_text: str = ""
    max_length: int = 200
    clean: Callable[[str], str] | None = None


@dataclass(frozen=True)
class Kind:
    value: str
    label: str
    fields: tuple[Field, ...]
    default_base_url: str
    default_rate_limit: float = 5.0
    record_types: tuple[str, ...] = field(default=())

    @property
    def setting_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.secret)

    @property
    def secret_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.secret)


KINDS: dict[str, Kind] = {
    "allclients": Kind(
        value="allclients",
        label="AllClients",
        default_base_url="https://www.allclients.com/api/2/",
        record_types=("person",),
        fields=(
            Field(
                "account_id",
                "Account ID",
                help_text="Numeric, from Settings > API Settings.",
                max_length=20,
                clean=_numeric,
            ),
            Field("api_key", "API key", secret=True),
            Field(
                "time_zone",
                "Account time zone",
                default="America/Chicago",
                help_text="The account's time zone in AllClients; dates are read and sent in it.",
                clean=_time_zone,
            ),
        ),
    ),
    "apptivo": Kind(
        value="apptivo",
        label="Apptivo",
        default_base_url="https://api.apptivo.com/app/dao/v6/",
        default_rate_limit=1.0,
        record_types=("customer",),
        fields=(
            Field("api_key", "API key", secret=True),
            Field("access_key", "Access key", secret=True),
        ),
    ),
    "collect": Kind(
        value="collect",
        label="Collect!",
        default_base_url="https://collect.example.com/api/v1/",
        record_types=("debtor", "client", "cosigner", "associate"),
        fields=(
            Field("operator_id", "Operator ID", max_length=40),
            Field("password", "Operator password", secret=True),
            Field(
                "database",
                "Database",
                default="cv_masterdb",
                help_text="Sent as x-collect-database (e.g. cv_masterdb).",
            ),
            Field("websocket_path", "Web Socket path", default="/api/v1/ws", clean=_ws_path),
        ),
    ),
    "crmcom": Kind(
        value="crmcom",
        label="CRM.COM",
        default_base_url="https://crm.example.com/crmapi/rest/v2/",
        record_types=("person", "company"),
        fields=(
            Field("username", "Username"),
            Field("password", "Password", secret=True),
            Field("organisation", "Organisation"),
            Field("unit", "Unit", required=False),
            Field(
                "release",
                "Release",
                default="14",
                help_text="CRM.COM release, e.g. 14.",
                clean=_release,
            ),
        ),
    ),
}

KIND_CHOICES = [(kind.value, kind.label) for kind in KINDS.values()]
