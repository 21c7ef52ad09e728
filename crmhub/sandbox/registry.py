"""The simulated CRMs, listed once: where each lives and how it is seeded.

The URLs (``/sandbox/<kind>/``), the admin's kind choices, the seeding and the demo
connections all follow ``SANDBOXES``; adding a simulated CRM is its package plus one line
here. Each kind module (``crmhub.sandbox.<kind>``) provides:

* ``urlpatterns`` — its API, mounted under ``/sandbox/<kind>/``;
* ``BASE_PATH`` — the path under ``/sandbox/<kind>/`` that a connection's base URL names;
* ``default_credentials()`` — fresh credentials for the sandbox account;
* ``seed(people, *, batch_size)`` — store the given ``PersonSpec``s (bulk inserts) plus the
  kind's fixed data (action sets, plans, templates...), returning how many were written;
* ``connection_settings(credentials)`` — the non-secret settings and the secrets a
  crmhub ``Connection`` needs to reach this simulator.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

#: Every simulated CRM: its kind (named like the connection kind it simulates) and its name.
SANDBOXES: tuple[tuple[str, str], ...] = (
    ("allclients", "AllClients"),
    ("apptivo", "Apptivo"),
    ("collect", "Collect!"),
    ("crmcom", "CRM.COM"),
)
KINDS = tuple(kind for kind, _ in SANDBOXES)


def module(kind: str) -> ModuleType:
    """Return the package of simulated CRM ``kind``; raise ``LookupError`` if there is none."""
    if kind not in KINDS:
        raise LookupError(f"No sandbox for kind {kind!r}.")
    return import_module(f"crmhub.sandbox.{kind}")
