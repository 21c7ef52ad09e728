"""Validation of requests to the simulated Collect! server, strict so a connector bug shows.

Decisions where the documents are silent (named in ``assumptions.py``, mirrored by the
connector):

* Paging parameters are spelled ``Limit`` and ``Page`` exactly as the help page writes
  them; ``Limit`` 1..1000 (default 100), ``Page`` from 1 (default 1). Any other query
  parameter is refused (400), so a misspelling never silently falls back to defaults.
* ``runplan`` takes ``plan`` (1..10 characters, matched exactly), exactly one of
  ``debtor|client|cosigner|associate`` with an integer rowid (a JSON number), and an
  optional ``websocket-id`` string; any other field is refused (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crmhub.sandbox.collect.assumptions import ASSUMPTIONS
from crmhub.sandbox.collect.tables import RECORD_TYPES

PAGE_LIMIT_MAX = ASSUMPTIONS.page_limit_max
PAGE_LIMIT_DEFAULT = ASSUMPTIONS.page_limit_default
PLAN_CODE_MAX = ASSUMPTIONS.plan_code_max
_PLAN_FIELDS = {"plan", "websocket-id", *RECORD_TYPES}


class Invalid(Exception):
    """The request breaks a rule; ``str()`` is the error message to answer with."""


@dataclass(frozen=True)
class PlanOrder:
    plan: str
    table: str
    rowid: int
    websocket_id: str


def _whole(name: str, raw: str, *, low: int, high: int | None = None) -> int:
    if not raw.isdigit():
        raise Invalid(f"{name} must be a whole number.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Invalid(f"{name} must be {bounds}.")
    return value


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """Return ``(limit, page)`` from the query string; raise ``Invalid``."""
    unknown = sorted(set(query) - set(ASSUMPTIONS.paging_names))
    if unknown:
        raise Invalid(f"Unknown query parameter '{unknown[0][:40]}' (use Limit and Page).")
    limit = _whole("Limit", query.get("Limit", str(PAGE_LIMIT_DEFAULT)), low=1, high=PAGE_LIMIT_MAX)
    page = _whole("Page", query.get("Page", "1"), low=1)
    return limit, page


def _record(body: Mapping[str, Any]) -> tuple[str, int]:
    named = [name for name in RECORD_TYPES if name in body]
    if not named:
        raise Invalid(f"One of {', '.join(RECORD_TYPES)} is required (the record's rowid).")
    if len(named) > 1:
        raise Invalid(f"Give only one record; got {', '.join(named)}.")
    rowid = body[named[0]]
    if isinstance(rowid, bool) or not isinstance(rowid, int):
        raise Invalid(f"{named[0]} must be the record's rowid as a whole number.")
    if rowid < 1:
        raise Invalid(f"{named[0]} must be a positive rowid.")
    return named[0], rowid


def plan_order(body: Mapping[str, Any]) -> PlanOrder:
    """Return the validated ``runplan`` request; raise ``Invalid``."""
    unknown = sorted(set(body) - _PLAN_FIELDS)
    if unknown:
        raise Invalid(f"Unknown field '{unknown[0][:40]}'.")
    plan = body.get("plan")
    if not isinstance(plan, str) or not plan:
        raise Invalid("plan is required (the contact plan's code, cp_code).")
    if len(plan) > PLAN_CODE_MAX:
        raise Invalid(f"plan must be at most {PLAN_CODE_MAX} characters.")
    table, rowid = _record(body)
    websocket_id = body.get("websocket-id", "")
    if not isinstance(websocket_id, str):
        raise Invalid("websocket-id must be a string.")
    return PlanOrder(plan=plan, table=table, rowid=rowid, websocket_id=websocket_id)
