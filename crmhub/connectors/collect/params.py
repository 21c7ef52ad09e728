"""Validation of the Collect! operations' parameters, before anything is queued or sent."""

from __future__ import annotations

from typing import Any

from crmhub.connectors.errors import InvalidParams

#: The record types a contact plan runs on, and the tables the index reads.
RECORD_TYPES = ("debtor", "client", "cosigner", "associate")
#: Assumption: the longest contact plan code (``cp_code``) Collect! holds.
PLAN_CODE_MAX = 10
#: The operations about one record (the others are account-wide).
ON_RECORD = frozenset({"run_plan", "show_record"})


def split_remote_id(value: Any) -> tuple[str, int]:
    """Return ``(record_type, rowid)`` of ``"debtor:123"``; raise ``ValueError``."""
    table, _, rowid = str(value).strip().partition(":")
    if table not in RECORD_TYPES or not rowid.isdigit() or int(rowid) < 1:
        raise ValueError(value)
    return table, int(rowid)


def clean(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return the params ``operation`` uses, validated; raise ``InvalidParams``."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if operation in ON_RECORD:
        try:
            table, rowid = split_remote_id(params.get("contact_remote_id", ""))
            cleaned["contact_remote_id"] = f"{table}:{rowid}"
        except ValueError:
            errors["contact_remote_id"] = [
                "Give the Collect! record as <record type>:<rowid>, e.g. debtor:123 "
                f"(record types: {', '.join(RECORD_TYPES)})."
            ]
    if operation == "run_plan":
        plan = params.get("plan")
        plan = plan.strip() if isinstance(plan, str) else ""
        if not plan:
            errors["plan"] = ["Give the contact plan's code (cp_code), e.g. REV."]
        elif len(plan) > PLAN_CODE_MAX or any(ch.isspace() for ch in plan):
            errors["plan"] = [
                f"A contact plan code has at most {PLAN_CODE_MAX} characters and no spaces."
            ]
        cleaned["plan"] = plan
    if errors:
        raise InvalidParams(errors)
    return cleaned
