"""The live status of one action, as its partial shows it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from crmhub.actions.checks import VERDICTS, check_for, check_proposal
from crmhub.actions.models import Action
from crmhub.actions.selectors import action_latest_check
from crmhub.console.acts import ON_CONTACT, act_for, after_for, label_for
from crmhub.console.forms.collect import PromptAnswerForm
from crmhub.core import roles

#: Client events sent when an action of these operations succeeds: page regions that
#: show what it changed listen for them and refresh themselves.
DONE_EVENTS = {
    "add_contact_link": "crmhub:links-changed",
    "communication_create": "crmhub:communications-changed",
    "communication_update": "crmhub:communications-changed",
    "communication_complete": "crmhub:communications-changed",
    "communication_set_as_viewed": "crmhub:communications-changed",
    "queue_process": "crmhub:queue-changed",
    "queue_reject": "crmhub:queue-changed",
    "queue_remove": "crmhub:queue-changed",
}
#: Sent when any action's live status ends: the lists that show it refresh at once.
FINISHED_EVENT = "crmhub:action-finished"
#: Seconds between two polls of a running action.
POLL_SECONDS = 1


def status_version(action: Action, check: Action | None = None) -> str:
    """Return a token that changes whenever what the status partial shows changes."""
    stamp = action.updated_at.timestamp() if action.updated_at else 0
    version = f"{action.state}-{action.attempts}-{stamp:.6f}"
    if check is not None:
        checked = check.updated_at.timestamp() if check.updated_at else 0
        version += f"-{check.pk}-{check.state}-{checked:.6f}"
    return version


def retry_url(action: Action) -> str:
    """Return the act form filled in with what ``action`` sent ("" when it has no form).

    A failed act keeps what was typed: staff change the value and send it again.
    """
    act = act_for(action.connection.kind, action.operation)
    if act is None or act.inline or act.read or action.batch_id is not None:
        return ""
    if act.on == ON_CONTACT:
        if action.contact_id is None:
            return ""
        url = reverse("console:contact-act", args=[action.contact_id, action.operation])
    else:
        url = reverse("console:connection-act", args=[action.connection_id, action.operation])
    params = action.params or {}
    # In the form's field order: PostgreSQL's jsonb keeps no key order of its own.
    values = {k: params[k] for k in act.form.base_fields if params.get(k) is not None}
    return f"{url}?{urlencode(values)}" if values else url


def status_context(
    request: HttpRequest,
    action: Action,
    *,
    answer_form: PromptAnswerForm | None = None,
    notice: str = "",
) -> dict[str, Any]:
    """Return what the ``action-status`` partial needs to show ``action`` to this user."""
    user = request.user
    can_act = roles.can_act(user)
    waiting = action.state == Action.State.NEEDS_INPUT and action.answer is None
    can_answer = waiting and can_act and action.requested_by_id == user.pk
    if can_answer and answer_form is None:
        answer_form = PromptAnswerForm(prompt=action.prompt or {})
    result = action.result if isinstance(action.result, dict) else {}
    check = action_latest_check(action=action) if action.state == Action.State.UNKNOWN else None
    check_running = check is not None and not check.is_terminal
    unchecked = action.checked_at is None
    verdicts = VERDICTS.get(action.state, ()) if can_act and unchecked else ()
    proposal = check_proposal(action=action, check=check) if unchecked else None
    may_resend = action.check_verdict not in (Action.Verdict.HAPPENED, Action.Verdict.DISMISSED)
    return {
        "action": action,
        "label": label_for(action.connection.kind, action.operation),
        "version": status_version(action, check),
        "poll_seconds": POLL_SECONDS,
        "live": not action.is_terminal or check_running,
        "result_message": result.get("message", ""),
        "after": after_for(action.connection.kind, action.operation)
        if action.state == Action.State.SUCCEEDED
        else "",
        "waiting": waiting,
        "can_answer": can_answer,
        "answer_form": answer_form if can_answer else None,
        "can_resend": can_act
        and action.state in (Action.State.UNKNOWN, Action.State.FAILED)
        and may_resend,
        "can_cancel": can_act and action.state == Action.State.QUEUED,
        "prompt_timed_out": action.state == Action.State.CANCELLED
        and bool(action.prompt)
        and not (action.prompt or {}).get("declined_by"),
        "notice": notice,
        "verdicts": [(v, Action.Verdict(v).label) for v in verdicts],
        "check": check,
        "check_running": check_running,
        "can_check": bool(verdicts)
        and action.state == Action.State.UNKNOWN
        and not check_running
        and check_for(action) is not None,
        "proposal": proposal,
        "retry_url": retry_url(action)
        if can_act
        and (
            action.state == Action.State.FAILED
            or action.check_verdict == Action.Verdict.NOT_HAPPENED
        )
        and may_resend
        else "",
    }
