"""Rules for connections: saving settings and secrets, checking health."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from crmhub.celery import app
from crmhub.connections.models import Connection, Health
from crmhub.connectors import errors
from crmhub.connectors.registry import get_connector
from crmhub.core import redaction
from crmhub.core.crypto import DecryptionError

logger = logging.getLogger(__name__)

#: The task that checks a connection, published by name (``connections.tasks`` calls this).
CHECK_TASK = "crmhub.connections.tasks.connection_check"


def connection_check_request(*, connection: Connection) -> None:
    """Queue a credentials check of ``connection`` (runs in a worker, after commit)."""
    connection_id = connection.pk
    transaction.on_commit(lambda: app.send_task(CHECK_TASK, args=[connection_id]))


def health_for_error(error: Exception) -> str:
    """Return the health state a failed remote call puts a connection in."""
    if isinstance(error, errors.AuthFailed | DecryptionError):
        return Health.AUTH_FAILED
    if isinstance(error, errors.Unavailable | errors.BlockedAddress | errors.RateLimited):
        return Health.UNREACHABLE
    return Health.ERROR


def connection_check(*, connection: Connection) -> str:
    """Make one cheap authenticated call to the remote and record the connection's health.

    Never raises for a remote failure: the reason goes into ``health_error`` (secrets
    masked by the connector) and the state says what went wrong.
    """
    error: Exception | None = None
    try:
        connector = get_connector(connection.spec())
        try:
            connector.check_credentials()
        finally:
            connector.close()
    except (errors.ConnectorError, DecryptionError) as exc:
        error = exc
    if error is not None:
        logger.info("connection %s check failed: %s", connection.pk, error)
    fields = health_fields(error)
    Connection.objects.filter(pk=connection.pk).update(**fields)
    return str(fields["health"])


def health_fields(error: Exception | None) -> dict[str, Any]:
    """Return the connection fields that record a check's (or a sync's) outcome, now."""
    fields: dict[str, Any] = {"health_checked_at": timezone.now()}
    if error is None:
        fields.update(health=Health.OK, health_error="")
    else:  # a remote may echo the credential in its error text
        message = redaction.redact_text(str(error))[:1000]
        fields.update(health=health_for_error(error), health_error=message)
    return fields


def connection_save(
    *, connection: Connection, settings: dict[str, str], new_secrets: dict[str, str]
) -> Connection:
    """Save ``connection`` with its kind's settings; replace only the secrets given.

    A changed base URL, settings or secret resets the health to "unknown" until the next
    check.
    """
    merged = connection.get_secrets() if connection.pk and connection.secrets_ciphertext else {}
    changed = bool(new_secrets) or (connection.settings or {}) != settings
    merged.update(new_secrets)
    connection.settings = settings
    connection.set_secrets(merged)
    if changed:
        connection.health = Health.UNKNOWN
        connection.health_error = ""
    connection.save()
    return connection
