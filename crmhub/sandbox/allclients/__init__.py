"""Simulated AllClients: form posts to ``<Method>.aspx`` answering XML or JSON.

Exports what ``crmhub.sandbox.registry`` expects of every simulated CRM.
"""

from __future__ import annotations

from crmhub.sandbox.allclients.store import connection_settings, default_credentials, seed
from crmhub.sandbox.allclients.urls import BASE_PATH, urlpatterns

__all__ = ["BASE_PATH", "connection_settings", "default_credentials", "seed", "urlpatterns"]
