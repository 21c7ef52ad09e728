"""Rules for connections: saving settings and secrets, checking health."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crmhub.actions.ratelimit import RequestPacer
from crmhub.actions.services import connection_work_cancel
from crmhub.celery import app
from crmhub.connections.addresses import address_changed
from crmhub.connections.models import Connection, Health
from crmhub.connectors import errors
from crmhub.connectors.registry import get_connector
from crmhub.core import publishing, redaction
from crmhub.core.crypto import DecryptionError

logger = logging.getLogger(__name__)

#: The task that checks a connection, published by name (``connections.tasks`` calls this).
CHECK_TASK = "crmhub.connections.tasks.connection_check"


def connection_check_request(*, connection: Connection) -> None:
    """Queue a credentials check of ``connection`` (runs in a worker, after commit).

    The request is recorded on the row first (``check_requested_at``): when the broker is
    down, the sweeper publishes it once the broker is back (``connection_checks_republish``).
    """
    connection_id = connection.pk
    Connection.objects.filter(pk=connection_id).update(check_requested_at=timezone.now())
    transaction.on_commit(lambda: _check_publish(connection_id))


def _check_publish(connection_id: int) -> bool:
    return publishing.publish_or_defer(
        lambda: app.send_task(CHECK_TASK, args=[connection_id]),
        what=f"check of connection {connection_id}",
    )


#: How long the admin's "Test connection" waits for the worker's answer before it says so.
CHECK_WAIT_SECONDS = 10.0


def connection_checks_wait(
    *,
    connection_ids: Iterable[int],
    since: datetime,
    timeout: float = CHECK_WAIT_SECONDS,
    poll: float = 0.25,
) -> dict[int, Connection]:
    """Wait up to ``timeout`` seconds for the checks asked at ``since`` to be answered;
    return the connections whose check has been, by id (the others: no answer yet).

    Inside a transaction nothing is waited for: the checks are sent once it commits.
    """
    ids = list(connection_ids)
    deadline = time.monotonic() + (0 if transaction.get_connection().in_atomic_block else timeout)
    while True:
        answered = Connection.objects.filter(pk__in=ids, health_checked_at__gte=since)
        found = {connection.pk: connection for connection in answered}
        if len(found) == len(ids) or time.monotonic() >= deadline:
            return found
        time.sleep(poll)


def connection_check_claim(*, connection_id: int) -> bool:
    """Take a requested check for this worker; False if another delivery already ran it."""
    claimed = Connection.objects.filter(pk=connection_id, check_requested_at__isnull=False).update(
        check_requested_at=None
    )
    return bool(claimed)


def connection_checks_republish(*, now: datetime | None = None) -> int:
    """Publish again the checks requested but not run for a while (the broker was down)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CRMHUB_ACTION_REPUBLISH_SECONDS)
    waiting = Connection.objects.filter(check_requested_at__lt=cutoff)
    published = 0
    for connection_id in waiting.values_list("pk", flat=True):
        Connection.objects.filter(pk=connection_id).update(check_requested_at=now)
        published += _check_publish(connection_id)
    return published


def health_for_error(error: Exception) -> str:
    """Return the health state a failed remote call puts a connection in."""
    if isinstance(error, errors.AuthFailed | DecryptionError):
        return Health.AUTH_FAILED
    if isinstance(error, errors.Unavailable | errors.BlockedAddress | errors.RateLimited):
        return Health.UNREACHABLE
    return Health.ERROR


#: The longest a connection check waits out rate-limit answers before it reports them.
CHECK_MAX_THROTTLE_SECONDS = 30.0


def connection_check(*, connection: Connection) -> str:
    """Make one cheap authenticated call to the remote and record the connection's health.

    Its requests take slots of the connection's rate limit (and count towards its daily
    quota) like those of acts and syncs. Never raises for a remote failure: the reason goes
    into ``health_error`` (secrets masked by the connector) and the state says what went
    wrong.
    """
    error: Exception | None = None
    try:
        connector = get_connector(connection.spec())
        connector.http.pacer = RequestPacer(
            connection, max_throttle=CHECK_MAX_THROTTLE_SECONDS, ahead=0
        )
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


def connection_deactivate(*, connection: Connection, user: Any = None) -> None:
    """Switch ``connection`` off: no more syncs or acts; its history is kept.

    What was waiting to be sent through it (queued actions, running batches) is cancelled,
    with the reason (``user`` is named in it).
    """
    with transaction.atomic():
        switched = Connection.objects.filter(pk=connection.pk, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
        connection.is_active = False
        if switched:
            _work_cancel(connection, user)
    logger.info("connection %s deactivated", connection.pk)


def _work_cancel(connection: Connection, user: Any) -> None:
    """Cancel what was waiting to be sent through a connection just switched off."""
    who = getattr(user, "get_username", lambda: "")() or "an admin"
    reason = f"the connection {connection.name} was deactivated by {who}."
    connection_work_cancel(connection=connection, reason=reason, user=user)


def connection_save(
    *,
    connection: Connection,
    settings: dict[str, str],
    new_secrets: dict[str, str],
    may_allow_private: bool = True,
    user: Any = None,
) -> Connection:
    """Save ``connection`` with its kind's settings; replace only the secrets given.

    Moving the connection to another scheme, host or port drops every stored secret (the
    new host gets only the ``new_secrets``; nothing given for the old host ever reaches
    it), and, when the user may not allow private networks (``may_allow_private``), turns
    off the switches a superuser gave for the old address (see ``addresses``). Stored
    secrets that cannot be decrypted any more are dropped too. A changed base URL, setting
    or secret resets the health to "not checked". Switching the connection off cancels its
    queued actions and running batches (``user`` is named in the reason).
    """
    stored = Connection.objects.filter(pk=connection.pk).first() if connection.pk else None
    moved = stored is not None and address_changed(stored.base_url, connection.base_url)
    if moved and not may_allow_private:
        connection.allow_private_network = False
        connection.allow_link_local = False
    kept = {} if moved else _readable_secrets(connection)
    changed = (
        bool(new_secrets)
        or (connection.settings or {}) != settings
        or (stored is not None and stored.base_url != connection.base_url)
    )
    connection.settings = settings
    connection.set_secrets({**kept, **new_secrets})
    if changed:
        connection.health = Health.UNKNOWN
        connection.health_error = ""
        connection.health_checked_at = None
    with transaction.atomic():
        connection.save()
        if stored is not None and stored.is_active and not connection.is_active:
            _work_cancel(connection, user)
    if moved:
        logger.info("connection %s moved to another address: stored secrets dropped", connection.pk)
    return connection


def _readable_secrets(connection: Connection) -> dict[str, str]:
    """Return the stored secrets, or none when they cannot be decrypted any more."""
    if not connection.pk or not connection.secrets_ciphertext:
        return {}
    try:
        return connection.get_secrets()
    except DecryptionError:
        return {}
