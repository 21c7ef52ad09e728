"""Read the contact index: ``contact_search`` (one search box over every CRM)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from crmhub.connections.models import Connection
from crmhub.contacts import search
from crmhub.contacts.models import Contact, Person
from crmhub.contacts.search import Filters

__all__ = ["Filters", "SearchPage", "SearchRow", "contact_search"]
MAX_LIMIT = 200
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


def _true_key(plan: search.Plan, contact: Contact) -> tuple[int, int] | None:
    tier = search.tier_of(
        plan,
        names=contact.search_names,
        other=contact.search_other,
        phones=contact.search_phones,
        email_keys=contact.email_keys or (),
    )
    return (tier, contact.pk) if tier >= 0 else None


def _member_key(plan: search.Plan, member: Contact, found: tuple[int, int]) -> tuple | None:
    """Return where ``member`` matches; the database's word for the candidate itself wins
    when Python cannot tell (the trigram tier)."""
    key = _true_key(plan, member)
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
    scope = scope.select_related("person").only(*ROW_FIELDS, "person__display_name")
    contacts = list(scope.order_by("pk"))
    connections = Connection.objects.only("name", "kind", "country").in_bulk(
        {c.connection_id for c in contacts}
    )
    for contact in contacts:  # a handful of connections, shared by the rows
        contact.connection = connections[contact.connection_id]
    return {contact.pk: contact for contact in contacts}


def contact_search(
    *,
    query: str,
    filters: Filters | Mapping[str, Any] | None = None,
    after: str | None = None,
    limit: int = 50,
) -> SearchPage:
    """Return one page of people and contacts matching ``query``, best tiers first.

    ``query`` is matched against names, company, emails and phone digits (typed in any
    format), as prefixes of words; an exact email or phone comes first (see
    ``contacts.search`` for the tiers). Contacts of one person make one row, listing the
    person's contacts in every CRM; a contact without person is its own row. ``after``
    is the ``next_after`` of the previous page. Eight queries at most, whatever the data.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    plan = search.plan_for(query)
    if plan.empty:
        return SearchPage(rows=(), next_after=None)
    filters = _filters(filters)
    fetch = limit + limit // 2 + 1
    ordered, truncated = _ordered(
        search.candidates(plan, filters, after=_cursor(after), limit=fetch), fetch
    )
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
            (k for m in members if _passes(m, filters) and (k := _member_key(plan, m, key))),
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
    return SearchPage(rows=tuple(rows), next_after=next_after)
