"""Close the loop on an unknown outcome: did it happen in the CRM? A person says, or a read tells.

* ``action_mark_checked`` records what a person found in the CRM (who, when, a note):
  it happened, it did not (the page then offers the resend), or, for a failure, that it is
  left as it is. Nothing is sent again by this.
* Where a safe read can tell (the Apptivo customer search, the CRM.COM communications of
  the contact), ``action_check_request`` queues that read as a safe action of its own
  (``check_of``), run by a worker like any other: never in the web request.
  ``check_proposal`` turns its result into the answer the page proposes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crmhub.actions.models import Action
from crmhub.actions.services import ActionStateError, Actor, action_enqueue

logger = logging.getLogger("crmhub.actions")

#: The verdicts a person may record, by the state of the action.
VERDICTS: dict[str, tuple[str, ...]] = {
    Action.State.UNKNOWN: (Action.Verdict.HAPPENED, Action.Verdict.NOT_HAPPENED),
    Action.State.FAILED: (Action.Verdict.DISMISSED,),
}
#: A remote record changed this long before the action was asked for may still be its work
#: (clocks of two machines differ).
CLOCK_SLACK = timedelta(minutes=2)
SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Proposal:
    """What a check read suggests: a verdict and why."""

    verdict: str
    reason: str


@dataclass(frozen=True)
class Check:
    """How to check one kind of act in the CRM with a safe read."""

    read: str
    #: Return the read's params for the action ({} when this action cannot be checked).
    params: Callable[[Action], dict[str, Any]]
    #: Return the proposal from the read's result data.
    propose: Callable[[Action, Any], Proposal]
    #: Whether the read runs on the action's contact.
    on_contact: bool = False


def _casefold(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


# -- Apptivo: the customer search ----------------------------------------------------------------
def _customer_name(action: Action) -> str:
    name = str(action.params.get("customer_name") or "").strip()
    if not name and action.contact is not None:
        name = action.contact.display_name
    return name


def _search_params(action: Action) -> dict[str, Any]:
    name = _customer_name(action)
    return {"search_text": name[:100], "limit": SEARCH_LIMIT} if name else {}


def _customers(data: Any) -> list[Mapping[str, Any]]:
    found = data.get("customers") if isinstance(data, Mapping) else None
    return [c for c in found or () if isinstance(c, Mapping)]


def _same_customer(params: Mapping[str, Any], customer: Mapping[str, Any]) -> bool:
    """Return whether ``customer`` shows every value ``params`` asked to write."""
    checks: list[bool] = []
    if params.get("customer_name"):
        checks.append(
            _casefold(customer.get("customer_name")) == _casefold(params["customer_name"])
        )
    if params.get("email"):
        emails = {_casefold(e) for e in customer.get("emails") or ()}
        checks.append(_casefold(params["email"]) in emails)
    if params.get("phone"):
        phones = {_digits(p)[-10:] for p in customer.get("phones") or ()}
        checks.append(_digits(params["phone"])[-10:] in phones)
    for name in ("status_id", "category_id"):
        if params.get(name) not in (None, ""):
            checks.append(str(customer.get(name)) == str(params[name]))
    if params.get("description"):
        checks.append(_casefold(customer.get("description")) == _casefold(params["description"]))
    return all(checks)


def _propose_customer(action: Action, data: Any) -> Proposal:
    customers = _customers(data)
    target = str(action.params.get("contact_remote_id") or "")
    if action.operation == "create_customer":
        for customer in customers:
            if _same_customer(action.params, customer):
                return Proposal(
                    Action.Verdict.HAPPENED,
                    f"Apptivo has customer #{customer.get('customer_id')} "
                    f"“{customer.get('customer_name')}” with the values sent.",
                )
        return Proposal(
            Action.Verdict.NOT_HAPPENED,
            f"Apptivo has no customer “{_customer_name(action)}” with the values sent.",
        )
    same = [c for c in customers if str(c.get("customer_id")) == target]
    if action.operation == "delete_customer":
        if same:
            return Proposal(Action.Verdict.NOT_HAPPENED, f"Customer #{target} is still in Apptivo.")
        return Proposal(
            Action.Verdict.HAPPENED, f"Customer #{target} is no longer found in Apptivo."
        )
    if same and _same_customer(action.params, same[0]):
        return Proposal(Action.Verdict.HAPPENED, f"Customer #{target} shows the values sent.")
    if same:
        return Proposal(
            Action.Verdict.NOT_HAPPENED, f"Customer #{target} does not show the values sent."
        )
    return Proposal(
        Action.Verdict.NOT_HAPPENED,
        f"Customer #{target} was not found by its name: check it in Apptivo.",
    )


# -- CRM.COM: the communications of the contact ------------------------------------------------
def _communications_params(action: Action) -> dict[str, Any]:
    return {"contact_remote_id": action.params["contact_remote_id"]} if action.contact else {}


def _changed_since(comm: Mapping[str, Any], moment: datetime) -> bool:
    stamp = comm.get("updated_at")
    when = parse_datetime(str(stamp)) if stamp else None
    return when is None or when >= moment - CLOCK_SLACK


def _propose_communication(action: Action, data: Any) -> Proposal:
    comms = data.get("communications") if isinstance(data, Mapping) else None
    recent = [c for c in comms or () if isinstance(c, Mapping)]
    recent = [c for c in recent if _changed_since(c, action.created_at)]
    subject, content = action.params.get("subject"), action.params.get("content")
    for comm in recent:
        if subject and _casefold(comm.get("subject")) != _casefold(subject):
            continue
        if not subject and content and _casefold(comm.get("content")) != _casefold(content):
            continue
        number = comm.get("number") or comm.get("id")
        return Proposal(
            Action.Verdict.HAPPENED,
            f"CRM.COM has communication {number} “{comm.get('subject') or ''}” "
            "with this contact, made since it was asked for.",
        )
    return Proposal(
        Action.Verdict.NOT_HAPPENED,
        "CRM.COM has no communication like it with this contact since it was asked for.",
    )


CHECKS: dict[tuple[str, str], Check] = {
    ("apptivo", op): Check("search_customers", _search_params, _propose_customer)
    for op in ("create_customer", "update_customer", "delete_customer")
}
CHECKS[("crmcom", "communication_create")] = Check(
    "communications_list", _communications_params, _propose_communication, on_contact=True
)


def check_for(action: Action) -> Check | None:
    """Return how ``action`` can be checked in the CRM by a read (None: only by a person)."""
    check = CHECKS.get((action.connection.kind, action.operation))
    if check is None or not check.params(action):
        return None
    return check


def check_proposal(*, action: Action, check: Action | None) -> Proposal | None:
    """Return what the check read ``check`` suggests about ``action`` (None until it succeeded)."""
    found = check_for(action)
    if found is None or check is None or check.state != Action.State.SUCCEEDED:
        return None
    data = (check.result or {}).get("data") if isinstance(check.result, dict) else None
    return found.propose(action, data)


# -- services ------------------------------------------------------------------------------------
def action_mark_checked(*, action: Action, verdict: str, note: str = "", user: Actor) -> Action:
    """Record what a person found in the CRM about ``action``; return it.

    ``happened`` or ``not_happened`` for an unknown outcome, ``dismissed`` for a failure left
    as it is. Raises ``ActionStateError`` for another state, a verdict that does not fit it,
    or an action already checked. Nothing is resent.
    """
    if verdict not in VERDICTS.get(action.state, ()):
        raise ActionStateError(f"A {action.state} action cannot be marked “{verdict}”.")
    now = timezone.now()
    marked = Action.objects.filter(
        pk=action.pk, state=action.state, checked_at__isnull=True
    ).update(
        checked_at=now,
        checked_by=user if getattr(user, "is_authenticated", False) else None,
        check_verdict=verdict,
        check_note=note.strip(),
        updated_at=now,
    )
    action.refresh_from_db()
    if not marked:
        who = action.checked_by.get_username() if action.checked_by else "someone"
        raise ActionStateError(f"Already checked by {who}.")
    logger.info(
        "action %s checked by %s: %s", action.pk, getattr(user, "username", "system"), verdict
    )
    return action


def action_check_request(*, action: Action, user: Actor) -> Action:
    """Queue the safe read that checks ``action`` in the CRM; return that read's action."""
    if action.state != Action.State.UNKNOWN or action.checked_at is not None:
        raise ActionStateError("Only an unknown outcome nobody has checked is checked in the CRM.")
    check = check_for(action)
    if check is None:
        raise ActionStateError("This act cannot be checked by crmhub: check it in the CRM.")
    running = action.checks.exclude(state__in=Action.TERMINAL).first()
    if running is not None:
        return running
    return action_enqueue(
        operation=check.read,
        connection=action.connection,
        contact=action.contact if check.on_contact else None,
        params=check.params(action) if not check.on_contact else {},
        user=user,
        check_of=action,
    )
