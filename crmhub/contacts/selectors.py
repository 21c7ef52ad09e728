"""Read the contact index (``contact_search``: one search box over every CRM), people and
sync runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.base import ModelState

from crmhub.connections.models import Connection
from crmhub.contacts import search
from crmhub.contacts.models import Contact, Person, SyncRun
from crmhub.contacts.search import Filters
from crmhub.core.counting import created_per_range

__all__ = [
    "Filters",
    "SearchCount",
    "SearchPage",
    "SearchRow",
    "SyncOverview",
    "contact_counts_selected",
    "contact_detail",
    "contact_ids_selected",
    "contact_search",
    "contact_search_count",
    "contact_search_ids",
    "contacts_live",
    "person_contacts",
    "person_detail",
    "sync_run_history",
    "sync_runs_latest",
    "sync_runs_overview",
    "sync_runs_per_range",
]
MAX_LIMIT = 200
#: Up to this many people a search counts exactly; past it the count says "200+": four
#: pages of results, past which a narrower search serves better than paging. The count
#: reads the first ``COUNT_CAP + 1`` matches of the best tier that has them, in id order
#: when they are common: at a million contacts on PostgreSQL, 1,001 of them cost the
#: server more than the page itself (~20,000 contacts read for a name prefix like "mar").
COUNT_CAP = 200
_CHUNK = 5000
#: Groups fetched beyond the page, for those a previous page already showed.
SLACK_GROUPS = 5
#: What a result row shows and ranks by (the remote record itself is not loaded).
ROW_FIELDS = (
    "connection_id", "person_id", "remote_id", "record_type", "first_name", "last_name",
    "full_name", "company", "emails", "phones", "email_keys", "deleted_at", "search_names",
    "search_other", "search_phones",
)  # fmt: skip


@dataclass(frozen=True)
class SearchRow:
    """One result: a person with their contacts in every CRM, or a lone contact."""

    person: Person | None
    #: The contacts shown for the row, the best match first (then by CRM).
    contacts: tuple[Contact, ...]
    tier: int

    @property
    def contact(self) -> Contact:
        return self.contacts[0]

    @property
    def title(self) -> str:
        return (self.person.display_name if self.person else "") or self.contact.display_name

    @property
    def kinds(self) -> tuple[str, ...]:
        """Return the CRMs (connection kinds) the row's contacts are in, without repeats."""
        return tuple(dict.fromkeys(c.connection.kind for c in self.contacts))

    @property
    def exact(self) -> bool:
        return self.tier == search.TIER_EXACT


@dataclass(frozen=True)
class SearchPage:
    rows: tuple[SearchRow, ...]
    #: Pass as ``after`` for the next page; None when this is the last page.
    next_after: str | None
    #: The sub-queries read to their end (``search.candidates``): a count of the same
    #: search does not run them again.
    complete: search.Complete = field(default_factory=dict, compare=False, repr=False)
    #: The names' counts of the query's terms that the search read (PostgreSQL): its count
    #: does not read them again.
    name_counts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


def _cursor(after: str | None) -> tuple[int, int] | None:
    try:
        tier, pk = (int(part) for part in (after or "").split("-", 1))
    except ValueError:
        return None
    return (tier, pk) if tier >= 0 and pk >= 0 else None


def _filters(filters: Filters | Mapping[str, Any] | None) -> Filters:
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        return filters
    return Filters(
        kinds=tuple(filters.get("kinds") or ()),
        connection_ids=tuple(int(pk) for pk in filters.get("connection_ids") or ()),
        record_types=tuple(filters.get("record_types") or ()),
        include_deleted=bool(filters.get("include_deleted")),
    )


def _passes(contact: Contact, filters: Filters) -> bool:
    return (
        (filters.include_deleted or contact.deleted_at is None)
        and (not filters.kinds or contact.connection.kind in filters.kinds)
        and (not filters.connection_ids or contact.connection_id in filters.connection_ids)
        and (not filters.record_types or contact.record_type in filters.record_types)
    )


def _true_key(
    plan: search.Plan, contact: Contact, fixes: Mapping[str, Sequence[str]]
) -> tuple[int, int] | None:
    tier = search.tier_of(
        plan,
        names=contact.search_names,
        other=contact.search_other,
        phones=contact.search_phones,
        email_keys=contact.email_keys or (),
        fixes=fixes,
    )
    return (tier, contact.pk) if tier >= 0 else None


def _member_key(
    plan: search.Plan, member: Contact, found: tuple[int, int], fixes: Mapping[str, Sequence[str]]
) -> tuple | None:
    """Return where ``member`` matches (``fixes``: the corrections the search looked up, for
    the typo tier); the database's word for the candidate itself wins when Python cannot
    tell."""
    key = _true_key(plan, member, fixes)
    if key is None and member.pk == found[1]:
        return found
    return key


def _ordered(candidates: list[list[search.Candidate]], limit: int) -> tuple[list, bool]:
    """Merge the sub-queries (each contact at its first tier), keeping only the prefix
    that every sub-query fully covers; return it and whether anything lies beyond."""
    best: dict[int, tuple[int, int | None]] = {}
    for group in candidates:
        for tier, pk, person in group:
            if pk not in best or tier < best[pk][0]:
                best[pk] = (tier, person)
    merged = sorted(((tier, pk), person) for pk, (tier, person) in best.items())
    cut = [group[-1][:2] for group in candidates if len(group) >= limit]
    if not cut:
        return merged, False
    boundary = min(cut)
    return [item for item in merged if item[0] <= boundary], True


def _group_key(pk: int, person_id: int | None) -> tuple[str, int]:
    return ("p", person_id) if person_id else ("c", pk)


#: The fields of a row's connection (the others deferred, as ``only`` leaves them).
_CONNECTION_FIELDS = ("name", "kind", "country")  # in the model's order, as from_db takes them


def _row_contacts(scope: QuerySet[Contact]) -> list[tuple[Contact, str | None]]:
    """Return the contacts of ``scope`` in id order, with their ``ROW_FIELDS`` (the others
    deferred, as ``only`` leaves them) and their connection, each with its person's name.

    They are made as ``Model.from_db`` makes them, less ``__init__``'s work of a descriptor
    call per field: a short query's page holds ~300 contacts, and ``__init__`` was a third
    of their cost.
    """
    names = ("id", *ROW_FIELDS)
    rows = scope.order_by("pk").values_list(
        *names, "person__display_name", *(f"connection__{field}" for field in _CONNECTION_FIELDS)
    )
    contacts = []
    connections: dict[int, Connection] = {}
    for row in rows:
        contact = Contact.__new__(Contact)
        contact._state = ModelState()
        contact._state.adding = False
        contact._state.db = rows.db
        contact.__dict__.update(zip(names, row[: len(names)], strict=True))
        # A handful of connections, shared by the rows (joined: no query of their own).
        # Cached as the foreign key's descriptor caches it, less its checks (type,
        # router), ~300 times a page: these are the rows' own ids.
        connection = connections.get(contact.connection_id)
        if connection is None:
            fields = ["id", *_CONNECTION_FIELDS]
            values = [contact.connection_id, *row[len(names) + 1 :]]
            connection = connections[contact.connection_id] = Connection.from_db(
                rows.db, fields, values
            )
        contact._state.fields_cache["connection"] = connection
        contacts.append((contact, row[len(names)]))
    return contacts


def _rows_fetch(ordered: list, filters: Filters, groups: int) -> dict[int, Contact]:
    """Fetch the contacts of the first ``groups`` groups of ``ordered`` and their siblings."""
    keys: set[tuple[str, int]] = set()
    for (_, pk), person_id in ordered:
        keys.add(_group_key(pk, person_id))
        if len(keys) >= groups:
            break
    lone = [value for kind, value in keys if kind == "c"]
    persons = [value for kind, value in keys if kind == "p"]
    scope = Contact.objects.filter(Q(pk__in=lone) | Q(person_id__in=persons))
    if not filters.include_deleted:
        scope = scope.filter(deleted_at__isnull=True)
    named = _row_contacts(scope)
    # One person for a person's contacts, shared by the rows (a person of its own for each
    # contact was a sixth of a short query's page), cached as ``_row_contacts`` caches
    # their connections.
    people: dict[int, Person] = {}
    for contact, person_name in named:
        cache = contact._state.fields_cache
        if contact.person_id is not None:
            person = people.get(contact.person_id)
            if person is None:
                fields = ["id", "display_name"]
                person = Person.from_db(scope.db, fields, [contact.person_id, person_name])
                people[contact.person_id] = person
            cache["person"] = person
    return {contact.pk: contact for contact, _ in named}


def contact_search(
    *,
    query: str,
    filters: Filters | Mapping[str, Any] | None = None,
    after: str | None = None,
    limit: int = 50,
) -> SearchPage:
    """Return one page of people and contacts matching ``query``, best tiers first.

    ``query`` is matched against names, company, emails and phone digits (typed in any
    format), as prefixes of words; an exact email or phone comes first, and a name typed
    with one typo comes last (see ``contacts.search`` for the tiers). Contacts of one
    person make one row, listing the person's contacts in every CRM; a contact without
    person is its own row. ``after`` is the ``next_after`` of the previous page. Eight
    queries at most, whatever the data.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    plan = search.plan_for(query)
    if plan.empty:
        return SearchPage(rows=(), next_after=None)
    filters = _filters(filters)
    fetch = limit + limit // 2 + 1
    complete: search.Complete = {}
    fixes: dict[str, tuple[str, ...]] = {}
    name_counts: dict[str, int] = {}
    cursor = _cursor(after)
    # A first page is counted next (``contact_search_count``): a tier it finds in an index
    # is read up to the count's limit, which it then need not read again.
    found = search.candidates(
        plan, filters, after=cursor, limit=fetch, complete=complete, corrections=fixes,
        spare=COUNT_CAP + 1 if cursor is None else 0, name_counts=name_counts,
    )  # fmt: skip
    ordered, truncated = _ordered(found, fetch)
    if not ordered:
        return SearchPage(rows=(), next_after=None)
    by_pk = _rows_fetch(ordered, filters, limit + SLACK_GROUPS)
    siblings: dict[int, list[Contact]] = {}
    for member in by_pk.values():
        if member.person_id:
            siblings.setdefault(member.person_id, []).append(member)
    rows: list[SearchRow] = []
    shown: set[tuple[str, int]] = set()
    last: tuple[int, int] | None = None
    stopped = False
    for key, person_id in ordered:
        group = _group_key(key[1], person_id)
        contact = by_pk.get(key[1])
        if group in shown:
            last = key
            continue
        if contact is None or len(rows) >= limit:
            stopped = True  # beyond what was fetched: the next page starts here
            break
        members = siblings.get(person_id, [contact]) if person_id else [contact]
        best = min(
            (k for m in members if _passes(m, filters) and (k := _member_key(plan, m, key, fixes))),
            default=None,
        )
        last = key
        if best != key:
            continue  # shown (or to be shown) where its best match is
        shown.add(group)
        members.sort(key=lambda m: (m.pk != key[1], m.connection.kind, m.pk))
        rows.append(
            SearchRow(person=contact.person if person_id else None, contacts=tuple(members),
                      tier=key[0])
        )  # fmt: skip
    more = stopped or truncated
    next_after = f"{last[0]}-{last[1]}" if more and last else None
    return SearchPage(
        rows=tuple(rows), next_after=next_after, complete=complete, name_counts=name_counts
    )


@dataclass(frozen=True)
class SearchCount:
    """How many people (result rows) a search finds: exactly, or at least (``more``)."""

    people: int
    #: More may be found than ``people``: the count stopped at its cap.
    more: bool = False

    @property
    def text(self) -> str:
        """Return the count in words: "1 person", "37 people", "200+ people"."""
        noun = "person" if self.people == 1 and not self.more else "people"
        return f"{self.people:,}{'+' if self.more else ''} {noun}"


def contact_search_count(
    *,
    query: str,
    filters: Filters | Mapping[str, Any] | None = None,
    first_page: SearchPage | None = None,
    cap: int = COUNT_CAP,
) -> SearchCount:
    """Return how many people (rows of ``contact_search``) ``query`` finds, up to ``cap``.

    A ``first_page`` that holds every result is counted as it is (no query). Otherwise
    each tier reads at most ``cap + 1`` contact ids in index order (the tiers stop at the
    first that fills, as a search page does), folded into people: cheap at any size; a
    tier the first page read to its end is not read again. Past ``cap`` people, or when a
    tier was cut short, the count is a lower bound (``more``).
    """
    if first_page is not None and first_page.next_after is None:
        return SearchCount(people=len(first_page.rows))
    plan = search.plan_for(query)
    if plan.empty:
        return SearchCount(people=0)
    complete = first_page.complete if first_page is not None else None
    name_counts = first_page.name_counts if first_page is not None else None
    groups = search.candidates(
        plan, _filters(filters), after=None, limit=cap + 1, complete=complete, ordered=False,
        name_counts=name_counts,
    )  # fmt: skip
    people = {_group_key(pk, person) for group in groups for _, pk, person in group}
    if len(people) >= cap + 1:
        return SearchCount(people=cap, more=True)
    return SearchCount(people=len(people), more=any(len(group) > cap for group in groups))


def contact_search_ids(*, saved: Mapping[str, Any], limit: int) -> tuple[list[int], list[int]]:
    """Return the ids of every contact and person a saved search finds (no paging).

    ``saved`` is ``{"query": ..., "filters": {...}}`` as the console keeps a search;
    ``include_deleted`` is not applied (what a search finds is then narrowed to live
    contacts by whoever asks). At most ``limit`` candidates per tier.
    """
    raw = dict(saved.get("filters") or {})
    filters = Filters(
        kinds=tuple(raw.get("kinds") or ()),
        connection_ids=tuple(int(pk) for pk in raw.get("connection_ids") or ()),
        record_types=tuple(raw.get("record_types") or ()),
    )
    plan = search.plan_for(str(saved.get("query", "")))
    if plan.empty:
        return [], []
    groups = search.candidates(plan, filters, after=None, limit=limit)
    rows = [row for group in groups for row in group]
    return [pk for _, pk, _ in rows], sorted({person for *_, person in rows if person})


def _chunked(query: QuerySet[Any], field: str, values: Sequence[int]) -> list[Any]:
    """Return ``query`` filtered on ``field`` in ``values``, a few thousand at a time."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        rows.extend(query.filter(**{f"{field}__in": values[start : start + _CHUNK]}))
    return rows


def contacts_live(
    *,
    connection: Connection,
    contact_ids: Sequence[int] = (),
    person_ids: Sequence[int] = (),
    fields: Sequence[str] = (),
) -> list[Contact]:
    """Return the live contacts of ``connection`` among ``contact_ids`` and the contacts of
    ``person_ids``, in id order (any number of ids: read a few thousand at a time).
    ``fields``: only those are read (the others when first used)."""
    live = Contact.objects.filter(connection=connection, deleted_at__isnull=True)
    if person_ids:
        by_person = _chunked(live.values_list("pk", flat=True), "person_id", person_ids)
        contact_ids = [*contact_ids, *by_person]
    rows = live.only(*fields) if fields else live
    found = _chunked(rows, "pk", sorted({int(i) for i in contact_ids or ()}))
    return sorted(found, key=lambda contact: contact.pk)


# -- people and records -------------------------------------------------------------------------
def person_detail(*, pk: int) -> Person | None:
    """Return person ``pk``, or None."""
    return Person.objects.filter(pk=pk).first()


def contact_detail(*, pk: int) -> Contact | None:
    """Return contact ``pk`` with its connection and person, or None."""
    return Contact.objects.select_related("connection", "person").filter(pk=pk).first()


def person_contacts(*, person: Person) -> list[Contact]:
    """Return the records of ``person`` (at most 50), by CRM then record type, deleted last."""
    return list(
        Contact.objects.filter(person=person)
        .select_related("connection")
        .order_by(
            # Live (no deletion date) first on every database: PostgreSQL sorts NULL last.
            F("deleted_at").asc(nulls_first=True),
            "connection__kind",
            "connection__name",
            "record_type",
            "pk",
        )[:50]
    )


def contact_ids_selected(*, connection: Connection, contact_ids: Sequence[int]) -> list[int]:
    """Return the ids of the live contacts of ``connection`` among ``contact_ids``, in order.

    A picked person row names the records it showed, never the person: a bulk act runs on
    those, not on whatever records the person has gained since.
    """
    contacts = Contact.objects.filter(
        pk__in=list(contact_ids), deleted_at__isnull=True, connection=connection
    )
    return list(contacts.order_by("pk").values_list("pk", flat=True))


def contact_counts_selected(*, contact_ids: Sequence[int]) -> dict[int, int]:
    """Return, per connection id, how many live contacts ``contact_ids`` names there."""
    rows = (
        Contact.objects.filter(pk__in=list(contact_ids), deleted_at__isnull=True)
        .order_by()
        .values_list("connection_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


# -- sync runs ----------------------------------------------------------------------------------
def sync_runs_latest(*, connection_ids: Sequence[int]) -> dict[int, SyncRun]:
    """Return the latest sync run of each of ``connection_ids`` that has one (two queries)."""
    latest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
    run_ids = (
        Connection.objects.filter(pk__in=list(connection_ids))
        .annotate(run_id=Subquery(latest.values("id")[:1]))
        .values_list("run_id", flat=True)
    )
    return {run.connection_id: run for run in SyncRun.objects.filter(pk__in=list(run_ids))}


@dataclass(frozen=True)
class SyncOverview:
    """A connection's latest sync run and how fresh its part of the index is."""

    latest: SyncRun | None
    #: When the last complete (full) pass succeeded: every record, deletions included.
    full_at: datetime | None
    #: When the last incremental run succeeded: the records changed since the one before.
    incremental_at: datetime | None

    @property
    def fresh_at(self) -> datetime | None:
        """Return when the index last caught up with the remote (either kind of run)."""
        return max((t for t in (self.full_at, self.incremental_at) if t), default=None)


def sync_runs_overview(*, connection_ids: Sequence[int]) -> dict[int, SyncOverview]:
    """Return each of ``connection_ids``'s latest run and the end of its last succeeded full
    and incremental runs (two queries, whatever the number of connections or runs)."""
    runs = SyncRun.objects.filter(connection=OuterRef("pk")).order_by()
    succeeded = runs.filter(state=SyncRun.State.SUCCEEDED, finished_at__isnull=False)
    succeeded = succeeded.order_by("-finished_at")
    latest = runs.order_by("-created_at", "-id").values("id")[:1]
    full = succeeded.filter(mode=SyncRun.Mode.FULL).values("finished_at")[:1]
    incremental = succeeded.filter(mode=SyncRun.Mode.INCREMENTAL).values("finished_at")[:1]
    found = list(
        Connection.objects.filter(pk__in=list(connection_ids))
        .annotate(
            run_id=Subquery(latest), full_at=Subquery(full), incremental_at=Subquery(incremental)
        )
        .values_list("pk", "run_id", "full_at", "incremental_at")
    )
    latest_runs = SyncRun.objects.filter(pk__in=[run_id for _, run_id, _, _ in found if run_id])
    by_id = {run.pk: run for run in latest_runs}
    return {
        pk: SyncOverview(by_id.get(run_id) if run_id else None, full_at, incremental_at)
        for pk, run_id, full_at, incremental_at in found
    }


def sync_run_history(*, connection: Connection, limit: int = 20) -> list[SyncRun]:
    """Return the latest sync runs of ``connection``, newest first."""
    return list(
        SyncRun.objects.filter(connection=connection).order_by("-created_at", "-id")[:limit]
    )


def sync_runs_per_range(*, edges: Sequence[datetime]) -> list[int]:
    """Return how many sync runs were created in each [edge, next edge) range (one query)."""
    return created_per_range(SyncRun, edges)
