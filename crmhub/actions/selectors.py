"""Read actions and batches (for the console, the admin and the services)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Count, QuerySet

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact

_CHUNK = 5000
#: The most contacts one batch may have.
MAX_BATCH = 100_000


def batch_contacts(
    *,
    connection: Connection,
    contact_ids: Sequence[int] | None = None,
    search: Mapping[str, Any] | None = None,
) -> list[Contact]:
    """Return the live contacts of ``connection`` a batch selection names, in id order.

    ``search`` is a saved search, ``{"query": ..., "filters": {...}}`` as the console keeps
    it, resolved by the contact index's own search: a person found through any of their
    contacts counts, so their contact in this connection is included. Contacts of other
    connections are left out either way.
    """
    live = Contact.objects.filter(connection=connection, deleted_at__isnull=True)
    if search is not None:
        contact_ids, person_ids = _search_matches(search)
        by_person = _chunked(live.values_list("pk", flat=True), "person_id", person_ids)
        contact_ids = [*contact_ids, *by_person]
    found = _chunked(live, "pk", sorted({int(i) for i in contact_ids or ()}))
    return sorted(found, key=lambda contact: contact.pk)


def _chunked(query: QuerySet[Any], field: str, values: Sequence[int]) -> list[Any]:
    """Return ``query`` filtered on ``field`` in ``values``, a few thousand at a time."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        rows.extend(query.filter(**{f"{field}__in": values[start : start + _CHUNK]}))
    return rows


def _search_matches(search: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """Return the ids of every contact and person the saved search finds (no paging)."""
    from crmhub.contacts import search as index_search

    raw = dict(search.get("filters") or {})
    filters = index_search.Filters(
        kinds=tuple(raw.get("kinds") or ()),
        connection_ids=tuple(int(pk) for pk in raw.get("connection_ids") or ()),
        record_types=tuple(raw.get("record_types") or ()),
    )
    plan = index_search.plan_for(str(search.get("query", "")))
    if plan.empty:
        return [], []
    groups = index_search.candidates(plan, filters, after=None, limit=MAX_BATCH)
    rows = [row for group in groups for row in group]
    return [pk for _, pk, _ in rows], sorted({person for *_, person in rows if person})


def action_list(
    *,
    state: str | None = None,
    connection: Connection | None = None,
    contact: Contact | None = None,
    batch: Batch | None = None,
) -> QuerySet[Action]:
    """Return actions, newest first, optionally narrowed (indexed filters only)."""
    actions = Action.objects.select_related("connection", "contact", "requested_by")
    if state:
        actions = actions.filter(state=state)
    if connection is not None:
        actions = actions.filter(connection=connection)
    if contact is not None:
        actions = actions.filter(contact=contact)
    if batch is not None:
        actions = actions.filter(batch=batch)
    return actions.order_by("-created_at", "-id")


def action_attempts(*, action: Action) -> QuerySet[Attempt]:
    """Return the attempts of ``action`` in order."""
    return action.attempt_set.order_by("number")


def batch_counts(*, batch: Batch) -> dict[str, int]:
    """Return the live number of the batch's actions in each state."""
    rows = (
        Action.objects.filter(batch=batch).order_by().values_list("state").annotate(n=Count("id"))
    )
    return {state: n for state, n in rows}


def actions_waiting_for_input(*, user: Any = None) -> QuerySet[Action]:
    """Return actions whose Collect! plan waits for an answer (of ``user``, if given)."""
    actions = Action.objects.filter(state=Action.State.NEEDS_INPUT)
    if user is not None:
        actions = actions.filter(requested_by=user)
    return actions.order_by("updated_at")
