"""The simulated Apptivo customers: storage, listings and changes (``sandbox.Record`` rows).

A row keeps only the attributes that were set (compact at a million rows); an answer
renders it over ``TEMPLATE``, the full attribute set of the vendor's samples. Listings
filter and order on the indexed ``remote_id`` (= ``customerId``) with a LIMIT/OFFSET, so
they never load every row. Dates are written "YYYY-MM-DD HH:MM:SS" in UTC (assumption:
the documents do not say which time zone the firm's dates are in).

Text search ignores case the Unicode way (``MÜLLER`` finds ``Müller``; SQLite's LIKE folds
ASCII letters only): each row keeps its searched text case-folded under ``_text`` (and its
name under ``_name``), written with the row and never part of an answer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Contains
from django.utils import timezone

from crmhub.sandbox.apptivo import config
from crmhub.sandbox.apptivo.validation import Failure
from crmhub.sandbox.models import Record
from crmhub.sandbox.people import PersonSpec

KIND = "apptivo"
COLLECTION = "customers"
FIRST_ID = 1_090_000
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_EPOCH = datetime(2021, 1, 1, tzinfo=UTC)
_SPREAD_MINUTES = 3 * 365 * 24 * 60

#: Every attribute a customer answer carries (from the vendor's save/update samples).
TEMPLATE: dict[str, Any] = {
    "customAttributes": [],
    "customerId": None,
    "customerName": "",
    "customerNumber": "",
    "customerCategory": "",
    "customerCategoryId": None,
    "statusName": "",
    "statusId": None,
    "defaultBillingCurrency": "USD",
    "assigneeObjectRefName": "Sandbox Admin",
    "assigneeObjectRefId": 77021,
    "assigneeObjectId": 8,
    "description": "",
    "phoneNumber": "",
    "contactEmail": "",
    "skypeName": "",
    "parentCustomerName": "",
    "parentCustomerId": None,
    "website": "",
    "tickerSymbol": "",
    "annualRevenue": None,
    "creditRating": "",
    "ownership": "",
    "paymentTerm": "Net 30",
    "paymentTermId": 98763,
    "isUnsubscribed": "N",
    "isBounced": "N",
    "isResponded": "N",
    "createdByName": "Sandbox Admin",
    "lastUpdatedByName": "Sandbox Admin",
    "creationDate": "",
    "lastUpdateDate": "",
    "isExistingCustomer": "Y",
    "isAffiliate": "N",
    "faceBookURL": "",
    "twitterURL": "",
    "linkedInURL": "",
    "labels": [],
    "phoneNumbers": [],
    "emailAddresses": [],
    "addresses": [],
    "objectId": config.OBJECT_ID,
}


def format_date(moment: datetime) -> str:
    """Return ``moment`` as Apptivo writes dates ("YYYY-MM-DD HH:MM:SS", UTC)."""
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def parse_date(text: str, name: str, *, end: bool = False) -> datetime:
    """Return the aware UTC datetime of a search date ("YYYY-MM-DD[ HH:MM:SS]").

    A bare date means the start of that day, or with ``end`` the last second of it.
    """
    for fmt in (DATE_FORMAT, "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if end and fmt == "%Y-%m-%d":
            moment += timedelta(days=1, seconds=-1)
        return moment
    raise Failure(f"Invalid {name} {text[:30]!r}: use YYYY-MM-DD HH:MM:SS.")


def render(record: Record) -> dict[str, Any]:
    """Return the customer of ``record`` as the API answers it (search keys left out)."""
    shown = {key: value for key, value in record.data.items() if not key.startswith("_")}
    return {**TEMPLATE, **shown, "customerId": record.remote_id}


def fold(text: str) -> str:
    """Return ``text`` as searches compare it: NFC, case-folded, trimmed."""
    return unicodedata.normalize("NFC", text).casefold().strip()


def with_search_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` with its case-folded search keys (``_text``, ``_name``) set."""
    parts = [str(data.get("customerName") or ""), str(data.get("customerNumber") or "")]
    parts += [str(e.get("emailAddress") or "") for e in _items(data, "emailAddresses")]
    parts += [str(p.get("phoneNumber") or "") for p in _items(data, "phoneNumbers")]
    return {
        **data,
        "_text": "\n".join(fold(part) for part in parts if part.strip()),
        "_name": fold(str(data.get("customerName") or "")),
    }


def _items(data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    return [item for item in data.get(name) or [] if isinstance(item, dict)]


def _folded_contains(key: str, text: str) -> Q:
    return Q(Contains(KeyTextTransform(key, "data"), fold(text)))


# -- seeding ---------------------------------------------------------------------------------
def seed_rows(people: Iterable[PersonSpec]) -> Iterator[Record]:
    """Yield one unsaved customer row per person (ids from ``FIRST_ID``), cheaply."""
    statuses = config.STATUSES
    categories = config.CATEGORIES
    for index, person in enumerate(people):
        created = _EPOCH + timedelta(minutes=(person.key * 7919) % _SPREAD_MINUTES)
        updated = created + timedelta(minutes=(person.key * 104729) % (90 * 24 * 60))
        status = statuses[0] if index % 7 else statuses[1 + index % 2]
        category = categories[index % 4] if index % 4 < 3 else None
        data: dict[str, Any] = {
            "customerName": f"{person.first_name} {person.last_name}",
            "customerNumber": str(index + 1),
            "statusId": status["statusId"],
            "statusName": status["statusName"],
            "creationDate": created.strftime(DATE_FORMAT),
            "lastUpdateDate": updated.strftime(DATE_FORMAT),
        }
        if category is not None:
            data["customerCategoryId"] = category["categoryId"]
            data["customerCategory"] = category["categoryName"]
        if person.email:
            data["emailAddresses"] = [
                {
                    "emailAddress": person.email,
                    "emailTypeCode": "BUSINESS",
                    "emailType": "Business",
                    "id": "cont_email_input",
                }
            ]
        if person.phone:
            data["phoneNumbers"] = [
                {
                    "phoneNumber": person.phone,
                    "phoneTypeCode": "PHONE_BUSINESS",
                    "phoneType": "Business",
                    "id": "cust_phone_input",
                }
            ]
        yield Record(
            kind=KIND,
            collection=COLLECTION,
            remote_id=FIRST_ID + index,
            data=with_search_keys(data),
            updated_at=updated,
        )


# -- selectors -------------------------------------------------------------------------------
def _live() -> QuerySet[Record]:
    return Record.objects.filter(kind=KIND, collection=COLLECTION, deleted=False)


def customer_get(*, customer_id: int) -> Record:
    """Return the live customer ``customer_id``; refuse an unknown or deleted one."""
    record = _live().filter(remote_id=customer_id).first()
    if record is None:
        raise Failure(f"Customer not found: {customer_id}.")
    return record


def customers_page(
    *, start: int, count: int, where: Q | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of customers in ``customerId`` order and the number that match."""
    query = _live() if where is None else _live().filter(where)
    rows = query.order_by("remote_id")[start : start + count]
    return [render(row) for row in rows], query.count()


def text_filter(text: str) -> Q:
    """Return the filter of a search text: name, number, emails or phones contain it.

    Rows stored before the search keys existed are searched as before (ASCII case only).
    """
    legacy = (
        Q(data__customerName__icontains=text)
        | Q(data__customerNumber__icontains=text)
        | Q(data__emailAddresses__icontains=text)
        | Q(data__phoneNumbers__icontains=text)
    )
    return _folded_contains("_text", text) | (Q(data___text__isnull=True) & legacy)


def name_filter(text: str) -> Q:
    """Return the filter of an advanced search's customerName: the name contains it."""
    legacy = Q(data__customerName__icontains=text)
    return _folded_contains("_name", text) | (Q(data___name__isnull=True) & legacy)


def customers_with_emails(
    *, emails: list[str], start: int, count: int, where: Q | None
) -> tuple[list[dict[str, Any]], int]:
    """Return a page of the customers having one of ``emails`` exactly (any case)."""
    wanted = {email.strip().lower() for email in emails}
    coarse = Q()
    for email in wanted:
        coarse |= Q(data__emailAddresses__icontains=email)
    query = _live().filter(coarse)
    if where is not None:
        query = query.filter(where)
    matches = [
        row
        for row in query.order_by("remote_id").iterator(chunk_size=500)
        if wanted
        & {
            str(e.get("emailAddress", "")).strip().lower()
            for e in _items(row.data, "emailAddresses")
        }
    ]
    return [render(row) for row in matches[start : start + count]], len(matches)


# -- changes ---------------------------------------------------------------------------------
def customer_create(*, fields: dict[str, Any]) -> Record:
    """Store a new customer with the next ``customerId``; return its row."""
    now = timezone.now()
    stamp = format_date(now)
    for _attempt in range(3):
        try:
            with transaction.atomic(using="sandbox"):
                last = Record.objects.filter(kind=KIND, collection=COLLECTION).aggregate(
                    top=Max("remote_id")
                )["top"]
                customer_id = (last or FIRST_ID - 1) + 1
                data = with_search_keys(
                    {
                        "customerNumber": str(customer_id - FIRST_ID + 1),
                        **fields,
                        "creationDate": stamp,
                        "lastUpdateDate": stamp,
                        "createdByName": "API User",
                        "lastUpdatedByName": "API User",
                    }
                )
                return Record.objects.create(
                    kind=KIND,
                    collection=COLLECTION,
                    remote_id=customer_id,
                    data=data,
                    updated_at=now,
                )
        except IntegrityError:
            continue
    raise Failure("Could not allocate a customerId; try again.")


def customer_update(*, customer_id: int, changes: dict[str, Any]) -> Record:
    """Apply ``changes`` (already checked attributes) to customer ``customer_id``."""
    now = timezone.now()
    with transaction.atomic(using="sandbox"):
        record = customer_get(customer_id=customer_id)
        record.data = with_search_keys(
            {
                **record.data,
                **changes,
                "lastUpdateDate": format_date(now),
                "lastUpdatedByName": "API User",
            }
        )
        record.updated_at = now
        record.save(update_fields=["data", "updated_at"])
    return record


def customer_delete(*, customer_id: int) -> Record:
    """Mark customer ``customer_id`` deleted (it leaves every listing); return its row."""
    now = timezone.now()
    with transaction.atomic(using="sandbox"):
        record = customer_get(customer_id=customer_id)
        record.deleted = True
        record.updated_at = now
        record.save(update_fields=["deleted", "updated_at"])
    return record
