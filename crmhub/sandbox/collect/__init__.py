"""The simulated Collect! server: REST under ``api/v1/`` plus a Web Socket for prompts.

Exports what ``crmhub.sandbox.registry`` asks of every simulated CRM.
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.collect.auth import default_credentials
from crmhub.sandbox.collect.seeding import seed
from crmhub.sandbox.collect.tables import PLANS, plan_needs_socket
from crmhub.sandbox.collect.urls import BASE_PATH, urlpatterns

#: Where the sandbox serves the Collect! Web Socket (``crmhub.sandbox.websocket``).
WEBSOCKET_PATH = "/sandbox/collect/api/v1/ws"


def connection_settings(credentials: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the (settings, secrets) of a crmhub Connection reaching this simulator."""
    settings = {
        "operator_id": str(credentials["op_id"]),
        "database": str(credentials.get("database", "cv_masterdb")),
        "websocket_path": WEBSOCKET_PATH,
        # What an admin would mark for this server's plans (tables.PLANS).
        "prompting_plans": ", ".join(p["cp_code"] for p in PLANS if plan_needs_socket(p)),
        "quiet_plans": ", ".join(p["cp_code"] for p in PLANS if not plan_needs_socket(p)),
    }
    return settings, {"password": str(credentials["op_password"])}


__all__ = [
    "BASE_PATH",
    "WEBSOCKET_PATH",
    "connection_settings",
    "default_credentials",
    "seed",
    "urlpatterns",
]
