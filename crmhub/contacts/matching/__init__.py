"""Link contacts of different CRMs into one ``Person``: only by keys that identify.

The rule (``rule``): live contacts holding the same *specific* email or phone key belong to
the same person, and so (transitively) does everything linked to them. A key is specific
when it is no placeholder and no connection has two live contacts holding it; a phone
does not join groups whose emails disagree; names never link anyone. Staff corrections
(``corrections``: split, join) win over the rule until they are undone. A person is a
group of at least two contacts; a contact linked to no other has no person. ``matched_by``
keeps the links that placed the contact ("email:…", "phone:…", "staff:<correction>").

Matching is incremental: the sync marks every row it writes ``needs_match`` (and a
trigger keeps the keys contacts lose, ``ReleasedKey``); matching recomputes only the
components those touch, with a few bulk queries per round, and clears the marks. When
very many rows are marked (a first sync), it recomputes every component from one
streamed, sorted scan of the shared keys instead. Both build their graph with the same
function (``build``). It runs under a lock (``lock``), so two matchings cannot interleave.

An incremental matching is one short transaction. A full one is not (at a million contacts
it would hold SQLite's write lock for many seconds): it clears the marks first, then reads
outside any transaction and writes its people a chunk a transaction. A contact a sync
writes meanwhile is marked again and placed by the next matching; a full matching that
did not finish leaves a note (a ``ReleasedKey`` of type ``FULL_OWED``) that makes the
next matching a full one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import connection as db
from django.db import transaction

from crmhub.contacts.matching.apply import MatchResult, graph_apply, persons_name
from crmhub.contacts.matching.build import Seed, chunks, graph_full, graph_incremental
from crmhub.contacts.matching.constraints import constraints_load
from crmhub.contacts.matching.lock import matching_lock
from crmhub.contacts.models import Contact, ReleasedKey
from crmhub.core.sqlite import memory_bounded

__all__ = ["FULL_THRESHOLD", "MatchResult", "persons_match", "persons_name"]
logger = logging.getLogger(__name__)

#: Above this many marked contacts (and lost keys), recompute everything in one pass.
FULL_THRESHOLD = 20_000
#: The type of the ``ReleasedKey`` that says a full matching started and did not finish.
FULL_OWED = "full"
#: Marks cleared a transaction by a full matching.
MARKS_CHUNK = 5_000
#: How long a matching that may not run the full pass (a correction, in a web request)
#: waits for another matching to finish before it leaves its records marked instead.
DEFERRABLE_WAIT_SECONDS = 5.0


def _lock() -> None:
    """Serialise matchings (SQLite: the IMMEDIATE transaction already holds the write lock)."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("LOCK TABLE contacts_contact IN SHARE ROW EXCLUSIVE MODE")


def _seeds(contact_ids: Sequence[int] | None) -> list[Seed]:
    """Return the contacts to place: ``contact_ids``, or those marked (no more than
    ``FULL_THRESHOLD`` and one: past that every component is recomputed anyway, and a
    first sync marks them all)."""
    if contact_ids is None:
        rows = Contact.objects.filter(needs_match=True)
        return list(rows.values_list("pk", "person_id", "matched_by")[: FULL_THRESHOLD + 1])
    seeds: list[Seed] = []
    for chunk in chunks(sorted(set(contact_ids))):
        seeds += Contact.objects.filter(pk__in=chunk).values_list("pk", "person_id", "matched_by")
    return seeds


@memory_bounded()  # a full matching streams through every key once
def persons_match(
    *, full: bool = False, contact_ids: Sequence[int] | None = None, allow_full: bool = True
) -> MatchResult:
    """Place the contacts marked ``needs_match`` (or ``contact_ids``) in the right people.

    Return what moved. With ``full`` (or many marked contacts, or a full matching that did
    not finish) every component is recomputed. ``contact_ids`` (records a correction
    speaks of) leaves the marks alone; with ``allow_full`` false, a matching that would
    need the full pass (or wait long for another matching) is not run (the result says
    ``deferred``: the caller marks the contacts for the next matching).
    """
    result = MatchResult()
    with matching_lock(timeout=None if allow_full else DEFERRABLE_WAIT_SECONDS) as locked:
        if not locked:
            result.deferred = True
            return result
        released = _match_incremental(result, full=full, contact_ids=contact_ids,
                                      allow_full=allow_full)  # fmt: skip
        if released is not None:
            _match_full(result, released)
    logger.info(
        "matching: %s marked, %s moved, %s people created, %s removed%s",
        result.marked,
        result.moved,
        result.persons_created,
        result.persons_deleted,
        " (full)" if result.full else "",
    )
    return result


def _match_incremental(
    result: MatchResult, *, full: bool, contact_ids: Sequence[int] | None, allow_full: bool
) -> list[int] | None:
    """Match incrementally in one transaction, when that will do; else return the lost
    keys read (their ids) for the full matching, having noted that one is owed."""
    with transaction.atomic():
        _lock()
        seeds = [] if full else _seeds(contact_ids)
        released = list(ReleasedKey.objects.values_list("pk", "type", "value"))
        owed = any(kind == FULL_OWED for _, kind, _ in released)
        result.marked = len(seeds)
        if not (full or owed or seeds or released):
            return None
        constraints = constraints_load()
        graph = None
        if not (full or owed) and len(seeds) + len(released) <= FULL_THRESHOLD:
            keys = {(kind, value) for _, kind, value in released}
            graph = graph_incremental(seeds, constraints, released=keys)
        if graph is None and not allow_full:
            result.deferred = True
            return None
        if graph is None:
            if not owed:  # committed now: a crash from here on leaves the next one full
                ReleasedKey.objects.create(type=FULL_OWED, value="")
            return [pk for pk, *_ in released]
        graph_apply(graph, result, seeds={pk for pk, *_ in seeds})
        if contact_ids is None:
            Contact.objects.filter(needs_match=True).update(needs_match=False)
        for chunk in chunks([pk for pk, *_ in released], 5000):
            ReleasedKey.objects.filter(pk__in=chunk).delete()
    return None


def _match_full(result: MatchResult, released: list[int]) -> None:
    """Recompute every person: clear the marks, read outside a transaction, write in chunks.

    The marks go first: a contact written after that is marked again (and the next
    matching places it), one written before is in what is read next.
    """
    result.full = True
    cleared = 0
    while True:
        with transaction.atomic():
            marked = list(
                Contact.objects.filter(needs_match=True).values_list("pk", flat=True)[:MARKS_CHUNK]
            )
            Contact.objects.filter(pk__in=marked).update(needs_match=False)
        cleared += len(marked)
        if len(marked) < MARKS_CHUNK:
            break
    result.marked = max(result.marked, cleared)  # the seeds read were capped, or are these
    graph = graph_full(constraints_load())
    graph_apply(graph, result, seeds=None)
    with transaction.atomic():
        for chunk in chunks(released, 5000):
            ReleasedKey.objects.filter(pk__in=chunk).delete()
        ReleasedKey.objects.filter(type=FULL_OWED).delete()
