"""What the console's pages show, read in a constant number of queries.

Page data only: the rules live in the apps' services and selectors. Every list is
bounded and fetched with its relations (``select_related``), so the query count of a
page does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any

from django.core.cache import cache
from django.db import connection as db
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.connections.kinds import KINDS
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, Person, RecordType, SyncRun

ATTENTION_STATES = (Action.State.UNKNOWN, Action.State.FAILED, Action.State.NEEDS_INPUT)
CHART_SECONDS = 60


# -- connections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionRow:
    connection: Connection
    contacts: int
    last_sync: SyncRun | None

    @property
    def syncing(self) -> bool:
        return self.last_sync is not None and self.last_sync.state in SyncRun.ACTIVE_STATES

    @property
    def throttled(self) -> bool:
        until = self.connection.throttled_until
        return until is not None and until > timezone.now()


def connection_rows(*, connections: Iterable[Connection] | None = None) -> list[ConnectionRow]:
    """Return every connection with its live contact count (as of its last sync) and its
    latest sync run."""
    items = list(connections if connections is not None else Connection.objects.order_by("name"))
    ids = [c.pk for c in items]
    latest = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
    run_ids = (
        Connection.objects.filter(pk__in=ids)
        .annotate(run_id=Subquery(latest.values("id")[:1]))
        .values_list("run_id", flat=True)
    )
    runs = {run.connection_id: run for run in SyncRun.objects.filter(pk__in=list(run_ids))}
    return [ConnectionRow(c, c.contacts_live, runs.get(c.pk)) for c in items]


def connection_sync_history(*, connection: Connection, limit: int = 20) -> list[SyncRun]:
    """Return the latest sync runs of ``connection``."""
    return list(
        SyncRun.objects.filter(connection=connection).order_by("-created_at", "-id")[:limit]
    )


# -- actions ------------------------------------------------------------------------------------
def _with_relations(actions: QuerySet[Action]) -> QuerySet[Action]:
    return actions.select_related("connection", "contact", "requested_by", "batch")


def _not_bulk(actions: QuerySet[Action]) -> QuerySet[Action]:
    """Return ``actions`` without bulk ones, written so the planner keeps its better index.

    (``batch_id IS NULL`` would lure SQLite onto the batch index, then a sort of them all.)
    """
    return actions.alias(in_batch=Coalesce("batch_id", Value(0))).filter(in_batch=0)


def actions_needing_attention(*, limit: int = 10) -> list[Action]:
    """Return unknown outcomes, failures not yet resent and prompts waiting, newest first.

    Failures of a bulk run are listed on its own page (and its CSV), not here; an unknown
    outcome is listed wherever it comes from. One indexed query per state.
    """
    resent = Action.objects.filter(resend_of=OuterRef("pk"))
    found: list[Action] = []
    for state in ATTENTION_STATES:
        actions = Action.objects.filter(state=state, safe=False).exclude(Exists(resent))
        if state != Action.State.UNKNOWN:
            actions = _not_bulk(actions)
        found += _with_relations(actions).order_by("-not_before", "-id")[:limit]
    found.sort(key=lambda action: (action.created_at, action.pk), reverse=True)
    return found[:limit]


def attention_counts() -> dict[str, int]:
    """Return how many actions are in each state that needs a person."""
    rows = (
        Action.objects.filter(state__in=ATTENTION_STATES)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
    )
    counts: dict[str, int] = {str(state): 0 for state in ATTENTION_STATES}
    counts.update(dict(rows))
    return counts


def actions_recent(*, limit: int = 10) -> list[Action]:
    """Return the latest acts asked for by a person (not bulk runs, not page reads)."""
    actions = _not_bulk(Action.objects.filter(safe=False))
    return list(_with_relations(actions).order_by("-created_at", "-id")[:limit])


def _counts_per_range(model: Any, edges: list[datetime]) -> list[int]:
    """Return how many rows of ``model`` were created in each [edge, next edge) range.

    One statement of scalar sub-queries, each an index-only range count on ``created_at``:
    no per-row date function, no sort, whatever the number of rows.
    """
    table = db.ops.quote_name(model._meta.db_table)
    column = db.ops.quote_name("created_at")
    ranges = list(pairwise(edges))
    # Names come from the model (quoted), values are bound parameters.
    count = f"(SELECT COUNT(*) FROM {table} WHERE {column} >= %s AND {column} < %s)"  # noqa: S608
    select = ", ".join(count for _ in ranges)
    params = [db.ops.adapt_datetimefield_value(edge) for pair in ranges for edge in pair]
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {select}", params)
        row = cursor.fetchone()
    return [int(value or 0) for value in row]


def activity_per_day(*, days: int = 14) -> dict[str, list[Any]]:
    """Return actions and syncs per day over the last ``days`` days, for the chart.

    Kept a minute: the figures of past days do not change.
    """
    key = f"console:activity:{days}"
    cached: dict[str, list[Any]] | None = cache.get(key)
    if cached is not None:
        return cached
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    labels = [today - timedelta(days=days - 1 - n) for n in range(days)]
    edges = [datetime.combine(day, time.min, tzinfo=zone) for day in labels]
    edges.append(edges[-1] + timedelta(days=1))
    data: dict[str, list[Any]] = {
        "labels": [day.isoformat() for day in labels],
        "actions": _counts_per_range(Action, edges),
        "syncs": _counts_per_range(SyncRun, edges),
    }
    cache.set(key, data, CHART_SECONDS)
    return data


def action_detail(*, pk: int) -> Action | None:
    """Return one action with its relations, or None."""
    return _with_relations(Action.objects.filter(pk=pk)).select_related("resend_of").first()


def action_attempts(*, action: Action) -> list[Attempt]:
    """Return the attempts of ``action``, first first."""
    return list(action.attempt_set.order_by("number"))


def actions_of_contacts(*, contact_ids: Sequence[int], limit: int = 20) -> list[Action]:
    """Return the latest acts on any of ``contact_ids`` (page reads left out)."""
    actions = Action.objects.filter(contact_id__in=contact_ids, safe=False)
    return list(_with_relations(actions).order_by("-created_at", "-id")[:limit])


def _reads(
    operation: str, connection: Connection, contact: Contact | None, params: dict[str, Any]
) -> QuerySet[Action]:
    reads = Action.objects.filter(operation=operation, connection=connection)
    if contact is not None:
        reads = reads.filter(contact=contact)
    for name, value in params.items():
        reads = reads.filter(**{f"params__{name}": value})
    return reads.order_by("-created_at", "-id")


def latest_read(
    *,
    operation: str,
    connection: Connection,
    contact: Contact | None = None,
    params: dict[str, Any] | None = None,
) -> Action | None:
    """Return the latest read ``operation`` of ``connection`` (on ``contact``), if any."""
    reads = _reads(operation, connection, contact, params or {})
    return _with_relations(reads).first()


def latest_result(
    *,
    operation: str,
    connection: Connection,
    contact: Contact | None = None,
    params: dict[str, Any] | None = None,
) -> Action | None:
    """Return the latest succeeded read ``operation`` (its ``result`` holds the data)."""
    reads = _reads(operation, connection, contact, params or {})
    return reads.filter(state=Action.State.SUCCEEDED).first()


def latest_reads(
    *, operation: str, contact_ids: Sequence[int]
) -> dict[int, tuple[Action | None, Action | None]]:
    """Return, per contact, its latest read ``operation`` and its latest succeeded one.

    Two queries whatever the number of contacts (a person may have several records in
    one CRM): each contact's two action ids by sub-query, then those actions.
    """
    if not contact_ids:
        return {}

    def newest(*, succeeded: bool) -> Subquery:
        reads = Action.objects.filter(operation=operation, contact=OuterRef("pk"))
        if succeeded:
            reads = reads.filter(state=Action.State.SUCCEEDED)
        return Subquery(reads.order_by("-created_at", "-id").values("id")[:1])

    rows = list(
        Contact.objects.filter(pk__in=contact_ids)
        .annotate(latest=newest(succeeded=False), result=newest(succeeded=True))
        .values_list("pk", "latest", "result")
    )
    wanted = {pk for _, latest, result in rows for pk in (latest, result) if pk}
    actions = _with_relations(Action.objects.filter(pk__in=wanted)).in_bulk() if wanted else {}
    return {pk: (actions.get(latest), actions.get(result)) for pk, latest, result in rows}


def contact_links(*, contact_ids: Sequence[int]) -> list[Action]:
    """Return the AllClients links added to ``contact_ids`` (succeeded add_contact_link)."""
    # The state is compared through an expression so that SQLite keeps the contact index
    # (its planner, without statistics, would take the state index: most actions succeed).
    return list(
        Action.objects.filter(contact_id__in=contact_ids, operation="add_contact_link")
        .alias(outcome=Coalesce("state", Value("")))
        .filter(outcome=Action.State.SUCCEEDED)
        .select_related("contact")
        .order_by("-created_at", "-id")[:50]
    )


def batch_detail(*, pk: int) -> Batch | None:
    """Return one batch with its connection and author, or None."""
    return Batch.objects.select_related("connection", "created_by").filter(pk=pk).first()


def batch_failures(*, batch: Batch) -> QuerySet[Action]:
    """Return the batch's actions that did not succeed and are over (for the CSV)."""
    return (
        Action.objects.filter(
            batch=batch,
            state__in=[Action.State.FAILED, Action.State.UNKNOWN, Action.State.CANCELLED],
        )
        .select_related("contact")
        .order_by("id")
    )


# -- search results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultRow:
    """One search result as the contacts page shows it (built here: templates are slow)."""

    pick: str
    href: str
    title: str
    company: str
    kinds: tuple[tuple[str, str], ...]
    emails: str
    phones: str
    types: str
    exact: bool


def result_rows(rows: Iterable[Any]) -> list[ResultRow]:
    """Return the contacts page's rows for ``contact_search`` rows (no query)."""
    types = dict(RecordType.choices)
    # Reversed once, filled per row ("/people/0/" -> "/people/12/").
    person_url = reverse("console:person-detail", args=[0]).removesuffix("0/")
    contact_url = reverse("console:contact-detail", args=[0]).removesuffix("0/")
    built = []
    for row in rows:
        contact = row.contact
        person_id = row.person.pk if row.person is not None else None
        built.append(
            ResultRow(
                pick=f"p{person_id}" if person_id else f"c{contact.pk}",
                href=f"{person_url}{person_id}/" if person_id else f"{contact_url}{contact.pk}/",
                title=row.title or "(no name)",
                company=contact.company if contact.company != row.title else "",
                kinds=tuple(
                    (kind, KINDS[kind].label if kind in KINDS else kind) for kind in row.kinds
                ),
                emails=", ".join(contact.emails),
                phones=", ".join(contact.phones),
                types=", ".join(
                    types.get(c.record_type, c.record_type) + (" (deleted)" if c.deleted_at else "")
                    for c in row.contacts
                ),
                exact=bool(row.exact),
            )
        )
    return built


# -- people -------------------------------------------------------------------------------------
def person_contacts(*, person: Person | None = None, contact: Contact | None = None) -> list:
    """Return the records of a person (or the lone ``contact``), by CRM then record type."""
    if person is not None:
        records = Contact.objects.filter(person=person)
    elif contact is not None:
        records = Contact.objects.filter(pk=contact.pk)
    else:
        records = Contact.objects.none()
    return list(
        records.select_related("connection").order_by(
            "deleted_at", "connection__kind", "connection__name", "record_type", "pk"
        )[:50]
    )


def contacts_for_selection(
    *, connection: Connection | None, person_ids: Sequence[int], contact_ids: Sequence[int]
) -> QuerySet[Contact]:
    """Return live contacts among selected people and contacts (of ``connection``, if given)."""
    contacts = Contact.objects.filter(
        Q(person_id__in=list(person_ids)) | Q(pk__in=list(contact_ids)),
        deleted_at__isnull=True,
    )
    if connection is not None:
        contacts = contacts.filter(connection=connection)
    return contacts.order_by("pk")
