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
function (``build``). It runs under a lock, so two matchings cannot interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import connection as db
from django.db import transaction

from crmhub.contacts.matching.apply import MatchResult, graph_apply, persons_name
from crmhub.contacts.matching.build import Seed, chunks, graph_full, graph_incremental
from crmhub.contacts.matching.constraints import constraints_load
from crmhub.contacts.models import Contact, ReleasedKey

__all__ = ["FULL_THRESHOLD", "MatchResult", "persons_match", "persons_name"]
logger = logging.getLogger(__name__)

#: Above this many marked contacts (and lost keys), recompute everything in one pass.
FULL_THRESHOLD = 20_000


def _lock() -> None:
    """Serialise matchings (SQLite: the IMMEDIATE transaction already holds the write lock)."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("LOCK TABLE contacts_contact IN SHARE ROW EXCLUSIVE MODE")


def _seeds(contact_ids: Sequence[int] | None) -> list[Seed]:
    if contact_ids is None:
        rows = Contact.objects.filter(needs_match=True)
        return list(rows.values_list("pk", "person_id", "matched_by"))
    seeds: list[Seed] = []
    for chunk in chunks(sorted(set(contact_ids))):
        seeds += Contact.objects.filter(pk__in=chunk).values_list("pk", "person_id", "matched_by")
    return seeds


def persons_match(
    *, full: bool = False, contact_ids: Sequence[int] | None = None, allow_full: bool = True
) -> MatchResult:
    """Place the contacts marked ``needs_match`` (or ``contact_ids``) in the right people.

    Return what moved. With ``full`` (or many marked contacts) every component is
    recomputed. ``contact_ids`` (records a correction speaks of) leaves the marks alone;
    with ``allow_full`` false, a matching that would need the full pass is not run (the
    result says ``deferred``: the caller marks the contacts for the next matching).
    """
    result = MatchResult()
    with transaction.atomic():
        _lock()
        seeds = [] if full else _seeds(contact_ids)
        released = list(ReleasedKey.objects.values_list("pk", "type", "value"))
        result.marked = len(seeds)
        if not (full or seeds or released):
            return result
        constraints = constraints_load()
        graph = None
        if not full and len(seeds) + len(released) <= FULL_THRESHOLD:
            keys = {(kind, value) for _, kind, value in released}
            graph = graph_incremental(seeds, constraints, released=keys)
        if graph is None and not allow_full:
            result.deferred = True
            return result
        if graph is None:
            result.full = True
            graph = graph_full(constraints)
        graph_apply(graph, result, seeds=None if result.full else {pk for pk, *_ in seeds})
        if contact_ids is None or result.full:
            Contact.objects.filter(needs_match=True).update(needs_match=False)
        for chunk in chunks([pk for pk, *_ in released], 5000):
            ReleasedKey.objects.filter(pk__in=chunk).delete()
    logger.info(
        "matching: %s marked, %s moved, %s people created, %s removed",
        result.marked,
        result.moved,
        result.persons_created,
        result.persons_deleted,
    )
    return result
