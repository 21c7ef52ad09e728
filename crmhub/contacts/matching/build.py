"""Build the graph of the contacts to place: all of them, or the components a few touch.

Both read the same facts — the live holders of each key, the emails of each contact, the
active corrections — and link them with one function (``_link``), in one order, so that
for any component the full and the incremental matching cut the same people.

* Full: one streamed, sorted scan of every key held twice or more (``_SHARED_KEYS_SQL``),
  grouped here; the rule is applied to each group as it passes.
* Incremental: from the seed contacts (marked by a sync, or named by a correction), rounds
  of a few bulk queries widen the scope to everything their current people, their keys
  (and the keys contacts lost, ``ReleasedKey``), their identifying keys' holders and their
  staff joins reach, until nothing new comes; ``None`` when that takes too many rounds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter

import orjson
from django.db import connection as db
from django.db.models import Q

from crmhub.contacts.matching.constraints import Constraints
from crmhub.contacts.matching.graph import Graph
from crmhub.contacts.matching.rule import Key, key_identifies, real_emails
from crmhub.contacts.models import Contact, ContactKey

MAX_ROUNDS = 12
_CHUNK = 500
#: (contact, person, matched_by) of a contact to place.
Seed = tuple[int, int | None, str]


def chunks(items: Iterable, size: int = _CHUNK) -> Iterator[list]:
    """Yield ``items`` in lists of ``size``."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _listed(value: object) -> list[str]:
    """Return a JSON list column as a raw cursor gives it (text on SQLite) as a list."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return list(value) if isinstance(value, list | tuple) else []


def _keys_q(keys: Iterable[Key]) -> Q:
    by_type: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_type[kind].append(value)
    query = Q(pk__in=[])
    for kind, values in by_type.items():
        query |= Q(type=kind, value__in=values)
    return query


def _link(
    graph: Graph,
    must: Sequence[tuple[int, int, int]],
    emails: dict[int, frozenset[str]],
    groups: Iterable[tuple[Key, list[tuple[int, int, object]]]],
) -> None:
    """Apply the links in the rule's order: staff joins between live contacts (``emails``
    holds every live one), then each key group (sorted by key; holders as (contact,
    connection, email keys)) whose key identifies."""
    for first, second, correction_id in must:
        if first in emails and second in emails:
            graph.add(first, emails[first])
            graph.add(second, emails[second])
            graph.link(first, second, f"staff:{correction_id}")
    for (kind, value), holders in groups:
        if not key_identifies(kind, value, [connection_id for _, connection_id, _ in holders]):
            continue
        members = sorted(contact_id for contact_id, _, _ in holders)
        for contact_id, _, email_keys in holders:
            if contact_id not in graph.parent:
                graph.add(contact_id, real_emails(_listed(email_keys)))
        graph.link_key(f"{kind}:{value}", members)


def _must_emails(contact_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Return the real emails of the live contacts among ``contact_ids``."""
    found: dict[int, frozenset[str]] = {}
    for chunk in chunks(sorted(set(contact_ids))):
        rows = Contact.objects.filter(pk__in=chunk, deleted_at__isnull=True)
        for pk, email_keys in rows.values_list("pk", "email_keys"):
            found[pk] = real_emails(_listed(email_keys))
    return found


# -- full -----------------------------------------------------------------------------------
_SHARED_KEYS_SQL = """
    SELECT k.type, k.value, k.contact_id, c.connection_id, c.email_keys
    FROM contacts_contactkey k
    JOIN contacts_contact c ON c.id = k.contact_id
    WHERE c.deleted_at IS NULL AND (k.type, k.value) IN (
        SELECT type, value FROM contacts_contactkey GROUP BY type, value HAVING COUNT(*) > 1
    )
    ORDER BY k.type{collate}, k.value{collate}, k.contact_id
"""


def graph_full(constraints: Constraints) -> Graph:
    """Return the graph of every component, from one streamed scan of the shared keys."""
    graph = Graph(constraints.cannot)
    # Keys are ordered by their bytes, as Python orders them (PostgreSQL: not its locale).
    collate = ' COLLATE "C"' if db.vendor == "postgresql" else ""
    must = constraints.must
    with db.cursor() as cursor:
        cursor.execute(_SHARED_KEYS_SQL.format(collate=collate))

        def rows() -> Iterator[tuple]:
            while batch := cursor.fetchmany(5000):
                yield from batch

        groups = (
            (key, [row[2:] for row in holders])
            for key, holders in groupby(rows(), key=itemgetter(0, 1))
        )
        _link(graph, must, _must_emails(pk for edge in must for pk in edge[:2]), groups)
    # Only contacts that have a person or get one can change; a contact with neither
    # stays as it is (no person, no evidence).
    placed = Contact.objects.filter(person__isnull=False).values_list(
        "pk", "person_id", "matched_by"
    )
    for pk, person_id, matched_by in placed.iterator(chunk_size=5000):
        graph.scope[pk] = (person_id, matched_by)
    for pk in graph.parent:
        graph.scope.setdefault(pk, (None, ""))
    return graph


# -- incremental ----------------------------------------------------------------------------
_HOLDER_FIELDS = ("type", "value", "contact_id", "contact__connection_id", "contact__person_id",
                  "contact__matched_by", "contact__email_keys")  # fmt: skip


class _Scope:
    """The contacts an incremental matching recomputes, widened round by round."""

    def __init__(self, seeds: Sequence[Seed], constraints: Constraints) -> None:
        self.constraints = constraints
        self.contacts: dict[int, tuple[int | None, str]] = {pk: (p, m) for pk, p, m in seeds}
        self.persons = {person for _, person, _ in seeds if person}
        self.persons_done: set[int] = set()
        self.keyed: set[int] = set()
        self.partnered: set[int] = set()
        self.keys_known: set[Key] = set()
        #: Identifying keys -> live holders (contact, connection, email keys).
        self.groups: dict[Key, list[tuple[int, int, object]]] = {}

    def _place(self, rows: Iterable[tuple[int, int | None, str]]) -> None:
        for pk, person_id, matched_by in rows:
            self.contacts.setdefault(pk, (person_id, matched_by))
            if person_id:
                self.persons.add(person_id)

    def widen_by_persons(self) -> bool:
        new = self.persons - self.persons_done
        self.persons_done |= new
        for chunk in chunks(new):
            rows = Contact.objects.filter(person_id__in=chunk)
            self._place(rows.values_list("pk", "person_id", "matched_by"))
        return bool(new)

    def widen_by_joins(self) -> bool:
        partners = self.constraints.partners
        new = [pk for pk in self.contacts if pk not in self.partnered and pk in partners]
        self.partnered.update(new)
        wanted = {other for pk in new for other in partners[pk]} - set(self.contacts)
        for chunk in chunks(sorted(wanted)):
            rows = Contact.objects.filter(pk__in=chunk)
            self._place(rows.values_list("pk", "person_id", "matched_by"))
        return bool(wanted)

    def new_keys(self, extra: Iterable[Key] = ()) -> set[Key]:
        """Return the keys of the contacts not yet looked at (and ``extra``) not yet known."""
        new_contacts = set(self.contacts) - self.keyed
        self.keyed |= new_contacts
        keys = set(extra) - self.keys_known
        for chunk in chunks(new_contacts):
            for key in ContactKey.objects.filter(contact_id__in=chunk).values_list("type", "value"):
                if key not in self.keys_known:
                    keys.add(key)
        self.keys_known |= keys
        return keys

    def widen_by_keys(self, keys: set[Key], *, every_holder: bool) -> None:
        """Read the live holders of ``keys``; place those of identifying keys (of every
        key with ``every_holder``: the seeds' keys, whose status may have changed)."""
        for chunk in chunks(sorted(keys)):
            rows = ContactKey.objects.filter(_keys_q(chunk), contact__deleted_at__isnull=True)
            found = sorted(rows.values_list(*_HOLDER_FIELDS))
            for (kind, value), holders in groupby(found, key=itemgetter(0, 1)):
                members = list(holders)
                identifies = key_identifies(kind, value, [row[3] for row in members])
                if identifies:
                    self.groups[(kind, value)] = [(row[2], row[3], row[6]) for row in members]
                if identifies or every_holder:
                    self._place((row[2], row[4], row[5]) for row in members)


def graph_incremental(
    seeds: Sequence[Seed], constraints: Constraints, *, released: Iterable[Key] = ()
) -> Graph | None:
    """Return the graph of the components ``seeds`` touch (None: too many rounds)."""
    scope = _Scope(seeds, constraints)
    # The seeds' keys (and those lost) may have changed status: every holder is placed.
    scope.widen_by_keys(scope.new_keys(released), every_holder=True)
    for _ in range(MAX_ROUNDS):
        grew = scope.widen_by_persons()
        grew = scope.widen_by_joins() or grew
        keys = scope.new_keys()
        scope.widen_by_keys(keys, every_holder=False)
        if not (grew or keys):
            break
    else:
        return None
    graph = Graph(constraints.cannot)
    graph.scope = scope.contacts
    must = constraints.must_of(set(scope.contacts))
    emails = _must_emails(pk for edge in must for pk in edge[:2])
    _link(graph, must, emails, sorted(scope.groups.items()))
    return graph
