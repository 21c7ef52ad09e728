"""Turn one remote contact into the values of its index row, with a content hash.

The hash covers everything the row is built from (the remote record, the connection's
country that phones are read with, and ``NORMALISATION_VERSION``), so comparing it tells
whether a row must be rewritten without building the row first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from crmhub.connectors.base import RemoteContact
from crmhub.contacts import normalize
from crmhub.contacts.models import RecordType

#: Bump when the way rows are built changes: every row is rewritten on the next sync.
NORMALISATION_VERSION = 1
_RECORD_TYPES = frozenset(RecordType.values)
_LIMITS = {"remote_id": 64, "first_name": 200, "last_name": 200, "full_name": 300, "company": 300}


@dataclass(frozen=True)
class Row:
    """The values of one ``Contact`` row (without connection, person and timestamps)."""

    remote_id: str
    content_hash: str
    values: dict[str, Any]
    email_keys: tuple[str, ...]
    phone_keys: tuple[str, ...]


def content_hash(contact: RemoteContact, *, country: str) -> str:
    """Return the hash of everything the row of ``contact`` is built from."""
    payload = json.dumps(
        [
            NORMALISATION_VERSION,
            country,
            contact.record_type,
            contact.first_name,
            contact.last_name,
            contact.full_name,
            contact.company,
            list(contact.emails),
            list(contact.phones),
            contact.updated_at.isoformat() if contact.updated_at else None,
            contact.raw,
        ],
        default=str,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _clip(name: str, value: str) -> str:
    return (value or "").strip()[: _LIMITS[name]]


def row_from_remote(contact: RemoteContact, *, country: str, hash_: str | None = None) -> Row:
    """Return the index row of ``contact``; phones are read with ``country`` as region."""
    email_keys = tuple(
        dict.fromkeys(k for k in (normalize.email_key(e) for e in contact.emails) if k)
    )
    phone_keys: list[str] = []
    phone_words: list[str] = []
    for raw in contact.phones:
        key, found = normalize.phone_info(raw, country)
        if key:
            phone_keys.append(key)
        phone_words.extend(found)
    first, last = _clip("first_name", contact.first_name), _clip("last_name", contact.last_name)
    full = _clip("full_name", contact.full_name)
    company = _clip("company", contact.company)
    emails = [e.strip() for e in contact.emails if e and e.strip()]
    values = {
        "record_type": contact.record_type if contact.record_type in _RECORD_TYPES else "person",
        "first_name": first,
        "last_name": last,
        "full_name": full,
        "company": company,
        "emails": emails,
        "phones": [p.strip() for p in contact.phones if p and p.strip()],
        "email_keys": list(email_keys),
        "phone_keys": list(dict.fromkeys(phone_keys)),
        "remote_updated_at": contact.updated_at,
        "raw": dict(contact.raw),
        "search_names": " ".join(dict.fromkeys(normalize.words(f"{first} {last} {full}"))),
        "search_other": " ".join(dict.fromkeys(normalize.words(" ".join([company, *emails])))),
        "search_phones": " ".join(dict.fromkeys(phone_words)),
    }
    return Row(
        remote_id=_clip("remote_id", str(contact.remote_id)),
        content_hash=hash_ or content_hash(contact, country=country),
        values=values,
        email_keys=email_keys,
        phone_keys=tuple(values["phone_keys"]),
    )
