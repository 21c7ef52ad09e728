"""Collect! as crmhub knows it: connection settings, operations, how the console offers them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crmhub.connectors.collect import params
from crmhub.connectors.collect.params import RECORD_TYPES
from crmhub.connectors.declarations import (
    ON_CONNECTION,
    Checker,
    ConsoleAct,
    Crm,
    Field,
    Operation,
)

DEFAULT_WEBSOCKET_PATH = "/api/v1/ws"


def websocket_url(base_url: str, path: str) -> str:
    """Return ``ws(s)://<host><path>`` for a server whose API lives at ``base_url``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path if path.startswith('/') else '/' + path}"


def addresses(base_url: str, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """Return what a Collect! connection opens: its base URL and its Web Socket."""
    path = str(settings.get("websocket_path") or DEFAULT_WEBSOCKET_PATH)
    try:
        return (base_url, websocket_url(base_url, path))
    except ValueError:  # not a URL: the base URL's check says so
        return (base_url,)


def _ws_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("The Web Socket path starts with '/', e.g. /api/v1/ws.")
    # Only a path on the connection's own host: nothing that could name another host or
    # break the request line (the socket opens on the base URL's host, checked like it).
    odd = any(ch in "\\@?#" or ch.isspace() or not ch.isprintable() for ch in value)
    if value.startswith("//") or odd:
        raise ValueError("Give only a path on the server, e.g. /api/v1/ws.")
    return value


def _checker(operation: str) -> Checker:
    def check(given: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        return params.clean(operation, given)

    return check


CRM = Crm(
    kind="collect",
    label="Collect!",
    connector="crmhub.connectors.collect.connector.CollectConnector",
    default_base_url="https://collect.example.com/api/v1/",
    record_types=RECORD_TYPES,
    fields=(
        Field("operator_id", "Operator ID", max_length=40),
        Field("password", "Operator password", secret=True),
        Field(
            "database",
            "Database",
            default="cv_masterdb",
            help_text="Sent as x-collect-database (e.g. cv_masterdb).",
        ),
        Field("websocket_path", "Web Socket path", default=DEFAULT_WEBSOCKET_PATH, clean=_ws_path),
        Field(
            params.PROMPTING_PLANS,
            "Plans that prompt",
            required=False,
            help_text="Codes of the contact plans that ask the operator something, "
            "comma-separated (e.g. PRM, DEL). They run one contact at a time, never in bulk.",
            max_length=500,
            clean=params.plan_codes_clean,
        ),
        Field(
            params.QUIET_PLANS,
            "Plans that never prompt",
            required=False,
            help_text="Codes of the plans that never ask anything (e.g. REV). Only these "
            "run in bulk: a plan in neither list is treated as one that prompts.",
            max_length=500,
            clean=params.plan_codes_clean,
        ),
    ),
    addresses=addresses,
    operations=(
        Operation(
            "run_plan",
            "Run a contact plan",
            record_types=RECORD_TYPES,
            check=_checker("run_plan"),
            prompts=params.run_plan_prompts,
            bulk=True,
            act=ConsoleAct(
                label="Run plan",
                form="crmhub.console.forms.collect.RunPlanForm",
            ),
        ),
        Operation(
            "show_record",
            "Show the Collect! record",
            safe=True,
            record_types=RECORD_TYPES,
            check=_checker("show_record"),
        ),
        Operation(
            "list_plans",
            "List contact plans",
            safe=True,
            needs_contact=False,
            check=_checker("list_plans"),
            # An undocumented read (connector.UNDOCUMENTED): the run-plan form's plan field
            # offers its codes (and refuses others), or says "not available from this CRM"
            # and takes any code typed (console.pickers, actions.choices).
            act=ConsoleAct(
                label="Load the contact plans",
                on=ON_CONNECTION,
                button=False,
                read=True,
                form="crmhub.console.forms.base.ReadForm",
            ),
        ),
    ),
)
