"""Write the people a graph makes: keep person ids where they were, name what changed.

Every write is done a chunk a transaction (``CHUNK`` rows): inside the caller's transaction
(an incremental matching) these are savepoints; outside (a full matching) each commits, so
the write lock is never held for long.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from crmhub.contacts.matching.build import chunks
from crmhub.contacts.matching.graph import Graph
from crmhub.contacts.models import Contact, Person

_MATCHED_BY_MAX = 320
#: Rows written a transaction.
CHUNK = 2_000


@dataclass
class MatchResult:
    """What one matching did."""

    marked: int = 0
    moved: int = 0
    persons_created: int = 0
    persons_deleted: int = 0
    full: bool = False
    #: Not run: it would have needed the full pass, which the caller did not allow.
    deferred: bool = False


def evidence_text(labels: Iterable[str]) -> str:
    """Return a contact's ``matched_by``: its sorted link labels, whole ones only."""
    text = ""
    for label in sorted(labels):
        candidate = f"{text} {label}" if text else label
        if len(candidate) > _MATCHED_BY_MAX:
            break
        text = candidate
    return text


def _targets(graph: Graph) -> tuple[dict[int, tuple[int | None, str]], list[list[int]]]:
    """Return each scoped contact's target (person or None, evidence) and the new groups.

    A group keeps the person most of its contacts had (the largest group first), so ids
    stay stable when a person only grows or loses a record.
    """
    targets: dict[int, tuple[int | None, str]] = dict.fromkeys(graph.scope, (None, ""))
    taken: set[int] = set()
    new_groups: list[list[int]] = []
    for members in sorted(graph.components(), key=lambda group: (-len(group), group[0])):
        counts = Counter(graph.scope[pk][0] for pk in members if graph.scope[pk][0])
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        person_id = next((pid for pid, _ in ranked if pid not in taken), None)
        if person_id is None:
            new_groups.append(members)
            continue
        taken.add(person_id)
        for pk in members:
            targets[pk] = (person_id, evidence_text(graph.evidence.get(pk, ())))
    return targets, new_groups


def _display_name(rows: list[tuple[str, str, str, str]]) -> str:
    names: Counter[str] = Counter()
    for first, last, full, company in rows:
        name = (full or f"{first} {last}").strip() or company
        if name:
            names[" ".join(name.split())] += 1
    if not names:
        return ""
    return max(names.items(), key=lambda item: (item[1], " " in item[0], len(item[0])))[0][:300]


def persons_name(*, person_ids: Iterable[int]) -> None:
    """Set each person's display name: the name most of its live contacts carry."""
    for chunk in chunks(person_ids):
        rows: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
        query = Contact.objects.filter(person_id__in=chunk, deleted_at__isnull=True)
        for person_id, first, last, full, company in query.values_list(
            "person_id", "first_name", "last_name", "full_name", "company"
        ):
            rows[person_id].append((first, last, full, company))
        now = db.ops.adapt_datetimefield_value(timezone.now())
        with transaction.atomic(), db.cursor() as cursor:
            cursor.executemany(
                "UPDATE contacts_person SET display_name = %s, updated_at = %s WHERE id = %s",
                [(_display_name(rows.get(pk, [])), now, pk) for pk in chunk],
            )


def graph_apply(graph: Graph, result: MatchResult, *, seeds: set[int] | None) -> None:
    """Write the people of ``graph``; rename those that changed (all when ``seeds`` is None)."""
    targets, new_groups = _targets(graph)
    created: list[Person] = []
    for chunk in chunks(new_groups, CHUNK):
        with transaction.atomic():
            created += Person.objects.bulk_create([Person() for _ in chunk])
    result.persons_created = len(created)
    for person, members in zip(created, new_groups, strict=True):
        for pk in members:
            targets[pk] = (person.pk, evidence_text(graph.evidence.get(pk, ())))
    changed = [pk for pk, target in targets.items() if target != graph.scope[pk]]
    touched = {graph.scope[pk][0] for pk in changed} | {targets[pk][0] for pk in changed}
    for chunk in chunks(changed, CHUNK):
        with transaction.atomic(), db.cursor() as cursor:
            cursor.executemany(
                "UPDATE contacts_contact SET person_id = %s, matched_by = %s WHERE id = %s",
                [(targets[pk][0], targets[pk][1], pk) for pk in chunk],
            )
    result.moved = len(changed)
    kept = {target[0] for target in targets.values() if target[0]}
    gone = {graph.scope[pk][0] for pk in graph.scope} - kept - {None}
    for chunk in chunks(gone):
        with transaction.atomic():
            result.persons_deleted += Person.objects.filter(pk__in=chunk).delete()[0]
    if seeds is None:
        touched = set(kept)
    else:
        touched |= {targets[pk][0] for pk in seeds if pk in targets}
    persons_name(person_ids=sorted(pid for pid in touched if pid and pid in kept))
