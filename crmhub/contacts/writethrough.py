"""Write a change made through crmhub into the index at once; the next sync confirms it.

After an act changed a record in the CRM (created or updated it, with the record as the
CRM answered it, or deleted it), the index row is written with the same statements a sync
uses (``sync.writer``: an upsert keyed on ``(connection, remote_id)``, so the sync that
lists the record later updates this row and never duplicates it; the spelling index
follows its name words) and the contact is placed among people at once (a targeted
matching). The sync's content hash then tells
whether the CRM's listing says anything more: the next pass rewrites the row if so.
"""

from __future__ import annotations

import logging

from django.db import connection as db
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crmhub.connections.models import Connection
from crmhub.connectors.base import RemoteContact
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact
from crmhub.contacts.sync import writer
from crmhub.contacts.sync.rows import row_from_remote

logger = logging.getLogger(__name__)


def contact_write(*, connection: Connection, remote: RemoteContact) -> Contact:
    """Write ``remote`` (as the CRM has it now) into the index; return its row."""
    row = row_from_remote(remote, country=connection.country)
    now = timezone.now()
    with transaction.atomic():
        known = writer.existing(connection.pk, [row.remote_id]).get(row.remote_id)
        ready = writer.prepared(connection.pk, row, db.ops)
        new = set() if known is not None else {row.remote_id}
        ids = writer.upsert(connection.pk, [ready], now, new)
        pk = known[0] if known is not None else ids[row.remote_id]
        writer.keys_write([(pk, ready)], replace=[pk] if known is not None else [])
        writer.vocabulary_follow([ready], {row.remote_id: known} if known is not None else {})
        if known is None or known[2] is not None:  # a new or restored live contact
            Connection.objects.filter(pk=connection.pk).update(contacts_live=F("contacts_live") + 1)
    _match(pk)
    logger.info("contact %s of connection %s written through", pk, connection.pk)
    return Contact.objects.get(pk=pk)


def contact_delete(*, connection: Connection, remote_id: str) -> Contact | None:
    """Mark the record ``remote_id`` deleted in the index (it is kept); return its row."""
    contact = Contact.objects.filter(connection=connection, remote_id=str(remote_id)).first()
    if contact is None:
        return None
    with transaction.atomic():
        if writer.contacts_mark_deleted(pks=[contact.pk], now=timezone.now()):
            Connection.objects.filter(pk=connection.pk, contacts_live__gt=0).update(
                contacts_live=F("contacts_live") - 1
            )
    _match(contact.pk)
    logger.info("contact %s of connection %s deleted through", contact.pk, connection.pk)
    contact.refresh_from_db()
    return contact


def _match(pk: int) -> None:
    """Place the contact among people now (a matching needing a full pass waits for one)."""
    result = persons_match(contact_ids=[pk], allow_full=False)
    if result.deferred:
        logger.info("contact %s: matching left to the next full matching", pk)
