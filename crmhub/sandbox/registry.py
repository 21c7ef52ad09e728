"""The four simulated CRMs: where each lives and how it is seeded.

Each kind module (``crmhub.sandbox.<kind>``) provides:

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

KINDS = ("allclients", "apptivo", "collect", "crmcom")


def module(kind: str) -> ModuleType:
    if kind not in KINDS:
        raise LookupError(f"No sandbox for kind {kind!r}.")
    return import_module(f"crmhub.sandbox.{kind}")
