"""Reach the sandbox CRMs from crmhub: a connection spec, a saved connection, an index.

Shared by the bench sections and the tests' fixtures, so that both reach a simulated CRM
the way the demo does (``manage.py demo``): its account's credentials, its base URL under
the server's public URL, private addresses allowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from crmhub.connections.models import Connection
from crmhub.connections.services import connection_save
from crmhub.connectors.base import ConnectionSpec
from crmhub.connectors.registry import get_connector
from crmhub.contacts.models import Contact
from crmhub.sandbox.services import sandbox_base_url, sandbox_credentials


def sandbox_spec(
    *,
    kind: str,
    public_url: str,
    wrong_secrets: bool = False,
    timeout: tuple[float, float] | None = None,
) -> ConnectionSpec:
    """Return a spec reaching simulated CRM ``kind`` served at ``public_url``.

    ``wrong_secrets=True`` alters every secret (signing in must fail); ``timeout`` replaces
    the default (connect, read) timeouts.
    """
    settings, secrets = sandbox_credentials(kind=kind)
    if wrong_secrets:
        secrets = {name: value[:-2] + "XY" for name, value in secrets.items()}
    spec = ConnectionSpec(
        kind=kind,
        base_url=sandbox_base_url(kind=kind, public_url=public_url),
        settings=settings,
        secrets=secrets,
        allow_private_network=True,
    )
    return spec if timeout is None else dataclasses.replace(spec, timeout=timeout)


def connection_from_spec(spec: ConnectionSpec, *, name: str, **fields: Any) -> Connection:
    """Save and return a connection reaching what ``spec`` describes (``fields``: any other
    ``Connection`` field, such as ``rate_limit`` or ``sync_interval_minutes``)."""
    connection = Connection(
        name=name,
        kind=spec.kind,
        base_url=spec.base_url,
        allow_private_network=spec.allow_private_network,
        **fields,
    )
    return connection_save(
        connection=connection, settings=dict(spec.settings), new_secrets=dict(spec.secrets)
    )


def sandbox_connection(*, kind: str, public_url: str, name: str, **fields: Any) -> Connection:
    """Save and return a connection to simulated CRM ``kind`` served at ``public_url``."""
    spec = sandbox_spec(kind=kind, public_url=public_url)
    return connection_from_spec(spec, name=name, **fields)


def listing_index(*, connection: Connection, page_size: int = 100) -> list[int]:
    """List the remote's contacts through its connector and put them in the index as bare
    rows (remote id, record type, name; no sync, no matching); return their ids."""
    connector = get_connector(connection.spec())
    try:
        remote = [
            contact
            for page in connector.iter_contact_pages(page_size=page_size)
            for contact in page.contacts
        ]
    finally:
        connector.close()
    Contact.objects.bulk_create(
        (
            Contact(
                connection=connection,
                remote_id=c.remote_id,
                record_type=c.record_type,
                full_name=c.full_name or f"{c.first_name} {c.last_name}".strip(),
            )
            for c in remote
        ),
        batch_size=1000,
    )
    return list(
        Contact.objects.filter(connection=connection).order_by("pk").values_list("pk", flat=True)
    )
