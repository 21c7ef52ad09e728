"""The tables of the simulated Collect! database and how their rows look.

Field names follow Collect!'s printable-field style: a table prefix, an underscore, the
field (``de_rowid``, ``de_name``). Debtors use ``de_`` (documented); ``cl_`` (client),
``cs_`` (cosigner), ``as_`` (associate) and ``cp_`` (contact plan) are this simulator's
choice, the documents being silent. Names are stored "Last, First", as Collect! keeps them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crmhub.sandbox.collect.assumptions import ASSUMPTIONS
from crmhub.sandbox.people import PersonSpec

KIND = "collect"
#: Tables whose records a contact plan can run on (``collect/app/runplan``).
RECORD_TYPES = ("debtor", "client", "cosigner", "associate")
PREFIXES = ASSUMPTIONS.prefixes
#: Tables the read end point lists (``collect/data/<table>``).
READABLE = (*RECORD_TYPES, "contact_plan")
#: How seeded people are split over the record types: most are debtors.
SPLIT = ("debtor",) * 6 + ("client",) * 2 + ("cosigner", "associate")
#: Longest contact plan code (``cp_code``) the simulated database holds.
PLAN_CODE_MAX = ASSUMPTIONS.plan_code_max

_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def row_id_field(table: str) -> str:
    """Return the key column of ``table`` (``de_rowid`` for debtors)."""
    return f"{PREFIXES[table]}_rowid"


def modified_at(key: int) -> datetime:
    """Return a deterministic last-change time for the person ``key``."""
    return _EPOCH + timedelta(seconds=(key * 7_919) % 63_072_000)


def person_row(table: str, rowid: int, person: PersonSpec, modified: datetime) -> dict[str, Any]:
    """Return the stored row of ``person`` as a record of ``table``."""
    p = PREFIXES[table]
    return {
        f"{p}_rowid": rowid,
        f"{p}_number": f"{p.upper()}{rowid:07d}",
        f"{p}_name": f"{person.last_name}, {person.first_name}",
        f"{p}_company": person.company,
        f"{p}_email": person.email,
        f"{p}_home_phone": person.phone,
        f"{p}_next_contact": "",
        f"{p}_last_plan": "",
        f"{p}_modified": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


#: The seeded contact plans: REV needs no prompt, PRM prompts for a start date, DEL
#: prompts before deleting (the switches the Collect! documents name).
PLANS: tuple[dict[str, Any], ...] = (
    {
        "cp_rowid": 1,
        "cp_code": "REV",
        "cp_description": "Review account",
        "cp_prompt_start_date": False,
        "cp_prompt_before_delete": False,
        "cp_delete_record": False,
    },
    {
        "cp_rowid": 2,
        "cp_code": "PRM",
        "cp_description": "Schedule a promise follow-up",
        "cp_prompt_start_date": True,
        "cp_prompt_before_delete": False,
        "cp_delete_record": False,
    },
    {
        "cp_rowid": 3,
        "cp_code": "DEL",
        "cp_description": "Delete the record",
        "cp_prompt_start_date": False,
        "cp_prompt_before_delete": True,
        "cp_delete_record": True,
    },
)


def plan_needs_socket(plan: dict[str, Any]) -> bool:
    """Return whether running ``plan`` prompts (so needs a Web Socket)."""
    return bool(plan.get("cp_prompt_start_date") or plan.get("cp_prompt_before_delete"))
