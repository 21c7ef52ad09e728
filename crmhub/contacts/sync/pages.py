"""Write pages of a remote listing into the index, and find what a full pass missed.

A page is prepared without the database (``page_prepare``: hashes, and rows built ahead),
then pages sharing no contact are written together (``pages_apply``), a statement of each
kind for all (see ``writer``). Only new and changed contacts are written; the spelling
index follows the name words they bring and take away (``writer.vocabulary_follow``).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, pairwise
from typing import Any, TypeVar

from django.db import connection as db

from crmhub.connectors.base import RemoteContact
from crmhub.contacts.sync import writer
from crmhub.contacts.sync.rows import content_hash, remote_key, row_from_remote
from crmhub.contacts.sync.writer import Prepared

T = TypeVar("T")


class SeenSet:
    """The contact ids a pass has seen, one bit each (1,000,000 ids take 125 kB)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, pk: int) -> bool:
        """Add ``pk``; return whether it was new."""
        index, bit = pk >> 3, 1 << (pk & 7)
        if index >= len(self._bits):
            self._bits.extend(bytes(max(index + 1 - len(self._bits), len(self._bits))))
        if self._bits[index] & bit:
            return False
        self._bits[index] |= bit
        self.count += 1
        return True

    def __contains__(self, pk: int) -> bool:
        index = pk >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (pk & 7)))


@dataclass
class PageOutcome:
    """What writing one page did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Contacts of the page this pass had already seen on an earlier page.
    repeated: int = 0
    latest_update: datetime | None = None
    pks: list[int] = field(default_factory=list)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a remote without a zone: read as UTC
    return value


def _latest(contacts: Iterable[RemoteContact]) -> datetime | None:
    stamps = [stamp for c in contacts if (stamp := _aware(c.updated_at)) is not None]
    return max(stamps) if stamps else None


@dataclass
class PreparedPage:
    """One page made ready for writing without the database (``page_prepare``)."""

    #: The content hash of each contact of the page, by remote id (a page repeating an
    #: id: the last wins): the page's remote ids.
    hashes: dict[str, str]
    #: The contacts whose rows were not built ahead, by remote id.
    contacts: dict[str, RemoteContact]
    #: Rows built ahead (``build``), by remote id: their contacts are not kept.
    built: dict[str, Prepared]
    latest_update: datetime | None


def _built(
    contact: RemoteContact, connection_id: int, country: str, hash_: str, ops: Any, utc: bool
) -> Prepared:
    """Return the index row of ``contact`` ready to write (``synced_at`` unset; ``utc`` is
    ``writer.sqlite_utc(ops)``)."""
    row = row_from_remote(contact, country=country, hash_=hash_)
    return writer.prepared(connection_id, row, ops, utc=utc)


def page_prepare(
    contacts: Sequence[RemoteContact], *, connection_id: int, country: str, ops: Any,
    build: bool,
) -> PreparedPage:  # fmt: skip
    """Hash the contacts of a page and, with ``build``, build their rows too.

    Pure work, no query: the sync runs it in the thread that fetches the pages, while the
    database writes the pages before (``ops`` is the writing connection's, for the values).
    Rows are worth building ahead when most contacts will be written (a first sync);
    otherwise ``pages_apply`` builds only those of the new and changed contacts. A built
    row is all a page keeps of its contact (a third of the memory of both).
    """
    by_id: dict[str, RemoteContact] = {}
    for contact in contacts:
        by_id[remote_key(contact)] = contact
    hashes = {remote_id: content_hash(c, country=country) for remote_id, c in by_id.items()}
    latest = _latest(by_id.values())
    built = {}
    if build:
        utc = writer.sqlite_utc(ops)
        for remote_id, contact in by_id.items():
            built[remote_id] = _built(contact, connection_id, country, hashes[remote_id], ops, utc)
        by_id = {}
    return PreparedPage(hashes=hashes, contacts=by_id, built=built, latest_update=latest)


def _page_contacts(page: Any) -> Iterable[str]:
    return page.hashes


def disjoint_runs(
    items: Sequence[T], contacts: Callable[[T], Iterable[str]] = _page_contacts
) -> list[list[T]]:
    """Split ``items`` (prepared pages, or what carries them: ``contacts`` gives an item's
    remote ids) into runs of consecutive items that share no remote id."""
    runs: list[list[T]] = []
    ids: set[str] = set()
    for item in items:
        if not runs or not ids.isdisjoint(contacts(item)):
            runs.append([])
            ids = set()
        runs[-1].append(item)
        ids.update(contacts(item))
    return runs


def pages_apply(
    *,
    connection_id: int,
    country: str,
    now: datetime,
    seen: SeenSet,
    pages: Sequence[PreparedPage],
    absent: bool = False,
) -> list[PageOutcome]:
    """Write the new and changed contacts of ``pages`` (no remote id in two of them: see
    ``disjoint_runs``) with one statement of each kind; return each page's counts.

    Unchanged contacts (same content hash, not deleted) are not written at all. A contact
    marked deleted that the remote lists again comes back (``deleted_at`` cleared).
    Call inside a transaction.

    ``absent``: the caller knows that no contact of ``pages`` is in the index (the
    connection's first pass, which wrote none of them yet), so the lookup of the pages'
    contacts is skipped and each is inserted as new. One that is there after all (a
    zombie worker's, or a page listed again) fails the insert with ``IntegrityError``
    before anything of the pages counts: call it in a savepoint, then again without
    ``absent``.
    """
    existing = (
        {} if absent
        else writer.existing(connection_id, [rid for page in pages for rid in page.hashes])
    )  # fmt: skip
    outcomes = [PageOutcome(latest_update=page.latest_update) for page in pages]
    to_write: list[Prepared] = []
    owners: list[PageOutcome] = []
    utc = writer.sqlite_utc(db.ops)
    for page, outcome in zip(pages, outcomes, strict=True):
        for remote_id, hash_ in page.hashes.items():
            known = existing.get(remote_id)
            if known is not None and known[1] == hash_ and known[2] is None:
                outcome.unchanged += 1
                outcome.pks.append(known[0])
                continue
            ready = page.built.get(remote_id) or _built(
                page.contacts[remote_id], connection_id, country, hash_, db.ops, utc
            )
            to_write.append(ready)
            owners.append(outcome)
    if to_write:
        new = {row.remote_id for row in to_write if row.remote_id not in existing}
        ids = writer.upsert(connection_id, to_write, now, new, absent=absent)
        rekeyed: list[tuple[int, Prepared]] = []
        replace: list[int] = []
        for row, outcome in zip(to_write, owners, strict=True):
            known = existing.get(row.remote_id)
            pk = known[0] if known is not None else ids[row.remote_id]
            outcome.pks.append(pk)
            if known is None:
                outcome.created += 1
                rekeyed.append((pk, row))
                continue
            outcome.updated += 1
            emails, phones = writer.stored_list(known[3]), writer.stored_list(known[4])
            if emails != list(row.email_keys) or phones != list(row.phone_keys):
                rekeyed.append((pk, row))
                replace.append(pk)
        writer.keys_write(rekeyed, replace=replace)
        writer.vocabulary_follow(to_write, existing)
    for outcome in outcomes:
        for pk in outcome.pks:
            if not seen.add(pk):
                outcome.repeated += 1
    return outcomes


def missing_ids(*, connection_id: int, seen: SeenSet) -> array:
    """Return the ids of live contacts a full pass did not see (8 bytes each)."""
    missing = array("q")
    for pk in writer.live_ids(connection_id=connection_id):
        if pk not in seen:
            missing.append(pk)
    return missing


def ids_pack(ids: Sequence[int]) -> bytes:
    """Return ascending ``ids`` packed small: their differences, 8 bytes each, compressed
    (a million mostly consecutive ids take a few kB)."""
    deltas = array("q", (later - earlier for earlier, later in pairwise([0, *ids])))
    return zlib.compress(deltas.tobytes(), 6)


def ids_unpack(packed: bytes | memoryview | None) -> array:
    """Return the ids ``ids_pack`` packed (none for ``None``)."""
    if not packed:
        return array("q")
    deltas = array("q")
    deltas.frombytes(zlib.decompress(bytes(packed)))
    return array("q", accumulate(deltas))
