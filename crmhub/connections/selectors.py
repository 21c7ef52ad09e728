"""Read connections (for the console, the forms and the services)."""

from __future__ import annotations

from django.db.models import QuerySet

from crmhub.connections.models import Connection


def connection_list(*, active: bool | None = None, kind: str = "") -> QuerySet[Connection]:
    """Return the connections by name (only the switched-on ones with ``active=True``, only
    those of one CRM with ``kind``)."""
    connections = Connection.objects.order_by("name")
    if active is not None:
        connections = connections.filter(is_active=active)
    if kind:
        connections = connections.filter(kind=kind)
    return connections


def connection_detail(*, pk: int, active: bool | None = None) -> Connection | None:
    """Return connection ``pk`` (only if switched on, with ``active=True``), or None."""
    return connection_list(active=active).filter(pk=pk).first()


def connections_with_unreadable_secrets() -> list[Connection]:
    """Return the connections whose stored credentials the current field keys cannot decrypt."""
    stored = Connection.objects.exclude(secrets_ciphertext="").order_by("pk")
    return [connection for connection in stored.iterator() if not connection.secrets_readable()]
