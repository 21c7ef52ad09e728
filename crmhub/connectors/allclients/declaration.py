"""AllClients as crmhub knows it: connection settings, operations, how the console offers them."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any

from crmhub.connectors.allclients import params
from crmhub.connectors.declarations import Checker, ConsoleAct, Crm, Field, Operation

FORMS = "crmhub.console.forms.allclients"


def _numeric(value: str) -> str:
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:  # int("²") fails
        raise ValueError("Must be a positive whole number (digits only).")
    return value


def _time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"{value!r} is not a known time zone (e.g. America/Chicago).")
    return value


def _checker(operation: str) -> Checker:
    def check(given: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        return params.clean(operation, given)

    return check


def _operation(name: str, label: str, **options: Any) -> Operation:
    return Operation(name, label, check=_checker(name), **options)


CRM = Crm(
    kind="allclients",
    label="AllClients",
    connector="crmhub.connectors.allclients.connector.AllClientsConnector",
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
    operations=(
        _operation(
            "run_action_set",
            "Run action set",
            record_types=("person",),
            bulk=True,
            act=ConsoleAct(
                form=f"{FORMS}.RunActionSetForm",
                not_in_bulk=("identify_method", "identify_value"),
            ),
        ),
        _operation(
            "add_contact_link",
            "Add contact link",
            record_types=("person",),
            bulk=True,
            act=ConsoleAct(label="Add link", form=f"{FORMS}.AddContactLinkForm"),
        ),
        _operation("get_contact", "Show contact", safe=True),
        _operation(
            "get_contact_links",
            "List contact links",
            safe=True,
            # An undocumented read (connector.UNDOCUMENTED): its region on the person page
            # says "not available from this CRM" when the server does not have it.
            act=ConsoleAct(
                label="Links in AllClients",
                button=False,
                read=True,
                form="crmhub.console.forms.base.ReadForm",
            ),
        ),
        _operation("get_categories", "List categories", safe=True, needs_contact=False),
    ),
)
