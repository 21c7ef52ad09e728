"""Celery tasks of connections: thin wrappers taking ids (JSON), calling services."""

from __future__ import annotations

from celery import shared_task

from crmhub.connections import services
from crmhub.connections.models import Connection


@shared_task(name="crmhub.connections.tasks.connection_check", acks_late=True)
def connection_check(connection_id: int) -> str | None:
    """Check one connection's credentials and record its health."""
    if not services.connection_check_claim(connection_id=connection_id):
        return None  # another copy of the message ran it already
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return None
    return services.connection_check(connection=connection)
