"""What each kind of connection asks for, as its CRM declares it (``connectors.registry``).

The rest of the product reads CRMs through here: the admin form (settings, secrets,
defaults), the kind choices and labels, the operations an act may ask for, and how
AllClients takes a start time (the console shows the time it will be sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from crmhub.connectors import registry
from crmhub.connectors.allclients.connector import SERVER_TIME_ZONE as ALLCLIENTS_SERVER_TIME_ZONE
from crmhub.connectors.allclients.parsing import format_start
from crmhub.connectors.declarations import (
    ON_CONNECTION,
    ON_CONTACT,
    ConsoleAct,
    Crm,
    Field,
    Operation,
    Param,
)

__all__ = [
    "ALLCLIENTS_SERVER_TIME_ZONE",
    "KINDS",
    "ON_CONNECTION",
    "ON_CONTACT",
    "ConsoleAct",
    "Crm",
    "Field",
    "Kind",
    "Operation",
    "Param",
    "allclients_start_text",
    "kind_choices",
    "kind_label",
    "kind_syncs_incrementally",
    "operation",
    "version",
]

#: A kind of connection is a CRM as it declares itself.
Kind = Crm
#: Every kind by name, as registered now (follows a test's ``register``).
KINDS: Mapping[str, Crm] = registry.CRMS


def kind_choices() -> list[tuple[str, str]]:
    """Return ``(kind, label)`` of every registered CRM, for a choice field."""
    return [(crm.kind, crm.label) for crm in KINDS.values()]


def kind_label(kind: str) -> str:
    """Return the CRM's name for a connection kind ("crmcom" → "CRM.COM")."""
    crm = KINDS.get(kind)
    return crm.label if crm else kind


def kind_syncs_incrementally(kind: str) -> bool:
    """Return whether the CRM lists only what changed since an instant (incremental
    syncs); the others are kept fresh by full passes alone."""
    crm = KINDS.get(kind)
    return bool(crm and crm.supports_incremental)


def operation(kind: str, name: str) -> Operation | None:
    """Return the operation ``name`` that ``kind`` declares (None if it declares none)."""
    crm = KINDS.get(kind)
    return crm.operations_by_name.get(name) if crm else None


def allclients_start_text(moment: datetime) -> str:
    """Return ``moment`` as AllClients is sent it: ``startdatetime``, in US Central Time."""
    return format_start(moment, ALLCLIENTS_SERVER_TIME_ZONE)


def version() -> int:
    """Return a number that changes whenever a kind is registered or unregistered."""
    return registry.version()
