"""Page regions fed by a read (a safe Action): its latest result, and the run in progress.

The console never calls a CRM in a web request. A region shows the data of the latest
succeeded read and, while a newer one runs, polls the page until it ends. Refreshing is
a POST that queues a new read (an act), so no GET ever changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from crmhub.actions import selectors
from crmhub.actions.models import Action
from crmhub.connections.models import Connection
from crmhub.console.forms.crmcom import QueueSourceForm
from crmhub.contacts.models import Contact

#: A result older than this is refreshed on its own when the page opens.
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Region:
    """Where a read's data is shown: template, partial, and the DOM id it fills."""

    template: str
    partial: str
    id_prefix: str


REGIONS: dict[str, Region] = {
    "get_config": Region("console/act_form.html", "apptivo-config", "apptivo-config-"),
    "communications_list": Region(
        "console/person_detail.html", "communications", "communications-"
    ),
    "queue_list": Region("console/queue.html", "queue-entries", "queue-entries-"),
    "get_contact_links": Region("console/person_detail.html", "contact-links", "contact-links-"),
    "list_plans": Region("console/act_form.html", "choice-list", "choice-list-plan-"),
}


def read_state(
    *,
    operation: str,
    connection: Connection,
    contact: Contact | None = None,
    params: dict[str, Any] | None = None,
    found: tuple[Action | None, Action | None] | None = None,
) -> dict[str, Any]:
    """Return the context of a read region: latest result, latest run, whether it polls.

    ``found`` is the (latest read, latest succeeded read) pair when the caller fetched it
    already, for many regions at once (``selectors.latest_reads``).
    """
    chosen = params or {}
    if found is not None:
        latest, result = found
    else:
        latest = selectors.latest_read(
            operation=operation, connection=connection, contact=contact, params=chosen
        )
        result = latest
        if latest is not None and latest.state != Action.State.SUCCEEDED:
            result = selectors.latest_result(
                operation=operation, connection=connection, contact=contact, params=chosen
            )
    running = latest is not None and not latest.is_terminal
    data = (result.result or {}).get("data") if result is not None else None
    # An undocumented read the CRM does not have answers "not available" (a result, not a
    # failure: ``connectors.base.not_available``).
    available = not (isinstance(data, dict) and data.get("available") is False)
    # Opening the page refreshes a read on its own only when nobody asked for one lately
    # (a failed read is not retried in a loop: staff see the error and a button).
    recent = latest is not None and timezone.now() - latest.created_at < STALE_AFTER
    return {
        "read": latest,
        "read_result": result,
        "read_data": data if isinstance(data, dict | list) else {},
        "read_running": running,
        "read_failed": latest is not None and latest.state in selectors.ATTENTION_STATES,
        "read_auto": not running and not recent,
        "read_params": params or {},
        "read_available": available,
        "entries": _latest_first(data.get("queue_entries")) if isinstance(data, dict) else [],
    }


def _latest_first(entries: Any) -> list[dict[str, Any]]:
    """Return queue entries, the most recently changed first."""
    items = [entry for entry in entries or () if isinstance(entry, dict)]
    return sorted(
        items,
        key=lambda e: (str(e.get("updated_at") or ""), str(e.get("number") or "")),
        reverse=True,
    )


def read_params(operation: str, data: Any) -> dict[str, Any]:
    """Return the params of read ``operation`` chosen on the page (e.g. the queue's media)."""
    if operation == "queue_list":
        return QueueSourceForm(data or None).params()
    return {}
