"""Validation of the Collect! operations' parameters, before anything is queued or sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crmhub.connectors.errors import InvalidParams

#: The record types a contact plan runs on, and the tables the index reads.
RECORD_TYPES = ("debtor", "client", "cosigner", "associate")
#: Assumption: the longest contact plan code (``cp_code``) Collect! holds.
PLAN_CODE_MAX = 10
#: The operations about one record (the others are account-wide).
ON_RECORD = frozenset({"run_plan", "show_record"})
#: Connection settings: the plan codes that prompt, and those that never do. A plan in
#: neither list may prompt, as far as crmhub knows.
PROMPTING_PLANS = "prompting_plans"
QUIET_PLANS = "quiet_plans"


def plan_codes(value: Any) -> frozenset[str]:
    """Return the plan codes of a setting such as ``"PRM, DEL"`` (upper case)."""
    return frozenset(code.upper() for code in re.split(r"[\s,;]+", str(value or "")) if code)


def plan_codes_clean(value: str) -> str:
    """Return a setting's plan codes as ``"PRM, DEL"``; raise ``ValueError`` for a bad one."""
    codes = [code for code in re.split(r"[\s,;]+", value.upper()) if code]
    if any(len(code) > PLAN_CODE_MAX for code in codes):
        raise ValueError(f"A plan code has at most {PLAN_CODE_MAX} characters.")
    return ", ".join(dict.fromkeys(codes))


def plan_prompts(plan: str, settings: Mapping[str, Any]) -> bool | None:
    """Return whether ``plan`` prompts, as the connection's settings say (``None``: they do
    not say; a plan marked both ways prompts)."""
    code = plan.strip().upper()
    if code in plan_codes(settings.get(PROMPTING_PLANS)):
        return True
    if code in plan_codes(settings.get(QUIET_PLANS)):
        return False
    return None


def run_plan_prompts(params: Mapping[str, Any], settings: Mapping[str, Any]) -> bool | None:
    """Return whether ``run_plan`` with ``params`` may wait for a person (see ``plan_prompts``)."""
    plan = params.get("plan")
    return plan_prompts(plan if isinstance(plan, str) else "", settings)


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
