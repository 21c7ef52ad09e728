from __future__ import annotations

from celery import shared_task


@shared_task(name="crmhub.connections.tasks.connection_check", acks_late=True)
def connection_check(connection_id: int) -> str | None:
    """Check one connection's credentials and record its health."""
    from crmhub.connections.models import Connection
    from crmhub.connections.services import connection_check as check

    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return None
    return check(connection=connection)
