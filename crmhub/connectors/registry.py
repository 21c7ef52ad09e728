"""Map a connection kind to its connector class."""

from __future__ import annotations

from importlib import import_module

from crmhub.connectors.base import ConnectionSpec, Connector

KINDS: dict[str, str] = {
    "allclients": "crmhub.connectors.allclients.connector.AllClientsConnector",
    "apptivo": "crmhub.connectors.apptivo.connector.ApptivoConnector",
    "collect": "crmhub.connectors.collect.connector.CollectConnector",
    "crmcom": "crmhub.connectors.crmcom.connector.CrmComConnector",
}
_overrides: dict[str, type[Connector]] = {}


def connector_class(kind: str) -> type[Connector]:
    """Return the connector class registered for ``kind``."""
    if kind in _overrides:
        return _overrides[kind]
    try:
        dotted = KINDS[kind]
    except KeyError:
        raise LookupError(f"No connector for kind {kind!r}.") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def get_connector(spec: ConnectionSpec) -> Connector:
    """Return a connector for ``spec``."""
    return connector_class(spec.kind)(spec)


def register(kind: str, cls: type[Connector]) -> None:
    """Register ``cls`` for ``kind`` (tests register an in-memory fake this way)."""
    _overrides[kind] = cls


def unregister(kind: str) -> None:
    _overrides.pop(kind, None)
