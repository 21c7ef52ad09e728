"""What staff corrections require of every matching: pairs to keep together or apart.

A join asks for every two records of its two sides to be one person; a split for the
record split out never to be with the others of its person then. When corrections speak
of the same two records, the later one decides. Corrections are few (made by hand): they
are read whole, in one query, by every matching.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from crmhub.contacts.models import MatchCorrection, MatchCorrectionContact


@dataclass(frozen=True)
class Constraints:
    """The pairs the active corrections decide."""

    #: (contact, contact, correction id) to keep together, sorted.
    must: tuple[tuple[int, int, int], ...] = ()
    #: Contact -> the contacts it is kept together with.
    partners: dict[int, set[int]] = field(default_factory=dict)
    #: Contact -> the contacts it is kept apart from.
    cannot: dict[int, frozenset[int]] = field(default_factory=dict)

    def must_of(self, contact_ids: set[int]) -> list[tuple[int, int, int]]:
        """Return the pairs to keep together that involve ``contact_ids``."""
        return [edge for edge in self.must if edge[0] in contact_ids or edge[1] in contact_ids]


def constraints_load() -> Constraints:
    """Return what the active (not undone) corrections decide."""
    rows = MatchCorrectionContact.objects.filter(correction__undone_at__isnull=True).values_list(
        "correction_id", "correction__kind", "correction__created_at", "contact_id", "side"
    )
    sides: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: {"a": [], "b": []})
    for correction_id, kind, created_at, contact_id, side in rows:
        sides[(created_at, correction_id, kind)][side].append(contact_id)
    decided: dict[tuple[int, int], tuple[int, str]] = {}
    for (_, correction_id, kind), members in sorted(sides.items()):
        pairs: Iterable[tuple[int, int]]
        if kind == MatchCorrection.Kind.JOIN:
            pairs = combinations(sorted({*members["a"], *members["b"]}), 2)
        else:
            pairs = ((a, b) for a in members["a"] for b in members["b"] if a != b)
        for first, second in pairs:
            decided[(min(first, second), max(first, second))] = (correction_id, kind)
    must: list[tuple[int, int, int]] = []
    partners: dict[int, set[int]] = defaultdict(set)
    cannot: dict[int, set[int]] = defaultdict(set)
    for (first, second), (correction_id, kind) in decided.items():
        if kind == MatchCorrection.Kind.JOIN:
            must.append((first, second, correction_id))
            partners[first].add(second)
            partners[second].add(first)
        else:
            cannot[first].add(second)
            cannot[second].add(first)
    return Constraints(
        must=tuple(sorted(must)),
        partners=dict(partners),
        cannot={pk: frozenset(others) for pk, others in cannot.items()},
    )
