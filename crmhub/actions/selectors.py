"""Read actions and batches (for the console, the admin and the services).

Every list is bounded and fetched with its relations (``select_related``), so what a page
reads does not grow with the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.connections.models import Connection
from crmhub.contacts.models import DISPLAY_FIELDS, Contact
from crmhub.contacts.selectors import contact_search_ids, contacts_live
from crmhub.core.counting import created_per_range

#: The most contacts one batch may have.
MAX_BATCH = 100_000
#: States of an action that needs a person (check and resend, answer a prompt).
ATTENTION_STATES = (Action.State.UNKNOWN, Action.State.FAILED, Action.State.NEEDS_INPUT)
PAGE_SIZE = 50
#: What a list of actions shows (``_action_table.html``): the rest is deferred.
LISTED_FIELDS = (
    "operation",
    "state",
    "connection__kind",
    "connection__name",
    "contact_id",
    "requested_by__username",
    "created_at",
    "updated_at",
)


#: What a table of actions shows of their contacts (``display_name``, the id in the CRM).
CONTACT_FIELDS = tuple(f"contact__{field}" for field in DISPLAY_FIELDS)


def _with_relations(actions: QuerySet[Action]) -> QuerySet[Action]:
    return actions.select_related("connection", "contact", "requested_by", "batch")


def _listed(actions: QuerySet[Action], *fields: str) -> QuerySet[Action]:
    """Return ``actions`` with what a table of them shows (``LISTED_FIELDS``, their contacts'
    names, ``fields``): whole rows brought each action's parameters, results and prompts
    and each contact's remote record, JSON that no list shows."""
    return actions.select_related("connection", "contact", "requested_by").only(
        *LISTED_FIELDS, *CONTACT_FIELDS, *fields
    )


#: Zero written into the statement, not bound: SQLite uses an index on an expression only
#: for the same expression, and a bound value is not the index's 0 (``action_single_recent``).
_ZERO = RawSQL("0", (), output_field=IntegerField())


def _not_bulk(actions: QuerySet[Action]) -> QuerySet[Action]:
    """Return ``actions`` without bulk ones, written so the planner keeps its better index.

    (``batch_id IS NULL`` would lure SQLite onto the batch index, then a sort of them all;
    the newest acts asked one at a time have an index of this very expression.)
    """
    return actions.alias(in_batch=Coalesce("batch_id", _ZERO)).filter(in_batch=0)


# -- one action ---------------------------------------------------------------------------------
def action_detail(*, pk: int) -> Action | None:
    """Return one action with its relations, or None."""
    return _with_relations(Action.objects.filter(pk=pk)).select_related("resend_of").first()


def action_attempts(*, action: Action) -> list[Attempt]:
    """Return the attempts of ``action``, first first."""
    return list(action.attempt_set.order_by("number"))


def action_resends(*, action: Action) -> list[Action]:
    """Return the actions that resent ``action``, first first."""
    return list(action.resends.order_by("id"))


def action_latest_check(*, action: Action) -> Action | None:
    """Return the latest read run to check ``action`` in the CRM, if any."""
    return action.checks.order_by("-created_at", "-id").first()


# -- lists --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionPage:
    rows: list[Action]
    #: ``(created_at, id)`` of the last row when more follow: pass it as ``after``.
    next_after: tuple[datetime, int] | None


def action_page(
    *,
    state: str | None = None,
    kind: str | None = None,
    operation: str | None = None,
    connection: Connection | None = None,
    requested_by: Any = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    open_only: bool = False,
    after: tuple[datetime, int] | None = None,
    limit: int = PAGE_SIZE,
) -> ActionPage:
    """Return one page of actions, newest first, narrowed by the filters given, after the
    ``(created_at, id)`` of the previous page's last row (keyset). With ``open_only``, only
    those that still need someone (``actions_open``)."""
    actions = _listed(Action.objects.all(), "error")
    if open_only:
        actions = _open(actions.filter(state__in=[state] if state else ATTENTION_STATES))
    for lookup, value in (
        ("state", state),
        ("connection__kind", kind),
        ("operation", operation),
        ("connection", connection),
        ("requested_by", requested_by),
        ("created_at__gte", created_from),
        ("created_at__lte", created_to),
    ):
        if value:
            actions = actions.filter(**{lookup: value})
    actions = actions.order_by("-created_at", "-id")
    if after is not None:
        moment, pk = after
        actions = actions.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
    rows = list(actions[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return ActionPage(rows, (rows[-1].created_at, rows[-1].pk) if more and rows else None)


def _open(actions: QuerySet[Action]) -> QuerySet[Action]:
    """Return ``actions`` that still need someone: acts (not reads), the latest of their
    intent (never resent: the resend carries it on) and not checked by a person.

    The resends are looked for among actions that resend something (``IS NOT NULL``, a few
    index entries): without it PostgreSQL's planner, on fresh statistics, hashed every
    action's ``resend_of`` to check the open ones (100,100 actions: 37 ms of the
    dashboard's counts, 13 ms with it).
    """
    resent = Action.objects.filter(resend_of=OuterRef("pk"), resend_of__isnull=False)
    return actions.filter(safe=False, checked_at__isnull=True).exclude(Exists(resent))


def actions_open(*, state: str | None = None) -> QuerySet[Action]:
    """Return what still needs someone (in ``state``, or in any state that needs a person).

    The dashboard counts these, and its links list exactly these (``action_page(open_only=True)``).
    """
    states = [state] if state else list(ATTENTION_STATES)
    return _open(Action.objects.filter(state__in=states))


def actions_needing_attention(*, limit: int = 10) -> list[Action]:
    """Return unknown outcomes, failures not yet resent and prompts waiting, newest first.

    Failures of a bulk run are listed on its own page (and its CSV), not here; an unknown
    outcome is listed wherever it comes from. The latest ``limit`` of each state (an indexed
    walk each) are pooled in one query that reads the newest of them with their relations:
    one statement to plan and one set of related columns to build, not three.
    """
    latest = []
    for state in ATTENTION_STATES:
        actions = _open(Action.objects.filter(state=state))
        if state != Action.State.UNKNOWN:
            actions = _not_bulk(actions)
        ids = actions.order_by("-not_before", "-id").values("pk")[:limit]
        # Wrapped: SQLite refuses a LIMIT (or ORDER BY) on a member of a UNION itself.
        latest.append(Action.objects.filter(pk__in=ids).order_by().values("pk"))
    first, *others = latest
    pooled = Action.objects.filter(pk__in=first.union(*others, all=True))
    return list(_listed(pooled).order_by("-created_at", "-id")[:limit])


def attention_counts() -> dict[str, int]:
    """Return how many actions still need someone, by state (``actions_open``)."""
    rows = actions_open().order_by().values_list("state").annotate(n=Count("id"))
    counts: dict[str, int] = {str(state): 0 for state in ATTENTION_STATES}
    counts.update(dict(rows))
    return counts


def actions_recent(*, limit: int = 10) -> list[Action]:
    """Return the latest acts asked for by a person (not bulk runs, not page reads)."""
    actions = _not_bulk(Action.objects.filter(safe=False))
    return list(_listed(actions).order_by("-created_at", "-id")[:limit])


def actions_of_contacts(*, contacts: Sequence[Contact], limit: int = 20) -> list[Action]:
    """Return the latest acts on any of ``contacts`` (page reads left out), with the fields
    a list shows (``LISTED_FIELDS``) and each one's contact taken from ``contacts``.

    The contacts are the page's own: joined again, each row would bring a whole contact
    with its JSON columns, and a row's parameters and results are never listed.
    """
    by_id = {contact.pk: contact for contact in contacts}
    actions = list(
        Action.objects.filter(contact_id__in=list(by_id), safe=False)
        .select_related("connection", "requested_by")
        .only(*LISTED_FIELDS)
        .order_by("-created_at", "-id")[:limit]
    )
    for action in actions:
        action.contact = by_id[action.contact_id]  # type: ignore[index]  # contact_id__in: never None
    return actions


def actions_whole(*, actions: Sequence[Action]) -> list[Action]:
    """Return ``actions`` again with every field and their relations (one query, none
    when there are none), in the same order: a list's actions lack what a status shows."""
    if not actions:
        return []
    found = _with_relations(Action.objects.all()).in_bulk([action.pk for action in actions])
    return [found[action.pk] for action in actions if action.pk in found]


def contact_links(*, contact_ids: Sequence[int]) -> list[Action]:
    """Return the AllClients links added to ``contact_ids`` (succeeded add_contact_link),
    with what a list of them shows: the link (``params``) and when."""
    # The state is compared through an expression so that SQLite keeps the contact index
    # (its planner, without statistics, would take the state index: most actions succeed).
    return list(
        Action.objects.filter(contact_id__in=contact_ids, operation="add_contact_link")
        .alias(outcome=Coalesce("state", Value("")))
        .filter(outcome=Action.State.SUCCEEDED)
        .only("contact_id", "params", "created_at")
        .order_by("-created_at", "-id")[:50]
    )


def actions_per_range(*, edges: Sequence[datetime]) -> list[int]:
    """Return how many actions were created in each [edge, next edge) range (one query)."""
    return created_per_range(Action, edges)


# -- reads (safe actions whose results pages show) ----------------------------------------------
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


# -- batches ------------------------------------------------------------------------------------
def targets_digest(contact_ids: Iterable[int]) -> str:
    """Return the fingerprint of a batch's target contacts: the preview shows it, the
    confirm must bring it back unchanged (the batch runs on what was listed)."""
    text = ",".join(map(str, sorted(contact_ids)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def batch_contacts(
    *,
    connection: Connection,
    contact_ids: Sequence[int] | None = None,
    search: Mapping[str, Any] | None = None,
    fields: Sequence[str] = (),
) -> list[Contact]:
    """Return the live contacts of ``connection`` a batch selection names, in id order
    (with only ``fields`` read, when given).

    ``search`` is a saved search, ``{"query": ..., "filters": {...}}`` as the console keeps
    it, resolved by the contact index's own search: a person found through any of their
    contacts counts, so their contact in this connection is included. Contacts of other
    connections are left out either way.
    """
    person_ids: list[int] = []
    if search is not None:
        contact_ids, person_ids = contact_search_ids(saved=search, limit=MAX_BATCH)
    return contacts_live(
        connection=connection, contact_ids=contact_ids or (), person_ids=person_ids, fields=fields
    )


def batch_detail(*, pk: int) -> Batch | None:
    """Return one batch with its connection and author, or None."""
    return Batch.objects.select_related("connection", "created_by").filter(pk=pk).first()


def batch_counts(*, batch: Batch) -> dict[str, int]:
    """Return the live number of the batch's actions in each state."""
    rows = (
        Action.objects.filter(batch=batch).order_by().values_list("state").annotate(n=Count("id"))
    )
    return {state: n for state, n in rows}


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


#: What a bulk run's results can be narrowed to.
RESULT_STATES = (
    Action.State.QUEUED,
    Action.State.SENDING,
    Action.State.SUCCEEDED,
    Action.State.FAILED,
    Action.State.UNKNOWN,
    Action.State.CANCELLED,
)


def batch_results(
    *, batch: Batch, state: str | None = None, after: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Action], int | None]:
    """Return one page of the batch's actions (in ``state`` when given), in id order, after
    action id ``after``; and the id to pass as ``after`` for the next page (None: no more)."""
    actions = Action.objects.filter(batch=batch)
    if state:
        actions = actions.filter(state=state)
    if after:
        actions = actions.filter(pk__gt=after)
    rows = list(actions.select_related("contact").order_by("id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].pk if more and rows else None)


def batch_retry_targets(*, batch: Batch) -> QuerySet[Action]:
    """Return the batch's actions to send again: failed ones nobody left as they are, and
    unknown ones a person checked as not done; never one already resent, nor one whose
    contact is gone."""
    resent = Action.objects.filter(resend_of=OuterRef("pk"))
    return (
        Action.objects.filter(batch=batch, safe=False)
        .filter(
            Q(state=Action.State.FAILED, checked_at__isnull=True)
            | Q(state=Action.State.UNKNOWN, check_verdict=Action.Verdict.NOT_HAPPENED)
        )
        .exclude(Exists(resent))
        .filter(contact__isnull=False, contact__deleted_at__isnull=True)
        .select_related("contact")
        .order_by("id")
    )


def batch_unchecked(*, batch: Batch) -> int:
    """Return how many of the batch's unknown outcomes nobody has checked yet."""
    return Action.objects.filter(
        batch=batch, state=Action.State.UNKNOWN, checked_at__isnull=True
    ).count()
