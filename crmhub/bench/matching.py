"""``bench --section matching``: who matching makes one person, against the sandbox's truth.

Writes the sandbox's demo people (``--option people=N`` per CRM, 100,000 by default: a
fifth of them in three CRMs, one trap group in fifty — households, switchboards, shared
inboxes, placeholders) into the index with the sync's own writer, each record's remote id
being its person's key (the ground truth: two records with one key are one human). Then:

* the time of a full matching, and of an incremental one after 1,000 records changed;
* precision and recall of pairs: two records in one person are a pair (in one CRM too); a
  pair is true when both records carry the same key. The baseline is the rule before
  issue 14 (any email or phone shared across connections by at most 12 records);
* the false pairs per trap, and the pairs missed;
* the time of a full matching at ``--contacts`` records in all (``--contacts 1000000``),
  on an index written afresh when that is another size.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import connection as db
from django.db import transaction

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.index import RECORD_TYPES, bench_connections, contacts_write, remote_from_person
from crmhub.connections.models import Connection
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact, ContactKey, Person, ReleasedKey
from crmhub.contacts.sync.pages import SeenSet
from crmhub.sandbox.people import people_for
from crmhub.sandbox.people.base import TRAP_BASE

SECTION = "matching"
BATCH = 5000
CHANGED = 1_000
#: The rule before issue 14: a key shared by 2..12 records of two connections or more.
OLD_CROWD = 12


def _fill(connections: dict[str, Connection], people: int, write: Callable[[str], None]) -> dict:
    """Write ``people`` demo people per CRM; return each record's trap by person key."""
    traps: dict[int, str] = {}
    started = time.perf_counter()
    for kind, record_type in RECORD_TYPES.items():
        connection, seen, batch = connections[kind], SeenSet(), []
        for person in people_for(kind, people):
            if person.trap:
                traps[person.key] = person.trap
            batch.append(remote_from_person(person, record_type=person.record_type or record_type))
            if len(batch) >= BATCH:
                contacts_write(connection=connection, contacts=batch, seen=seen)
                batch = []
        if batch:
            contacts_write(connection=connection, contacts=batch, seen=seen)
        write(f"  matching: {kind} written ({time.perf_counter() - started:.0f} s)")
    Contact.objects.update(needs_match=False)  # as if matched: the full pass below times it
    return traps


def _empty() -> None:
    """Remove every contact, key and person (plain statements: the ORM would load them)."""
    with transaction.atomic(), db.cursor() as cursor:
        for model in (ContactKey, ReleasedKey, Contact, Person):
            cursor.execute(f"DELETE FROM {db.ops.quote_name(model._meta.db_table)}")  # noqa: S608


def _pairs(groups: Iterable[list[int]]) -> int:
    return sum(len(members) * (len(members) - 1) // 2 for members in groups)


def _truth_of(rows: Sequence[tuple[int, str, int | None]]) -> dict[int, list[int]]:
    by_key: dict[int, list[int]] = defaultdict(list)
    for pk, remote_id, _ in rows:
        by_key[int(remote_id)].append(pk)
    return by_key


def _scored(groups: Iterable[list[int]], key_of: dict[int, int], traps: dict[int, str]) -> dict:
    """Return the pairs of ``groups`` (lists of contact ids), the true ones, and the false
    ones per trap of their records."""
    made = true = 0
    false_by_trap: Counter[str] = Counter()
    for members in groups:
        made += len(members) * (len(members) - 1) // 2
        keys = Counter(key_of[pk] for pk in members)
        true += sum(n * (n - 1) // 2 for n in keys.values())
        if len(keys) > 1:
            for key, n in keys.items():
                others = len(members) - n
                false_by_trap[traps.get(key, "none") if key >= TRAP_BASE else "none"] += n * others
    for trap in false_by_trap:
        false_by_trap[trap] //= 2  # each false pair was counted from both of its records
    return {"made": made, "true": true, "false": dict(false_by_trap)}


def _old_rule_groups() -> Iterator[list[int]]:
    """Yield the people the rule before issue 14 made (for the baseline)."""
    parent: dict[int, int] = {}

    def find(item: int) -> int:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    sql = """
        SELECT k.type, k.value, k.contact_id, c.connection_id
        FROM contacts_contactkey k JOIN contacts_contact c ON c.id = k.contact_id
        WHERE (k.type, k.value) IN (SELECT type, value FROM contacts_contactkey
                                    GROUP BY type, value HAVING COUNT(*) BETWEEN 2 AND %s)
        ORDER BY k.type, k.value
    """
    with db.cursor() as cursor:
        cursor.execute(sql, [OLD_CROWD])
        rows = cursor.fetchall()
    members: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for kind, value, pk, connection_id in rows:
        members[(kind, value)].append((pk, connection_id))
    for holders in members.values():
        if len({connection_id for _, connection_id in holders}) > 1:
            first = find(holders[0][0])
            for pk, _ in holders[1:]:
                parent[find(pk)] = first
    groups: dict[int, list[int]] = defaultdict(list)
    for pk in list(parent):
        groups[find(pk)].append(pk)
    yield from (group for group in groups.values() if len(group) > 1)


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _quality(people: int, traps: dict[int, str], write: Callable[[str], None]) -> list[Row]:
    rows = list(Contact.objects.values_list("pk", "remote_id", "person_id"))
    key_of = {pk: int(remote_id) for pk, remote_id, _ in rows}
    truth = _pairs(_truth_of(rows).values())
    persons: dict[int, list[int]] = defaultdict(list)
    for pk, _, person_id in rows:
        if person_id:
            persons[person_id].append(pk)
    now = _scored(persons.values(), key_of, traps)
    before = _scored(_old_rule_groups(), key_of, traps)
    write(f"  matching: {now} (truth {truth} pairs); before issue 14: {before}")

    def precision(score: dict) -> float:
        return score["true"] / score["made"] if score["made"] else 1.0

    label = f"{people:,} people per CRM"
    result = [
        Row(SECTION, f"precision of pairs ({label})", round(precision(now), 5), "ratio",
            baseline=round(precision(before), 5), baseline_label="rule before issue 14",
            target=">= 0.999"),
        Row(SECTION, f"recall of pairs ({label})", round(now["true"] / truth, 5), "ratio",
            baseline=round(before["true"] / truth, 5), baseline_label="rule before issue 14",
            target=">= 0.99"),
        Row(SECTION, "true pairs (ground truth)", truth, "pairs"),
        Row(SECTION, "pairs made", now["made"], "pairs", baseline=before["made"],
            baseline_label="rule before issue 14"),
        Row(SECTION, "pairs missed", truth - now["true"], "pairs"),
    ]  # fmt: skip
    for trap in ("household", "switchboard", "inbox", "placeholder", "none"):
        result.append(
            Row(SECTION, f"false pairs: {trap}", now["false"].get(trap, 0), "pairs",
                baseline=before["false"].get(trap, 0), baseline_label="rule before issue 14",
                target="0")
        )  # fmt: skip
    return result


def _incremental_seconds() -> float:
    """Mark ``CHANGED`` records as a sync writing them would, and time their matching."""
    step = max(1, Contact.objects.count() // CHANGED)
    ids = list(Contact.objects.values_list("pk", flat=True)[::step][:CHANGED])
    Contact.objects.filter(pk__in=ids).update(needs_match=True)
    return _timed(persons_match)


def section(ctx: BenchContext) -> list[Row]:
    people = int(str(ctx.options.get("people") or 100_000))
    connections = bench_connections()
    traps = _fill(connections, people, ctx.write)
    contacts = Contact.objects.count()
    first = _timed(lambda: persons_match(full=True))
    again = _timed(lambda: persons_match(full=True))
    rows = [
        Row(SECTION, f"full matching, first ({contacts:,} contacts)", round(first, 1), "s"),
        Row(SECTION, f"full matching, again ({contacts:,} contacts)", round(again, 1), "s"),
        Row(SECTION, f"incremental matching of {CHANGED:,} changed contacts",
            round(_incremental_seconds() * 1000), "ms", baseline=round(again * 1000),
            baseline_label="full matching"),
    ]  # fmt: skip
    rows += _quality(people, traps, ctx.write)
    per_crm = ctx.contacts // len(RECORD_TYPES)
    if per_crm != people:
        _empty()
        _fill(connections, per_crm, ctx.write)
        total = Contact.objects.count()
        first = _timed(lambda: persons_match(full=True))
        again = _timed(lambda: persons_match(full=True))
        rows += [
            Row(SECTION, f"full matching, first ({total:,} contacts)", round(first, 1), "s"),
            Row(SECTION, f"full matching, again ({total:,} contacts)", round(again, 1), "s"),
        ]
    return rows
