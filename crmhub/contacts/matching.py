"""Link contacts of different CRMs into one ``Person`` by a shared email or phone key.

Rule: two live contacts of *different connections* sharing a normalised email or phone key
belong to the same person, and so (transitively) does everything linked to them. Names
never link anyone, nor does a key so common that it cannot be one person's
(``MAX_KEY_CONTACTS``). A person is a connected component of that graph with at least two
contacts; a contact linked to no other has no person. ``matched_by`` keeps the keys that
linked the contact.

Matching is incremental: the sync marks every row it writes ``needs_match``; matching
recomputes only the components those rows touch (their old people and everything sharing
a key with them), with a few bulk queries per round, and clears the marks. When very many
rows are marked (a first sync), it recomputes every component from one streamed, sorted
scan of the shared keys instead. It runs under a lock, so two syncs ending together
cannot interleave their assignments.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crmhub.contacts.models import Contact, ContactKey, Person

logger = logging.getLogger(__name__)

#: Above this many marked contacts, recompute everything in one streamed pass.
FULL_THRESHOLD = 20_000
MAX_ROUNDS = 12
#: A key on more contacts than this (an office switchboard, "noemail@example.com") says
#: nothing about who someone is: it links nobody.
MAX_KEY_CONTACTS = 12
_CHUNK = 500
_MATCHED_BY_MAX = 320

Key = tuple[str, str]


@dataclass
class MatchResult:
    """What one matching did."""

    marked: int = 0
    moved: int = 0
    persons_created: int = 0
    persons_deleted: int = 0
    full: bool = False


@dataclass
class _Graph:
    #: Every contact whose person is recomputed -> (current person id, current matched_by).
    scope: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    evidence: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def find(self, item: int) -> int:
        root = item
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(item, item) != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def link(self, key: Key, members: list[tuple[int, int]]) -> None:
        """Union the contacts of one key when they span two connections or more."""
        if len(members) > MAX_KEY_CONTACTS:
            return  # a switchboard or a placeholder address, not one person's
        if len({connection_id for _, connection_id in members}) < 2:
            return
        for contact_id, _ in members:
            self.parent.setdefault(contact_id, contact_id)
        first = self.find(members[0][0])
        for contact_id, _ in members:
            self.evidence[contact_id].add(f"{key[0]}:{key[1]}")
            root = self.find(contact_id)
            if root != first:
                self.parent[root] = first

    def components(self) -> list[list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for contact_id in list(self.parent):
            groups[self.find(contact_id)].append(contact_id)
        return [sorted(members) for members in groups.values() if len(members) > 1]


def _chunks(items: Iterable, size: int = _CHUNK) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _keys_q(keys: Iterable[Key]) -> Q:
    by_type: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_type[kind].append(value)
    query = Q(pk__in=[])
    for kind, values in by_type.items():
        query |= Q(type=kind, value__in=values)
    return query


def _link_rows(graph: _Graph, rows: Iterable[tuple[str, str, int, int]]) -> None:
    """Link contacts from (type, value, contact, connection) rows sorted by key."""
    current: Key | None = None
    members: list[tuple[int, int]] = []
    for kind, value, contact_id, connection_id in rows:
        if (kind, value) != current:
            if current is not None and len(members) > 1:
                graph.link(current, members)
            current, members = (kind, value), []
        members.append((contact_id, connection_id))
    if current is not None and len(members) > 1:
        graph.link(current, members)


# -- building the graph -------------------------------------------------------------------
def _graph_incremental(marked: Sequence[tuple[int, int | None, str]]) -> _Graph | None:
    """Return the graph of the components the marked contacts touch (None: too large)."""
    graph = _Graph()
    persons: set[int] = set()
    for pk, person_id, matched_by in marked:
        graph.scope[pk] = (person_id, matched_by)
        if person_id:
            persons.add(person_id)
    done_persons: set[int] = set()
    keyed: set[int] = set()
    known_keys: set[Key] = set()
    edges: list[tuple[str, str, int, int]] = []
    for _ in range(MAX_ROUNDS):
        new_persons = persons - done_persons
        for chunk in _chunks(new_persons):
            rows = Contact.objects.filter(person_id__in=chunk)
            for pk, person_id, matched_by in rows.values_list("pk", "person_id", "matched_by"):
                graph.scope.setdefault(pk, (person_id, matched_by))
        done_persons |= new_persons
        new_contacts = set(graph.scope) - keyed
        keyed |= new_contacts
        new_keys: set[Key] = set()
        for chunk in _chunks(new_contacts):
            for key in ContactKey.objects.filter(contact_id__in=chunk).values_list("type", "value"):
                if key not in known_keys:
                    new_keys.add(key)
        known_keys |= new_keys
        for chunk in _chunks(new_keys):
            keys = ContactKey.objects.filter(_keys_q(chunk), contact__deleted_at__isnull=True)
            for kind, value, pk, connection_id, person_id, matched_by in keys.values_list(
                "type",
                "value",
                "contact_id",
                "contact__connection_id",
                "contact__person_id",
                "contact__matched_by",
            ):
                edges.append((kind, value, pk, connection_id))
                graph.scope.setdefault(pk, (person_id, matched_by))
                if person_id:
                    persons.add(person_id)
        if not new_keys and not (persons - done_persons) and not (set(graph.scope) - keyed):
            break
    else:
        return None
    edges.sort()
    _link_rows(graph, edges)
    return graph


_SHARED_KEYS_SQL = """
    SELECT k.type, k.value, k.contact_id, c.connection_id
    FROM contacts_contactkey k
    JOIN contacts_contact c ON c.id = k.contact_id
    WHERE c.deleted_at IS NULL AND (k.type, k.value) IN (
        SELECT type, value FROM contacts_contactkey GROUP BY type, value
        HAVING COUNT(*) > 1 AND COUNT(*) <= %s
    )
    ORDER BY k.type, k.value
"""


def _graph_full() -> _Graph:
    """Return the graph of every component, from one streamed scan of the shared keys."""
    graph = _Graph()
    with default_connection.cursor() as cursor:
        cursor.execute(_SHARED_KEYS_SQL, [MAX_KEY_CONTACTS])

        def rows() -> Iterator[tuple[str, str, int, int]]:
            while batch := cursor.fetchmany(5000):
                yield from batch

        _link_rows(graph, rows())
    # Only contacts that have a person or get one can change; a contact with neither
    # stays as it is (no person, no evidence), however many were marked.
    placed = Contact.objects.filter(person__isnull=False).values_list(
        "pk", "person_id", "matched_by"
    )
    for pk, person_id, matched_by in placed.iterator(chunk_size=5000):
        graph.scope[pk] = (person_id, matched_by)
    for pk in graph.parent:
        graph.scope.setdefault(pk, (None, ""))
    return graph


# -- assigning people ---------------------------------------------------------------------
def _targets(graph: _Graph) -> tuple[dict[int, tuple[int | None, str]], list[list[int]]]:
    """Return each scoped contact's target (person or None, evidence) and the new groups."""
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
            targets[pk] = (person_id, _evidence(graph, pk))
    return targets, new_groups


def _evidence(graph: _Graph, pk: int) -> str:
    return " ".join(sorted(graph.evidence.get(pk, ())))[:_MATCHED_BY_MAX]


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
    for chunk in _chunks(person_ids):
        rows: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
        query = Contact.objects.filter(person_id__in=chunk, deleted_at__isnull=True)
        for person_id, first, last, full, company in query.values_list(
            "person_id", "first_name", "last_name", "full_name", "company"
        ):
            rows[person_id].append((first, last, full, company))
        now = default_connection.ops.adapt_datetimefield_value(timezone.now())
        with default_connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE contacts_person SET display_name = %s, updated_at = %s WHERE id = %s",
                [(_display_name(rows.get(pk, [])), now, pk) for pk in chunk],
            )


def _apply(graph: _Graph, result: MatchResult, *, marked: set[int] | None) -> None:
    """Write the people of ``graph``; rename those that changed (all when ``marked`` is None)."""
    targets, new_groups = _targets(graph)
    created = Person.objects.bulk_create([Person() for _ in new_groups])
    result.persons_created = len(created)
    for person, members in zip(created, new_groups, strict=True):
        for pk in members:
            targets[pk] = (person.pk, _evidence(graph, pk))
    changed = [pk for pk, target in targets.items() if target != graph.scope[pk]]
    touched = {graph.scope[pk][0] for pk in changed} | {targets[pk][0] for pk in changed}
    with default_connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE contacts_contact SET person_id = %s, matched_by = %s WHERE id = %s",
            [(targets[pk][0], targets[pk][1], pk) for pk in changed],
        )
    result.moved = len(changed)
    kept = {target[0] for target in targets.values() if target[0]}
    gone = {graph.scope[pk][0] for pk in graph.scope} - kept - {None}
    for chunk in _chunks(gone):
        result.persons_deleted += Person.objects.filter(pk__in=chunk).delete()[0]
    if marked is None:
        touched = set(kept)
    else:
        touched |= {targets[pk][0] for pk in marked}
    persons_name(person_ids=sorted(pid for pid in touched if pid and pid in kept))


def _lock() -> None:
    """Serialise matchings (SQLite: the IMMEDIATE transaction already holds the write lock)."""
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
            cursor.execute("LOCK TABLE contacts_contact IN SHARE ROW EXCLUSIVE MODE")


def persons_match(*, full: bool = False) -> MatchResult:
    """Place every contact marked ``needs_match`` in the right person; return what moved.

    With ``full`` (or many marked contacts) every component is recomputed.
    """
    result = MatchResult()
    with transaction.atomic():
        _lock()
        marked = Contact.objects.filter(needs_match=True)
        result.marked = marked.count()
        if not result.marked and not full:
            return result
        graph, marked_ids = None, None
        if not full and result.marked <= FULL_THRESHOLD:
            rows = list(marked.values_list("pk", "person_id", "matched_by"))
            marked_ids = {row[0] for row in rows}
            graph = _graph_incremental(rows)
        if graph is None:
            result.full, marked_ids = True, None
            graph = _graph_full()
        _apply(graph, result, marked=marked_ids)
        marked.update(needs_match=False)  # nothing else writes contacts while this runs
    logger.info(
        "matching: %s marked, %s moved, %s people created, %s removed",
        result.marked,
        result.moved,
        result.persons_created,
        result.persons_deleted,
    )
    return result
