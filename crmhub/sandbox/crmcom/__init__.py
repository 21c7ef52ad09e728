"""The simulated CRM.COM back-office Web API (token login, JSON envelopes).

See ``crmhub/sandbox/registry.py`` for what a simulated CRM exports.
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.crmcom.auth import default_credentials
from crmhub.sandbox.crmcom.seed import seed
from crmhub.sandbox.crmcom.urls import BASE_PATH, urlpatterns

#: The release the sandbox simulates (paging on lists, set_as_viewed, queue remove...).
RELEASE = "14"


def connection_settings(credentials: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the (settings, secrets) a crmhub CRM.COM connection needs to log in here."""
    settings = {
        "username": credentials["username"],
        "organisation": credentials["organisation"],
        "unit": credentials.get("unit", ""),
        "release": RELEASE,
    }
    return settings, {"password": credentials["password"]}


__all__ = ["BASE_PATH", "connection_settings", "default_credentials", "seed", "urlpatterns"]
