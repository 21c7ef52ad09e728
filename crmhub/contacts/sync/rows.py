"""Turn one remote contact into the values of its index row, with a content hash.

The hash covers everything the row is built from (the remote record, the connection's
country that phones are read with, and ``NORMALISATION_VERSION``), so comparing it tells
whether a row must be rewritten without building the row first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import orjson

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


def json_dumps(value: object, *, sort_keys: bool = False) -> str:
    """Return ``value`` as compact JSON text: orjson (C, ~10x the standard library), or
    the standard library for what orjson refuses (an integer past 64 bits, say).

    Values JSON lacks (dates, decimals...) are written as text (dates as ISO 8601).
    """
    try:
        return orjson.dumps(
            value, default=str, option=_SORTED if sort_keys else JSON_OPTIONS
        ).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=_text, sort_keys=sort_keys, separators=(",", ":"))


def _text(value: object) -> str:
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


#: orjson's options of ``json_dumps`` (without ``sort_keys``).
JSON_OPTIONS = orjson.OPT_NON_STR_KEYS
_SORTED = orjson.OPT_SORT_KEYS | JSON_OPTIONS


def content_hash(contact: RemoteContact, *, country: str) -> str:
    """Return the hash of everything the row of ``contact`` is built from."""
    payload = json_dumps(
        [
            NORMALISATION_VERSION,
            country,
            contact.record_type,
            contact.first_name,
            contact.last_name,
            contact.full_name,
            contact.company,
            contact.emails,
            contact.phones,
            contact.updated_at,
            contact.raw,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def remote_key(contact: RemoteContact) -> str:
    """Return the remote id of ``contact`` as the index keys it."""
    return str(contact.remote_id).strip()[: _LIMITS["remote_id"]]


def row_from_remote(contact: RemoteContact, *, country: str, hash_: str | None = None) -> Row:
    """Return the index row of ``contact``; phones are read with ``country`` as region."""
    emails = [e for e in (raw.strip() for raw in contact.emails if raw) if e]
    phones = [p for p in (raw.strip() for raw in contact.phones if raw) if p]
    email_keys = list(dict.fromkeys(k for k in map(normalize.email_key, emails) if k))
    phone_keys: list[str] = []
    phone_words: list[str] = []
    for raw in phones:
        key, found = normalize.phone_info(raw, country)
        if key and key not in phone_keys:
            phone_keys.append(key)
        phone_words += found
    first = (contact.first_name or "").strip()[: _LIMITS["first_name"]]
    last = (contact.last_name or "").strip()[: _LIMITS["last_name"]]
    full = (contact.full_name or "").strip()[: _LIMITS["full_name"]]
    company = (contact.company or "").strip()[: _LIMITS["company"]]
    values = {
        "record_type": contact.record_type if contact.record_type in _RECORD_TYPES else "person",
        "first_name": first,
        "last_name": last,
        "full_name": full,
        "company": company,
        "emails": emails,
        "phones": phones,
        "email_keys": email_keys,
        "phone_keys": phone_keys,
        "remote_updated_at": contact.updated_at,
        "raw": dict(contact.raw),
        "search_names": " ".join(dict.fromkeys(normalize.words(f"{first} {last} {full}"))),
        "search_other": " ".join(dict.fromkeys(normalize.words(" ".join([company, *emails])))),
        "search_phones": " ".join(dict.fromkeys(phone_words)),
    }
    return Row(
        remote_id=remote_key(contact),
        content_hash=hash_ or content_hash(contact, country=country),
        values=values,
        email_keys=tuple(email_keys),
        phone_keys=tuple(phone_keys),
    )
