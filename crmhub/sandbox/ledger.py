"""Record what each simulated CRM received (never the credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmhub.sandbox.models import Call

CREDENTIAL_NAMES = {
    "apikey",
    "api_key",
    "accesskey",
    "access_key",
    "op_password",
    "password",
    "token",
    "sessionkey",
    "authorization",
}


def record(
    kind: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    effect: str = "",
    applied: bool = False,
    status: int = 200,
) -> Call:
    """Write one ledger row for a received call; credential fields are left out."""
    clean = {k: v for k, v in params.items() if k.lower() not in CREDENTIAL_NAMES}
    return Call.objects.create(
        kind=kind, operation=operation, params=clean, effect=effect, applied=applied, status=status
    )


def applied_count(kind: str, operation: str, effect: str | None = None) -> int:
    """Return how many times a change was applied (tests: a side effect at most once)."""
    query = Call.objects.filter(kind=kind, operation=operation, applied=True)
    if effect is not None:
        query = query.filter(effect=effect)
    return query.count()
