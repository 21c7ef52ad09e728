"""Run a contact plan of the simulated Collect! server on one record.

A plan's steps are worked out first (prompting over the Web Socket where the plan's
switches say so) and its changes applied in one transaction only when every step passed.
This is how the simulator "rolls back" a failed plan: nothing of it is ever committed, and
no database transaction stays open while a prompt waits for a person (SQLite would lock
every other writer meanwhile).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crmhub.sandbox import ledger
from crmhub.sandbox.collect import sockets
from crmhub.sandbox.collect.assumptions import ASSUMPTIONS
from crmhub.sandbox.collect.tables import KIND, PREFIXES
from crmhub.sandbox.models import Call, Record

#: Seconds a prompt waits for its answer before the plan is cancelled (setting
#: ``SANDBOX_COLLECT_PROMPT_TIMEOUT``; tests shorten it).
DEFAULT_PROMPT_TIMEOUT = ASSUMPTIONS.prompt_timeout


class PlanFailed(Exception):
    """The plan stopped; none of its changes were applied."""


@dataclass
class PlanChanges:
    """What a plan will change once all its steps have passed."""

    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    delete: bool = False


def prompt_timeout() -> float:
    return float(getattr(settings, "SANDBOX_COLLECT_PROMPT_TIMEOUT", DEFAULT_PROMPT_TIMEOUT))


def _ask(
    session: sockets.SocketSession | None, message: str, fields: list[dict[str, Any]]
) -> dict[str, Any]:
    if session is None:
        raise PlanFailed("it needs to prompt and no open Web Socket was named (websocket-id)")
    try:
        return sockets.ask(session, message=message, fields=fields, timeout=prompt_timeout())
    except sockets.PromptFailed as exc:
        raise PlanFailed(str(exc)) from None


def _start_date(values: dict[str, Any]) -> str:
    raw = values.get("start_date")
    if not isinstance(raw, str):
        raise PlanFailed("the answer has no start_date")
    try:
        return dt.date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise PlanFailed(f"start_date {raw[:30]!r} is not a date (YYYY-MM-DD)") from None


def work_out(
    plan: dict[str, Any], record: Record, session: sockets.SocketSession | None
) -> PlanChanges:
    """Return the changes ``plan`` makes to ``record``, prompting where its switches say so."""
    table, code = record.collection, plan["cp_code"]
    p = PREFIXES[table]
    changes = PlanChanges(notes=[f"Contact plan {code} ({plan['cp_description']}) started."])
    if plan.get("cp_prompt_start_date"):
        values = _ask(
            session,
            f"Contact plan {code}: start date for {record.data.get(f'{p}_name', '')}?",
            [{"name": "start_date", "label": "Start date", "type": "date", "required": True}],
        )
        changes.fields[f"{p}_next_contact"] = _start_date(values)
    if plan.get("cp_prompt_before_delete"):
        values = _ask(
            session,
            f"Contact plan {code} will delete {table} {record.remote_id} "
            f"({record.data.get(f'{p}_name', '')}). Delete it?",
            # Not required: an unticked box is an answer too ("do not delete").
            [{"name": "confirm", "label": "Delete", "type": "boolean", "required": False}],
        )
        if values.get("confirm") is not True:
            raise PlanFailed("the operator did not confirm the delete")
    changes.delete = bool(plan.get("cp_delete_record"))
    changes.fields[f"{p}_last_plan"] = code
    changes.notes.append(f"Contact plan {code} completed.")
    return changes


def apply(record: Record, changes: PlanChanges, *, params: dict[str, Any], effect: str) -> Call:
    """Commit ``changes`` and the ledger row of the call together; return that row."""
    now = timezone.now()
    p = PREFIXES[record.collection]
    with transaction.atomic(using="sandbox"):
        fresh = Record.objects.select_for_update().get(pk=record.pk)
        fresh.data = {**fresh.data, **changes.fields, f"{p}_modified": _stamp(now)}
        fresh.deleted = fresh.deleted or changes.delete
        fresh.updated_at = now
        fresh.save(update_fields=["data", "deleted", "updated_at"])
        _add_notes(fresh, changes.notes, now)
        return ledger.record(KIND, "app/runplan", params, effect=effect, applied=True)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_notes(record: Record, notes: list[str], now: dt.datetime) -> None:
    last = Record.objects.filter(kind=KIND, collection="note").aggregate(top=Max("remote_id"))
    next_id = (last["top"] or 0) + 1
    Record.objects.bulk_create(
        Record(
            kind=KIND,
            collection="note",
            remote_id=next_id + offset,
            data={
                "no_rowid": next_id + offset,
                "no_table": record.collection,
                "no_record_rowid": record.remote_id,
                "no_text": text,
            },
            updated_at=now,
        )
        for offset, text in enumerate(notes)
    )
