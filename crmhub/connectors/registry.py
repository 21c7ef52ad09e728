"""The CRMs crmhub knows, each declared once in its own package; a kind's connector.

Adding a CRM: write its package (``declaration.py`` with its ``CRM``, its connector) and
name its declaration below. Tests ``register`` a throwaway CRM (or an in-memory connector
in a real kind's place) and ``unregister`` it afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import overload

from crmhub.connectors.allclients.declaration import CRM as ALLCLIENTS
from crmhub.connectors.apptivo.declaration import CRM as APPTIVO
from crmhub.connectors.base import ConnectionSpec, Connector
from crmhub.connectors.collect.declaration import CRM as COLLECT
from crmhub.connectors.crmcom.declaration import CRM as CRMCOM
from crmhub.connectors.declarations import Crm, declared_for

DECLARED: tuple[Crm, ...] = (ALLCLIENTS, APPTIVO, COLLECT, CRMCOM)

_crms: dict[str, Crm] = {crm.kind: crm for crm in DECLARED}
#: Every CRM by kind, as registered now (a read-only view that follows ``register``).
CRMS: Mapping[str, Crm] = MappingProxyType(_crms)
#: What ``register`` replaced, by kind (None: the kind was new), for ``unregister``.
_replaced: dict[str, Crm | None] = {}
_version = 0


def crm(kind: str) -> Crm:
    """Return the CRM registered for ``kind``; raise ``LookupError`` if there is none."""
    try:
        return _crms[kind]
    except KeyError:
        raise LookupError(f"No CRM of kind {kind!r}.") from None


def version() -> int:
    """Return a number that changes whenever a CRM is registered or unregistered."""
    return _version


def connector_class(kind: str) -> type[Connector]:
    """Return the connector class registered for ``kind``."""
    try:
        declared = _crms[kind]
    except KeyError:
        raise LookupError(f"No connector for kind {kind!r}.") from None
    return declared.connector_class()


def get_connector(spec: ConnectionSpec) -> Connector:
    """Return a connector for ``spec``."""
    return connector_class(spec.kind)(spec)


@overload
def register(crm: Crm) -> None: ...
@overload
def register(crm: str, connector: type[Connector]) -> None: ...
def register(crm: Crm | str, connector: type[Connector] | None = None) -> None:
    """Register a CRM, or serve a kind with ``connector`` (tests put in-memory fakes in).

    ``register(kind, connector)`` keeps the kind's declared settings and labels and takes
    the operations and the listing from the connector class.
    """
    global _version
    if isinstance(crm, str):
        if connector is None:
            raise TypeError("register(kind, connector) needs the connector class.")
        crm = declared_for(crm, connector, like=_replaced.get(crm) or _crms.get(crm))
    _replaced.setdefault(crm.kind, _crms.get(crm.kind))
    _crms[crm.kind] = crm
    _version += 1


def unregister(kind: str) -> None:
    """Undo ``register`` of ``kind``: what it replaced comes back (a new kind goes)."""
    global _version
    if kind not in _replaced:
        return
    previous = _replaced.pop(kind)
    if previous is None:
        _crms.pop(kind, None)
    else:
        _crms[kind] = previous
    _version += 1
