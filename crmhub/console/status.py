"""The live status of one action, as its partial shows it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from crmhub.actions.models import Action
from crmhub.console.acts import after_for, label_for
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
#: Seconds between two polls of a running action.
POLL_SECONDS = 1


def status_version(action: Action) -> str:
    """Return a token that changes whenever what the status partial shows changes."""
    stamp = action.updated_at.timestamp() if action.updated_at else 0
    return f"{action.state}-{action.attempts}-{stamp:.6f}"


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
    return {
        "action": action,
        "label": label_for(action.connection.kind, action.operation),
        "version": status_version(action),
        "poll_seconds": POLL_SECONDS,
        "result_message": result.get("message", ""),
        "after": after_for(action.connection.kind, action.operation)
        if action.state == Action.State.SUCCEEDED
        else "",
        "waiting": waiting,
        "can_answer": can_answer,
        "answer_form": answer_form if can_answer else None,
        "can_resend": can_act and action.state in (Action.State.UNKNOWN, Action.State.FAILED),
        "can_cancel": can_act and action.state == Action.State.QUEUED,
        "prompt_timed_out": action.state == Action.State.CANCELLED and bool(action.prompt),
        "notice": notice,
    }
