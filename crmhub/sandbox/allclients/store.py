"""The simulated AllClients account's data: credentials, seeding, and lookups.

Everything lives in ``sandbox.Record`` rows of kind ``allclients``, one collection per
object: ``contact``, ``category``, ``actionset``, ``teammember``, ``link`` and
``actionsetrun`` (what RunActionSet scheduled). Dates are stored as ISO-8601 UTC strings
and shown in the account's time zone when rendered. Seeded contacts belong to a team
member database (most to the account owner's) and most are opted in to email, a few not
(deterministic: the same seed gives the same contacts).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

import orjson
from django.db import IntegrityError, connections, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from crmhub.core import rows as core_rows
from crmhub.sandbox.allclients import rules
from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS
from crmhub.sandbox.models import Account, Record, RecordsVersion
from crmhub.sandbox.people import PersonSpec

KIND = "allclients"
CONTACT = "contact"
CATEGORY = "category"
ACTION_SET = "actionset"
TEAM_MEMBER = "teammember"
LINK = "link"
ACTION_SET_RUN = "actionsetrun"

#: contactid of the first seeded contact; the others follow one by one.
CONTACT_ID_BASE = 64704
LINK_ID_BASE = 15631
RUN_ID_BASE = 1
#: The account's time zone when none is set (an assumption, see ``assumptions.py``).
DEFAULT_TIME_ZONE = ASSUMPTIONS.default_time_zone
_ADD_EPOCH = datetime(2014, 2, 15, 19, 15, 5, tzinfo=UTC)

CATEGORIES = (
    (1, "Prospect"),
    (2, "Client"),
    (3, "Past Client"),
    (4, "Sphere of Influence"),
    (5, "Vendor"),
    (6, "Friends & Family"),
)
#: (actionsetid, name, whether it contains an "Email" action).
ACTION_SETS = (
    (101, "Welcome Series", True),
    (102, "Birthday Greeting", True),
    (103, "New Client Onboarding", False),
    (104, "Past Client Follow-up", False),
    (105, "Referral Thank You", True),
)
#: teammemberid 0 is the account owner (the documented default).
TEAM_MEMBERS = (
    (0, "Account Owner"),
    (11, "Dana Whitaker"),
    (12, "Luis Ortega"),
)
#: Seeded contact ``index`` (from 0) is not opted in to email when ``index % 10`` is this.
NOT_OPTED_IN_EVERY = (10, 9)
#: Seeded contact ``index`` belongs to team member 11 or 12 when ``index % 10`` says so
#: (the account owner's database, 0, holds the others).
TEAM_MEMBER_OF = {3: 11, 6: 12}


# -- the account ---------------------------------------------------------------------------
def default_credentials() -> dict[str, str]:
    """Return fresh credentials: a numeric account id and a 32-char uppercase hex key."""
    account_id = str(10_000 + secrets.randbelow(90_000))
    return {
        "account_id": account_id,
        "api_key": secrets.token_hex(16).upper(),
        "time_zone": DEFAULT_TIME_ZONE,
    }


def connection_settings(credentials: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the (settings, secrets) a crmhub AllClients connection needs."""
    settings = {
        "account_id": credentials["account_id"],
        "time_zone": credentials.get("time_zone", DEFAULT_TIME_ZONE),
    }
    return settings, {"api_key": credentials["api_key"]}


def account_credentials() -> dict[str, str]:
    """Return the credentials the simulated account accepts (empty before it exists)."""
    account = core_rows.row_find(Account, kind=KIND)
    return dict(account.credentials) if account else {}


# -- seeding -------------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def contact_record(index: int, person: PersonSpec) -> Record:
    """Return the (unsaved) contact row of the ``index``-th seeded person."""
    added = _ADD_EPOCH + timedelta(seconds=index * 97)
    edited = added + timedelta(days=person.key % 400, seconds=person.key % 86_400)
    data: dict[str, Any] = {"firstname": person.first_name, "lastname": person.last_name}
    if person.company:
        data["company"] = person.company
    if person.email:
        data["email"] = person.email
        if person.key % 9 == 0:
            data["otheremail"] = person.email.strip().lower().replace("@", ".home@", 1)
    data["phone"] = person.phone
    data["adddate"] = _iso(added)
    data["editdate"] = _iso(edited)
    every, which = NOT_OPTED_IN_EVERY
    if index % every == which:
        data[ASSUMPTIONS.opted_in_field] = False
    if team_member := TEAM_MEMBER_OF.get(index % 10):
        data["teammemberid"] = team_member
    return Record(
        kind=KIND,
        collection=CONTACT,
        remote_id=CONTACT_ID_BASE + index,
        data=data,
        updated_at=edited,
    )


def _fixed_records() -> list[Record]:
    now = _ADD_EPOCH
    rows = [
        Record(kind=KIND, collection=CATEGORY, remote_id=id_, data={"name": name}, updated_at=now)
        for id_, name in CATEGORIES
    ]
    rows += [
        Record(
            kind=KIND,
            collection=ACTION_SET,
            remote_id=id_,
            data={"name": name, "has_email_action": email},
            updated_at=now,
        )
        for id_, name, email in ACTION_SETS
    ]
    rows += [
        Record(
            kind=KIND, collection=TEAM_MEMBER, remote_id=id_, data={"name": name}, updated_at=now
        )
        for id_, name in TEAM_MEMBERS
    ]
    return rows


def _batches(people: Iterable[PersonSpec], size: int) -> Iterator[list[Record]]:
    numbered = enumerate(people)
    while batch := [contact_record(i, p) for i, p in islice(numbered, size)]:
        yield batch


def seed(people: Iterable[PersonSpec], *, batch_size: int) -> int:
    """Store ``people`` as contacts plus the fixed data; return how many rows were written."""
    written = 0
    with transaction.atomic(using="sandbox"):
        fixed = _fixed_records()
        Record.objects.bulk_create(fixed, batch_size=batch_size)
        written += len(fixed)
    for batch in _batches(people, batch_size):
        with transaction.atomic(using="sandbox"):
            Record.objects.bulk_create(batch, batch_size=batch_size)
        written += len(batch)
    return written


# -- lookups -------------------------------------------------------------------------------
def rows(collection: str) -> QuerySet[Record]:
    """Return the live rows of ``collection`` (uses the (kind, collection, deleted, id) index)."""
    return Record.objects.filter(kind=KIND, collection=collection, deleted=False)


def find(collection: str, remote_id: int) -> Record | None:
    """Return one live row by id, or None.

    In plain SQL (``crmhub.core.rows``): a request finds two or three rows, and the ORM
    spent more CPU building each statement than the database spent running it.
    """
    return core_rows.row_find(
        Record, kind=KIND, collection=collection, deleted=False, remote_id=remote_id
    )


class ContactRow(NamedTuple):
    """A contact as a page of GetContacts needs it: its id and its fields."""

    remote_id: int
    data: dict[str, Any]


#: Where pages start, learnt from the pages served: {(records version, offset): contactid}.
#: Offset paging counts the offset on every call (a scan as long as the offset: 78 ms a
#: page deep into a million contacts); a sync asks for the pages in order, so each page
#: is found from where the one before it ended, while no record was added or removed.
_page_starts: dict[tuple[int, int], int] = {}
_PAGE_STARTS_MAX = 20_000


def _records_version() -> int | None:
    """Return the records version (None where it is not kept: resume nothing)."""
    if connections["sandbox"].vendor != "sqlite":
        return None
    return RecordsVersion.objects.filter(pk=1).values_list("value", flat=True).first()


def contacts_page(*, offset: int, size: int) -> list[ContactRow]:
    """Return ``size`` contacts from ``offset`` in contactid order, without loading the rest.

    The page starts where the page before it ended when that is known for the current
    records version; else the offset is counted on the index alone (ids only). Rows are
    read as plain (id, fields) pairs: no model instance, the JSON read by orjson.
    """
    version = _records_version()
    query = rows(CONTACT).order_by("remote_id")
    if offset:
        first = _page_starts.get((version, offset)) if version is not None else None
        if first is None:
            start = query.values_list("remote_id", flat=True)[offset : offset + 1]
            first = next(iter(start), None)
        if first is None:
            return []
        query = query.filter(remote_id__gte=first)
    found = query.annotate(text=Cast("data", TextField())).values_list("remote_id", "text")
    page = [ContactRow(remote_id, orjson.loads(text)) for remote_id, text in found[:size]]
    if version is not None and page:
        if len(_page_starts) >= _PAGE_STARTS_MAX:
            _page_starts.clear()
        _page_starts[(version, offset + len(page))] = page[-1].remote_id + 1
    return page


def contacts_by_email(email: str, *, other: bool) -> list[Record]:
    """Return contacts whose email (or, with ``other``, other email) is ``email``.

    Matching ignores case and surrounding spaces. Sorted by add date, first added first.
    """
    wanted = email.strip().lower()
    if not wanted:
        return []
    keys = ("email", "otheremail") if other else ("email",)
    # A LIKE on the stored JSON text narrows the scan cheaply (~1 s at a million contacts,
    # four times faster than extracting the keys); the exact match is checked below.
    found = [
        row
        for row in rows(CONTACT).filter(data__icontains=wanted)
        if any(str(row.data.get(key, "")).strip().lower() == wanted for key in keys)
    ]
    return sorted(found, key=lambda row: (row.data.get("adddate", ""), row.remote_id))


def can_email(contact: Record) -> bool:
    """Return whether ``contact`` has a valid email address and is opted in to email."""
    valid = rules.is_email(str(contact.data.get("email", "")))
    return valid and contact.data.get(ASSUMPTIONS.opted_in_field, True) is not False


def action_set_by_name(name: str) -> Record | None:
    """Return the action set called ``name`` (case and surrounding spaces ignored)."""
    wanted = name.strip().lower()
    for row in rows(ACTION_SET).order_by("remote_id"):
        if str(row.data.get("name", "")).strip().lower() == wanted:
            return row
    return None


def links_of(contact_id: int) -> list[Record]:
    """Return the links of one contact, oldest first."""
    return [
        row
        for row in rows(LINK).filter(data__contactid=contact_id).order_by("remote_id")
        if row.data.get("contactid") == contact_id
    ]


def insert(collection: str, data: dict[str, Any], *, first_id: int) -> Record:
    """Create a row with the next free id of ``collection`` (retrying a lost race).

    In plain SQL (``crmhub.core.rows``), as ``find``: every change a request makes inserts.
    """
    columns = core_rows.columns(Record)
    top_sql = (
        f"SELECT MAX({columns['remote_id']}) FROM {core_rows.table(Record)} "
        f"WHERE {columns['kind']} = %s AND {columns['collection']} = %s"
    )
    for _attempt in range(5):
        with core_rows.database(Record).cursor() as cursor:
            cursor.execute(top_sql, [KIND, collection])
            top = cursor.fetchone()[0]
        remote_id = first_id if top is None else int(top) + 1
        record = Record(
            kind=KIND,
            collection=collection,
            remote_id=remote_id,
            data=data,
            updated_at=datetime.now(UTC),
        )
        try:
            with transaction.atomic(using="sandbox"):
                core_rows.row_insert(record)
                return record
        except IntegrityError:
            continue
    raise IntegrityError(f"Could not allocate an id in {collection}.")
