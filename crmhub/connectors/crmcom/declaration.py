"""CRM.COM as crmhub knows it: connection settings, operations, how the console offers them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmhub.connectors.crmcom import rules
from crmhub.connectors.declarations import (
    ON_CONNECTION,
    Checker,
    ConsoleAct,
    Crm,
    Field,
    Operation,
)

FORMS = "crmhub.console.forms"


def _release(value: str) -> str:
    parts = value.removeprefix("R").split(".")
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError("Give the CRM.COM release as numbers, e.g. 14 or 13.2.")
    return value.removeprefix("R")


def _checker(operation: str) -> Checker:
    """Return the checker of ``operation``: the documented rules of the connection's release."""

    def check(given: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        return rules.clean(operation, given, release=rules.release_of(settings))

    return check


def _operation(name: str, label: str, **options: Any) -> Operation:
    options.setdefault("needs_contact", False)
    return Operation(name, label, check=_checker(name), **options)


def _read(label: str, *, on: str = "contact") -> ConsoleAct:
    return ConsoleAct(label=label, on=on, button=False, read=True, form=f"{FORMS}.base.ReadForm")


def _queue_act(label: str, form: str, *, confirm: str = "") -> ConsoleAct:
    return ConsoleAct(
        label=label, on=ON_CONNECTION, button=False, confirm=confirm, form=f"{FORMS}.crmcom.{form}"
    )


_COMMUNICATION_REF = f"{FORMS}.crmcom.CommunicationRefForm"

CRM = Crm(
    kind="crmcom",
    label="CRM.COM",
    connector="crmhub.connectors.crmcom.connector.CrmComConnector",
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
            default=rules.DEFAULT_RELEASE,
            help_text="CRM.COM release, e.g. 14.",
            clean=_release,
        ),
    ),
    operations=(
        _operation(
            "communication_create",
            "Create a communication",
            needs_contact=True,
            bulk=True,
            act=ConsoleAct(
                label="Compose communication",
                not_in_bulk=("to",),
                form=f"{FORMS}.crmcom.CommunicationCreateForm",
            ),
        ),
        _operation("communication_update", "Update a draft communication"),
        _operation(
            "communication_complete",
            "Complete a draft communication",
            act=ConsoleAct(label="Complete", button=False, form=_COMMUNICATION_REF),
        ),
        _operation(
            "communication_set_as_viewed",
            "Set a communication as viewed",
            act=ConsoleAct(label="Mark viewed", button=False, form=_COMMUNICATION_REF),
        ),
        _operation(
            "queue_process",
            "Process a queue entry",
            act=_queue_act("Process", "QueueEntryForm"),
        ),
        _operation(
            "queue_reject",
            "Reject a queue entry",
            act=_queue_act("Reject", "QueueRejectForm"),
        ),
        _operation(
            "queue_remove",
            "Complete and remove a queue entry",
            act=_queue_act("Remove", "QueueEntryForm", confirm="Remove this entry from the queue?"),
        ),
        _operation(
            "communications_list",
            "List communications",
            safe=True,
            needs_contact=True,
            act=_read("Refresh communications"),
        ),
        _operation("communication_show", "Show a communication", safe=True),
        _operation(
            "queue_list",
            "List the communication queue",
            safe=True,
            act=_read("Refresh queue", on=ON_CONNECTION),
        ),
        _operation("queue_get_latest", "Latest pending queue entries", safe=True),
        _operation("queue_get_pending_completed", "Queue entries pending to be viewed", safe=True),
        _operation("queue_show", "Show a queue entry", safe=True),
        _operation("contact_show", "Show the contact", safe=True, needs_contact=True),
    ),
)
