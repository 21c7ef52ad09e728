"""Set up the simulated CRMs: accounts, seeded people, base URLs."""

from __future__ import annotations

import time

from django.db import transaction

from crmhub.sandbox.models import Account, Call, Record
from crmhub.sandbox.people import people_for
from crmhub.sandbox.registry import KINDS, module


def sandbox_account(*, kind: str) -> Account:
    """Return the account of simulated CRM ``kind``, creating it with fresh credentials."""
    account = Account.objects.filter(kind=kind).first()
    if account is None:
        account = Account.objects.create(kind=kind, credentials=module(kind).default_credentials())
    return account


def sandbox_base_url(*, kind: str, public_url: str) -> str:
    """Return the base URL a connection uses to reach simulated CRM ``kind``."""
    return f"{public_url.rstrip('/')}/sandbox/{kind}/{module(kind).BASE_PATH}"


def sandbox_credentials(*, kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return the (settings, secrets) a connection needs to sign in to simulated CRM ``kind``."""
    return module(kind).connection_settings(sandbox_account(kind=kind).credentials)


def sandbox_seed(
    *, people: int, kinds: tuple[str, ...] = KINDS, batch_size: int = 5000, reset: bool = False
) -> dict[str, tuple[int, float]]:
    """Seed ``people`` people into each simulated CRM; return (count, seconds) per kind.

    Seeding is deterministic: the same count gives the same people. With ``reset`` the
    kind's records and ledger are removed first; otherwise seeding an already seeded kind
    does nothing.
    """
    done: dict[str, tuple[int, float]] = {}
    for kind in kinds:
        started = time.monotonic()
        sandbox_account(kind=kind)
        if reset:
            with transaction.atomic(using="sandbox"):
                Record.objects.filter(kind=kind).delete()
                Call.objects.filter(kind=kind).delete()
        elif Record.objects.filter(kind=kind).exists():
            done[kind] = (0, 0.0)
            continue
        count = module(kind).seed(people_for(kind, people), batch_size=batch_size)
        done[kind] = (count, time.monotonic() - started)
    return done


def sandbox_choices(*, kind: str) -> list[tuple[str, str, str]]:
    """Return ``(list, value, note)`` of the values a simulated CRM knows but its API cannot
    list: AllClients' action sets, CRM.COM's communication templates (for the demo's
    connections, as an admin would keep them)."""
    if kind == "allclients":
        from crmhub.sandbox.allclients.store import ACTION_SETS

        return [("action_set", name, f"id {id_}") for id_, name, _ in ACTION_SETS]
    if kind == "crmcom":
        from crmhub.sandbox.crmcom.seed import TEMPLATES

        return [
            ("template", str(t["name"]), f"{t.get('media', '')} · {t.get('alternative_code', '')}")
            for t in TEMPLATES
        ]
    return []
