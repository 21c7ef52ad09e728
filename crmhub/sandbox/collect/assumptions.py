"""Everything the simulated Collect! server decides where the vendor documents are silent.

The documents (``seeds/collect-runplan.txt``, ``spec/public-facts.md`` §3) fix the
paths under ``/api/v1/``, the login body, the ``x-collect-database`` header and its
default, the read answer's ``type`` envelope, "Limit" and "Page", the runplan body, its
empty answer, the record types plans run on, and that a prompting plan without its Web
Socket fails and rolls back. Every other choice of this simulator is named here, in this
one constant (the spec's own decisions, mirrored by the connector, included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Assumptions:
    #: Login answers ``{"token": ...}``; later calls send ``Authorization: Bearer <token>``
    #: (the login answer was never captured: spec README, point 4).
    token_scheme: str = "Bearer"
    #: A token lives this long (seconds) unless the account's credentials say otherwise.
    token_lifetime: int = 3600
    #: Paging is spelled ``Limit``/``Page`` exactly as the help page writes it; any other
    #: query parameter (filters included: their syntax was never captured) is refused.
    paging_names: tuple[str, str] = ("Limit", "Page")
    page_limit_default: int = 100
    #: The largest ``Limit``: a bigger one is refused with a 400 naming it, never cut.
    page_limit_max: int = 1000
    #: The longest contact plan code (``cp_code``).
    plan_code_max: int = 10
    #: Field prefixes per table (``de_`` for debtors is documented; the rest are guesses).
    prefixes: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(
            {
                "debtor": "de",
                "client": "cl",
                "cosigner": "cs",
                "associate": "as",
                "contact_plan": "cp",
            }
        )
    )
    #: Tables the read end point serves by this simulator's assumption only: no document
    #: lists ``contact_plan`` among the readable records. With the ``hide_undocumented``
    #: fault it answers 404 "Unknown table", as a server without it would.
    undocumented_tables: tuple[str, ...] = ("contact_plan",)
    #: Errors are ``{"error": message}`` with these statuses (documented: "200 good,
    #: anything else failure").
    statuses: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(
            {
                "invalid": 400,
                "unauthorised": 401,
                "database": 403,
                "not_found": 404,
                "plan_failed": 409,
            }
        )
    )
    #: The Web Socket (``/api/v1/ws``), its first message and the prompt protocol are the
    #: spec's guess (README, point 4): see ``sockets.py``.
    #: Seconds a prompt waits for its answer before the plan fails (setting
    #: ``SANDBOX_COLLECT_PROMPT_TIMEOUT`` overrides it).
    prompt_timeout: float = 120.0


ASSUMPTIONS = Assumptions()
