"""Ask for remote side effects, and the few things a person may do with them afterwards.

Every function validates before it writes (the checks the CRM declares, the very ones its
connector applies before sending: staff see field errors before anything is queued; no
connector is built and no credential decrypted here), writes the rows, and publishes task
messages only once the transaction commits. A refusal is an ``InvalidAct``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from crmhub.actions import answers, dispatch
from crmhub.actions.choices import choices_check
from crmhub.actions.errors import InvalidAct
from crmhub.actions.inserts import actions_insert
from crmhub.actions.models import Action, Batch
from crmhub.actions.selectors import (
    MAX_BATCH,
    batch_contacts,
    batch_retry_targets,
    targets_digest,
)
from crmhub.connections.kinds import KINDS, Crm, Operation
from crmhub.connections.models import Connection
from crmhub.connectors.errors import InvalidParams
from crmhub.contacts.models import Contact
from crmhub.core import queues
from crmhub.core.redaction import SECRET_NAME

logger = logging.getLogger("crmhub.actions")

Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | None"
BULK_SIZE = 1000
#: What queuing a batch reads of each target: its checks (connection, deleted, record type)
#: and the remote id its action names (2,000 full contacts took a quarter of a confirm).
BATCH_CONTACT_FIELDS = ("connection_id", "remote_id", "record_type", "deleted_at")
CREDENTIALS_UNREADABLE = (
    "This connection's stored credentials cannot be decrypted with the current keys "
    "(CRMHUB_FIELD_KEYS changed), so nothing can be sent with them. Nothing was queued: ask "
    "an administrator to type the credentials again in the connection's settings."
)


class ActionStateError(Exception):
    """The action is not in a state that allows this (the message says why)."""


class TargetsChanged(Exception):
    """The contacts a batch would run on are not those the preview listed."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"The selection changed since the preview: it names {count:,} contact(s) now. "
            "Check the list and confirm again."
        )
        self.count = count


def _actor(user: Actor) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _credentials_readable(connection: Connection) -> None:
    """Refuse, with a message staff can act on, a connection whose credentials are lost.

    Checked by the keys' signature: nothing is decrypted in the request.
    """
    if not connection.secrets_keyed():
        raise InvalidAct({"__all__": [CREDENTIALS_UNREADABLE]})


def _crm(connection: Connection) -> Crm:
    if not connection.is_active:
        raise InvalidAct({"connection": ["This connection is switched off."]})
    try:
        return KINDS[connection.kind]
    except KeyError:
        raise InvalidAct({"connection": [f"No CRM of kind {connection.kind!r}."]}) from None


def _operation(crm: Crm, name: str) -> Operation:
    try:
        return crm.operations_by_name[name]
    except KeyError:
        raise InvalidAct({"operation": [f"Unknown operation {name!r} for {crm.kind}."]}) from None


def _contact_errors(operation: Operation, contact: Contact | None, connection: Connection) -> str:
    """Return why ``contact`` cannot take ``operation`` ("" when it can)."""
    if contact is None:
        return "Choose a contact." if operation.needs_contact else ""
    if contact.connection_id != connection.pk:
        return "This contact belongs to another connection."
    if contact.deleted_at is not None:
        return "This contact no longer exists in the CRM."
    if operation.record_types and contact.record_type not in operation.record_types:
        return f"{operation.label} does not apply to a {contact.get_record_type_display()}."
    return ""


def _params_for(params: Mapping[str, Any], contact: Contact | None) -> dict[str, Any]:
    secret = sorted(name for name in params if SECRET_NAME.search(str(name)))
    if secret:  # the Action row is an audit log: credentials belong to the connection only
        raise InvalidAct({name: ["Secrets are never action parameters."] for name in secret})
    values = dict(params)
    if contact is not None:
        values["contact_remote_id"] = contact.remote_id
    return values


def _validated(
    crm: Crm,
    operation: Operation,
    params: dict[str, Any],
    contact: Contact | None,
    connection: Connection,
    *,
    choices: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``params`` if the CRM's checker accepts them for ``contact``; raise ``InvalidAct``.

    With ``choices``, a value a choice list of the connection does not know is refused too
    (a batch checks its shared values once, not for each contact). ``settings``: the
    connection's ``connector_settings()`` when the caller has them (a batch, once).
    """
    problem = _contact_errors(operation, contact, connection)
    if problem:
        raise InvalidAct({"contact": [problem]})
    if settings is None:
        settings = connection.connector_settings()
    try:
        crm.check_params(operation.name, params, settings=settings)
    except InvalidParams as exc:
        raise InvalidAct(exc.errors) from None
    if choices:
        choices_check(connection=connection, operation=operation.name, params=params)
    return params


def _queue_for(connection: Connection, spec: Operation, params: Mapping[str, Any]) -> str:
    """Return the queue of an action: ``prompts`` unless it surely never waits for a person."""
    prompts = spec.may_prompt(params, settings=connection.connector_settings())
    return queues.ACTIONS if prompts is False else queues.PROMPTS


def _refuse_prompting_in_bulk(
    connection: Connection, spec: Operation, params: Mapping[str, Any]
) -> None:
    """Raise ``InvalidAct`` when the operation may prompt: bulk never waits for people.

    A plan marked as prompting, or marked neither way, is refused (each action of the batch
    would hold a worker until someone answered, one contact after the other).
    """
    prompts = spec.may_prompt(params, settings=connection.connector_settings())
    if prompts is False:
        return
    plan = str(params.get("plan") or "").strip()
    field = "plan" if plan else "__all__"
    what = f"Plan {plan}" if plan else spec.label
    if prompts:
        message = (
            f"{what} prompts for an answer, so it is never run in bulk: run it on one "
            "contact at a time, where its question can be answered."
        )
    else:
        message = (
            f"{what} is not marked as one that never prompts on {connection.name}, so it may "
            "wait for an answer and is not run in bulk. Run it on one contact at a time, or "
            "ask an admin to list it under “Plans that never prompt”."
        )
    raise InvalidAct({field: [message]})


def action_enqueue(
    *,
    operation: str,
    connection: Connection,
    contact: Contact | None = None,
    params: Mapping[str, Any],
    user: Actor,
    batch: Batch | None = None,
    not_before: datetime | None = None,
    idempotency_key: str | None = None,
    resend_of: Action | None = None,
    check_of: Action | None = None,
) -> Action:
    """Validate and queue one remote side effect; return its ``Action``.

    Raises ``InvalidAct`` (field → messages) before anything is written. The task is
    published when the surrounding transaction commits; a second call with the same
    ``idempotency_key`` (a form submitted twice) returns the first action.
    """
    if idempotency_key:
        existing = Action.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    _credentials_readable(connection)
    crm = _crm(connection)
    spec = _operation(crm, operation)
    values = _validated(crm, spec, _params_for(params, contact), contact, connection)
    now = timezone.now()
    start = max(not_before or now, now)
    delay = (start - now).total_seconds()
    action = Action(
        operation=operation,
        safe=spec.safe,
        queue=_queue_for(connection, spec, values),
        connection=connection,
        contact=contact,
        params=values,
        requested_by=_actor(user),
        batch=batch,
        resend_of=resend_of,
        check_of=check_of,
        not_before=start,
        published_at=now if delay <= dispatch.MAX_COUNTDOWN_SECONDS else None,
        created_at=now,
        updated_at=now,
    )
    if idempotency_key:
        action.idempotency_key = idempotency_key
    try:
        with transaction.atomic():
            action.save(force_insert=True)
    except IntegrityError:
        # The same form posted twice at once: the other request wrote it first.
        existing = Action.objects.filter(idempotency_key=idempotency_key).first()
        if not idempotency_key or existing is None:
            raise
        return existing
    if action.published_at is not None:
        action_id = action.pk
        # robust: a broker that is down must not turn "queued" into an error page; the
        # sweeper publishes the committed row after the republish delay.
        queue = action.queue
        transaction.on_commit(
            lambda: dispatch.publish([action_id], countdown=delay, queue=queue), robust=True
        )
    logger.info("action %s queued: %s on connection %s", action.pk, operation, connection.pk)
    return action


def batch_enqueue(
    *,
    operation: str,
    connection: Connection,
    params: Mapping[str, Any],
    user: Actor,
    contact_ids: Sequence[int] | None = None,
    search: Mapping[str, Any] | None = None,
    expected: str | None = None,
) -> Batch:
    """Queue ``operation`` for every contact of a selection or a saved search; return the batch.

    The targets are resolved once, here: the batch keeps their ids (``contact_ids``) and
    its actions are created now, so a saved search is never run again for it. With
    ``expected`` (the ``targets_digest`` of what the preview listed) a different list
    raises ``TargetsChanged`` and nothing is written. The shared parameters are validated
    first (``InvalidAct`` before anything is written); a contact the CRM's checker refuses
    is left out and listed in ``skipped``. The actions are created in bulk and published
    by the dispatcher at the connection's pace.
    """
    if (contact_ids is None) == (search is None):
        raise InvalidAct({"__all__": ["Choose contacts or a saved search (one of them)."]})
    _credentials_readable(connection)
    crm = _crm(connection)
    spec = _operation(crm, operation)
    if not spec.needs_contact:
        raise InvalidAct({"operation": [f"{spec.label} does not run on contacts."]})
    contacts = batch_contacts(
        connection=connection, contact_ids=contact_ids, search=search, fields=BATCH_CONTACT_FIELDS
    )
    if expected is not None and targets_digest(c.pk for c in contacts) != expected:
        raise TargetsChanged(len(contacts))
    if not contacts:
        raise InvalidAct({"__all__": ["The selection has no contact of this connection."]})
    if len(contacts) > MAX_BATCH:
        raise InvalidAct(
            {"__all__": [f"At most {MAX_BATCH:,} contacts at once ({len(contacts):,} chosen)."]}
        )
    # The shared parameters, checked on the first contact: an error there is everyone's.
    _validated(crm, spec, _params_for(params, contacts[0]), contacts[0], connection)
    # Only then: a plan the CRM does not know is refused as such, not as one that may prompt.
    _refuse_prompting_in_bulk(connection, spec, params)
    rows, skipped = _batch_rows(crm, spec, params, contacts, connection)
    with transaction.atomic():
        batch = Batch.objects.create(
            operation=operation,
            connection=connection,
            params=dict(params),
            contact_ids=[contact.pk for contact in contacts],
            search_query=str((search or {}).get("query", "")),
            search_filters=dict((search or {}).get("filters") or {}),
            size=len(rows),
            skipped=skipped,
            totals={Action.State.QUEUED.value: len(rows)},
            created_by=_actor(user),
        )
        now = timezone.now()
        actions_insert(
            shared={
                "operation": operation,
                "safe": spec.safe,
                "queue": queues.ACTIONS,  # bulk never runs what may prompt (refused above)
                "connection": connection,
                "requested_by": _actor(user),
                "batch": batch,
                "not_before": now,
                "created_at": now,
                "updated_at": now,
            },
            rows=[{"contact_id": contact.pk, "params": values} for contact, values in rows],
        )
        transaction.on_commit(
            lambda: dispatch.dispatch(
                connection_id=connection.pk, rate_limit=connection.rate_limit
            ),
            robust=True,
        )
    logger.info(
        "batch %s queued: %s x %d (%d skipped)", batch.pk, operation, len(rows), len(skipped)
    )
    return batch


def _batch_rows(
    crm: Crm,
    spec: Operation,
    params: Mapping[str, Any],
    contacts: list[Contact],
    connection: Connection,
) -> tuple[list[tuple[Contact, dict[str, Any]]], dict[str, str]]:
    """Return each contact's parameters that the CRM's checker accepts, and why the others
    are left out (by remote id). The shared parameters were refused for secrets already
    (``_params_for`` on the first contact): each contact's are those and its remote id."""
    rows: list[tuple[Contact, dict[str, Any]]] = []
    skipped: dict[str, str] = {}
    shared = dict(params)
    settings = connection.connector_settings()
    for contact in contacts:
        values = {**shared, "contact_remote_id": contact.remote_id}
        try:
            _validated(crm, spec, values, contact, connection, choices=False, settings=settings)
        except InvalidAct as exc:
            skipped[contact.remote_id] = str(exc)
            continue
        rows.append((contact, values))
    return rows, skipped


def action_resend(*, action: Action, user: Actor) -> Action:
    """Queue a new action doing what ``action`` (unknown or failed) asked; return it.

    Refused while an earlier resend of it is still pending or may have worked, so two
    people cannot both resend the same thing. Once resent, an answer to the original that
    arrives late no longer changes it (it is shown on its attempt, "arrived late").
    """
    with transaction.atomic():
        original = Action.objects.select_for_update().get(pk=action.pk)
        if original.state not in (Action.State.UNKNOWN, Action.State.FAILED):
            raise ActionStateError(
                f"Only an unknown or failed action can be resent; this one is {original.state}."
            )
        earlier = original.resends.exclude(
            state__in=[Action.State.FAILED, Action.State.CANCELLED]
        ).first()
        if earlier is not None:
            raise ActionStateError(f"Already resent as action {earlier.pk} ({earlier.state}).")
        params = {k: v for k, v in original.params.items() if k != "contact_remote_id"}
        # From now on a late answer to the original is kept on its attempt only.
        Action.objects.filter(pk=original.pk).update(resent_at=timezone.now())
        resent = action_enqueue(
            operation=original.operation,
            connection=original.connection,
            contact=original.contact,
            params=params,
            user=user,
            resend_of=original,
        )
    logger.warning(
        "action %s (%s) resent as action %s by %s",
        original.pk,
        original.state,
        resent.pk,
        getattr(user, "username", "system"),
    )
    return resent


def action_cancel(*, action: Action, user: Actor) -> Action:
    """Cancel a queued action (one already being sent cannot be called back)."""
    now = timezone.now()
    who = getattr(user, "username", "") or "system"
    cancelled = Action.objects.filter(pk=action.pk, state=Action.State.QUEUED).update(
        state=Action.State.CANCELLED,
        error=f"Cancelled by {who} before it was sent.",
        finished_at=now,
        updated_at=now,
        published_at=None,
    )
    action.refresh_from_db()
    if not cancelled:
        raise ActionStateError(
            f"Only a queued action can be cancelled; this one is {action.get_state_display()}."
        )
    return action


def batch_cancel(*, batch: Batch, user: Actor) -> int:
    """Stop ``batch``: cancel every still-queued action now; return how many.

    Actions already being sent finish (a request on its way cannot be called back); one
    of them that would be tried again is cancelled instead (see the executor).
    """
    now = timezone.now()
    who = getattr(user, "username", "") or "system"
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk, cancelled_at__isnull=True).update(
            cancelled_at=now, cancelled_by=_actor(user)
        )
        cancelled = Action.objects.filter(batch=batch, state=Action.State.QUEUED).update(
            state=Action.State.CANCELLED,
            error=f"Bulk run cancelled by {who} before this action was sent.",
            finished_at=now,
            updated_at=now,
            published_at=None,
        )
    logger.warning(
        "batch %s cancelled by %s: %d queued actions cancelled", batch.pk, who, cancelled
    )
    return cancelled


def batch_retry(*, batch: Batch, user: Actor, expected: str | None = None) -> Batch:
    """Send the failures of ``batch`` (and its unknowns checked as not done) again as one
    new batch; return it.

    Each new action repeats its original's request (``resend_of`` it), so an intent is
    never sent twice: an action already resent is not a target. With ``expected`` (the
    ``targets_digest`` of the actions the confirmation listed) a different list raises
    ``TargetsChanged`` and nothing is written.
    """
    crm = _crm(batch.connection)
    spec = _operation(crm, batch.operation)
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()  # one retry at a time
        originals = list(batch_retry_targets(batch=batch))
        if expected is not None and targets_digest(a.pk for a in originals) != expected:
            raise TargetsChanged(len(originals))
        if not originals:
            raise InvalidAct("Nothing of this bulk run is left to retry.")
        first = originals[0]
        shared = _params_for(batch.params, first.contact)
        _validated(crm, spec, shared, first.contact, batch.connection)
        retry = Batch.objects.create(
            operation=batch.operation,
            connection=batch.connection,
            params=dict(batch.params),
            contact_ids=[a.contact_id for a in originals],
            size=len(originals),
            totals={Action.State.QUEUED.value: len(originals)},
            created_by=_actor(user),
            retry_of=batch,
        )
        now = timezone.now()
        Action.objects.bulk_create(
            [
                Action(
                    operation=a.operation,
                    safe=spec.safe,
                    connection=batch.connection,
                    contact=a.contact,
                    params=dict(a.params),
                    requested_by=_actor(user),
                    batch=retry,
                    resend_of=a,
                    not_before=now,
                    created_at=now,
                    updated_at=now,
                )
                for a in originals
            ],
            batch_size=BULK_SIZE,
        )
        connection = batch.connection
        transaction.on_commit(
            lambda: dispatch.dispatch(
                connection_id=connection.pk, rate_limit=connection.rate_limit
            ),
            robust=True,
        )
    logger.warning(
        "batch %s: %d actions retried as batch %s by %s",
        batch.pk,
        len(originals),
        retry.pk,
        getattr(user, "username", "system"),
    )
    return retry


def connection_work_cancel(
    *, connection: Connection, reason: str, user: Actor = None
) -> tuple[int, int]:
    """Cancel the queued actions and the running batches of ``connection``, saying ``reason``.

    For a connection switched off: nothing of it is sent any more (an action already being
    sent finishes; a batch ends once those have). Return how many actions and batches were
    cancelled.
    """
    now = timezone.now()
    with transaction.atomic():
        batches = Batch.objects.filter(
            connection=connection, state=Batch.State.RUNNING, cancelled_at__isnull=True
        ).update(cancelled_at=now, cancelled_by=_actor(user), cancel_reason=reason)
        actions = Action.objects.filter(connection=connection, state=Action.State.QUEUED).update(
            state=Action.State.CANCELLED,
            error=f"Cancelled before it was sent: {reason}",
            finished_at=now,
            updated_at=now,
            published_at=None,
        )
    logger.warning(
        "connection %s: %d queued actions and %d batches cancelled (%s)",
        connection.pk,
        actions,
        batches,
        reason,
    )
    return actions, batches


def action_answer(
    *, action: Action, values: Mapping[str, Any], user: Actor, prompt_id: str | None = None
) -> Action:
    """Give the answer to the prompt a running plan is waiting on.

    ``prompt_id`` (from the page that showed the prompt) makes sure a late answer does not
    land on a newer prompt. "No" to a yes/no prompt cancels the action in the name of
    ``user`` (the plan is stopped and rolled back, see ``answers``). Raises
    ``ActionStateError`` when nothing is waiting and ``InvalidAct`` for a field the prompt
    did not ask for.
    """
    prompt = action.prompt or {}
    names = {str(f.get("name")) for f in prompt.get("fields", []) if isinstance(f, Mapping)}
    unknown = sorted(set(values) - names) if names else []
    if unknown:
        raise InvalidAct({name: ["The prompt did not ask for this."] for name in unknown})
    waiting = Action.objects.filter(
        pk=action.pk, state=Action.State.NEEDS_INPUT, answer__isnull=True
    )
    if prompt_id is not None:
        if "\x00" in prompt_id:  # never a prompt's id (PostgreSQL's JSON cannot even hold it)
            raise ActionStateError("This action is not waiting for an answer (any more).")
        waiting = waiting.filter(prompt__prompt_id=prompt_id)
    who = getattr(user, "username", "") or "system"
    if answers.says_no(prompt, values):
        answered = _declined(waiting, prompt=prompt, who=who)
    else:
        answered = waiting.update(answer=dict(values), updated_at=timezone.now())
    action.refresh_from_db()
    if not answered:
        raise ActionStateError("This action is not waiting for an answer (any more).")
    logger.info("action %s: prompt answered by %s", action.pk, who)
    return action


def _declined(waiting: Any, *, prompt: Mapping[str, Any], who: str) -> int:
    """Cancel the waiting action whose yes/no prompt ``who`` answered "No"; return 1 if so.

    No answer is handed to the plan: the worker waiting on the prompt sees the action
    cancelled and closes the plan's socket, which stops the plan and rolls it back.
    """
    now = timezone.now()
    question = str(prompt.get("message") or "the plan's question")
    return int(
        waiting.update(
            state=Action.State.CANCELLED,
            prompt={**prompt, "declined_by": who},
            error=f"Cancelled by {who}, who answered “No” to “{question}”. The plan was "
            "stopped; Collect! rolls back what it had done.",
            finished_at=now,
            updated_at=now,
            lease_until=None,
        )
    )
