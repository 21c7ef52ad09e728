"""Where the simulated CRM.COM keeps its objects: ``Record`` rows, ids and identifiers.

Every object has a numeric ``remote_id`` (the indexed key) and the API's 32-hex ``id``,
derived from it reversibly, so a lookup by ``id`` or ``number`` is one indexed query even
with a million contacts. Person and company registration numbers are derived the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from crmhub.sandbox.crmcom.api import KIND, MAX_LENGTHS, invalid, missing, not_found, now
from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Record

CONTACT = "contact"
COMMUNICATION = "communication"
QUEUE = "queue"
TEMPLATE = "template"
CATEGORY = "category"
EXTERNAL_SYSTEM = "external_system"
GROUP = "group"
PRIVACY_LEVEL = "privacy_level"
REVOKED_TOKEN = "revoked_token"
UNRESTRICTED = "unrestricted_parameter"  # kept inside a communication, not a collection

#: The identifier fields each kind of object accepts, and how numbers are written: both
#: assumptions (``assumptions.py``).
IDENTIFIER_FIELDS = ASSUMPTIONS.identifier_fields
NUMBER_PREFIX = ASSUMPTIONS.number_prefixes
DERIVED_PREFIX = {
    "id_number": "ID",
    "passport_number": "PN",
    "social_security_number": "SS",
    "vat_registration_number": "VAT",
    "registration_number": "REG",
}
DERIVED_TYPE = {
    "id_number": "PERSON",
    "passport_number": "PERSON",
    "social_security_number": "PERSON",
    "vat_registration_number": "COMPANY",
    "registration_number": "COMPANY",
}
_HEX_ID = re.compile(r"^[0-9A-F]{32}$")
_DERIVED = re.compile(r"^([A-Z]*)(\d{1,18})$")


def object_id(collection: str, remote_id: int) -> str:
    """Return the API id of an object: 16 hex of a hash, then the remote id in 16 hex."""
    salt = hashlib.md5(f"{collection}:{remote_id}".encode(), usedforsecurity=False)
    return salt.hexdigest()[:16].upper() + f"{remote_id:016X}"


def remote_id_of(collection: str, value: str) -> int | None:
    """Return the remote id an API id stands for, or None if it is not one of ours."""
    value = value.strip().upper()
    if not _HEX_ID.match(value):
        return None
    remote_id = int(value[16:], 16)
    return remote_id if object_id(collection, remote_id) == value else None


def object_number(collection: str, remote_id: int) -> str:
    prefix = NUMBER_PREFIX.get(collection, "")
    return f"{prefix}{remote_id:06d}" if prefix else str(remote_id)


def derived(field: str, remote_id: int) -> str:
    return f"{DERIVED_PREFIX[field]}{remote_id:07d}"


def _number_remote_id(collection: str, value: str, prefix: str) -> int | None:
    match = _DERIVED.match(value.strip())
    if not match or match.group(1) != prefix:
        return None
    return int(match.group(2))


# -- identifiers ----------------------------------------------------------------------------
def identifier_of(value: Any, name: str, collection: str) -> tuple[str, str]:
    """Return (field, value) of an identifier object (GET's ``field=value`` arrives as one).

    A POST body's identifier must be a JSON object: a string (the query-string form) is
    refused, as no document shows one there.
    """
    if not isinstance(value, Mapping):
        raise invalid(name, 'must be an identifier object, e.g. {"number": "CM000680"}.')
    allowed = IDENTIFIER_FIELDS[collection]
    given_fields = [(k, v) for k, v in value.items() if v not in (None, "")]
    if len(given_fields) != 1:
        raise invalid(name, f"give exactly one of {', '.join(allowed)}.")
    field, given = given_fields[0]
    if field not in allowed:
        raise invalid(
            name, f"{field!r} is not an identifier field; use one of {', '.join(allowed)}."
        )
    if not isinstance(given, str | int) or len(str(given)) > MAX_LENGTHS["identifier"]:
        raise invalid(name, f"{field} must be a string.")
    return field, str(given)


def _query(collection: str) -> QuerySet[Record]:
    return Record.objects.filter(kind=KIND, collection=collection, deleted=False)


def get(collection: str, remote_id: int) -> Record | None:
    return _query(collection).filter(remote_id=remote_id).first()


def find(collection: str, field: str, value: str) -> Record | None:
    """Return the object an identifier names, or None."""
    if field == "id":
        remote_id = remote_id_of(collection, value)
        return get(collection, remote_id) if remote_id is not None else None
    if field == "number" and collection in NUMBER_PREFIX:
        remote_id = _number_remote_id(collection, value, NUMBER_PREFIX[collection])
        return get(collection, remote_id) if remote_id is not None else None
    if field in DERIVED_PREFIX and collection == CONTACT:
        remote_id = _number_remote_id(collection, value, DERIVED_PREFIX[field])
        record = get(collection, remote_id) if remote_id is not None else None
        if record is not None and record.data.get("type") == DERIVED_TYPE[field]:
            return record
        return None
    for record in _query(collection):  # the small fixed collections: templates, categories...
        if str(record.data.get(field, "")) == value:
            return record
    return None


def resolve(
    params: Mapping[str, Any], name: str, collection: str, *, required: bool
) -> Record | None:
    """Return the object named by identifier parameter ``name``; raise when it is wrong."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    field, given = identifier_of(value, name, collection)
    record = find(collection, field, given)
    if record is None:
        raise not_found(f"{collection.replace('_', ' ')} with {field} {given!r}")
    return record


def page(query: Any, offset: int, size: int) -> list[Record]:
    """Return one page of ``query`` in remote id order (the indexed key)."""
    return list(query.order_by("remote_id")[offset : offset + size])


def collection_query(collection: str) -> QuerySet[Record]:
    return _query(collection)


def by_remote_id(collection: str, ids: Iterable[int]) -> dict[int, Record]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {r.remote_id: r for r in _query(collection).filter(remote_id__in=wanted)}


def create(collection: str, data: dict[str, Any]) -> Record:
    """Insert a new object with the next remote id (retrying if another insert took it)."""
    for _ in range(5):
        last = (
            Record.objects.filter(kind=KIND, collection=collection)
            .order_by("-remote_id")
            .values_list("remote_id", flat=True)
            .first()
        )
        try:
            with transaction.atomic(using="sandbox"):
                return Record.objects.create(
                    kind=KIND,
                    collection=collection,
                    remote_id=(last or 0) + 1,
                    data=data,
                    updated_at=now(),
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a remote id")


def save(record: Record) -> None:
    record.updated_at = now()
    record.save(update_fields=["data", "updated_at"])
