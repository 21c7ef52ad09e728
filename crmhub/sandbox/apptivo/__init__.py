"""The simulated Apptivo (query-string JSON API), mounted under /sandbox/apptivo/.

Exports what ``crmhub.sandbox.registry`` expects: ``BASE_PATH``, ``urlpatterns``,
``default_credentials()``, ``seed(people, *, batch_size)`` and ``connection_settings()``.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Iterable
from itertools import islice

from django.urls import path

from crmhub.sandbox.apptivo import views
from crmhub.sandbox.apptivo.customers import seed_rows
from crmhub.sandbox.models import Record
from crmhub.sandbox.people import PersonSpec

BASE_PATH = "app/dao/v6/"
urlpatterns = [path(f"{BASE_PATH}customers", views.customers_endpoint, name="apptivo-customers")]


def default_credentials() -> dict[str, str]:
    """Return fresh keys shaped like the vendor's sample (apiKey with a UUID, 16-char accessKey)."""
    alphabet = string.ascii_letters + string.digits
    prefix = "".join(secrets.choice(alphabet) for _ in range(12))
    middle = "".join(secrets.choice(alphabet) for _ in range(14))
    return {
        "api_key": f"{prefix}-{middle}-{uuid.uuid4()}",
        "access_key": "".join(secrets.choice(alphabet) for _ in range(16)),
    }


def seed(people: Iterable[PersonSpec], *, batch_size: int) -> int:
    """Bulk-insert one customer per person; return how many were written.

    The firm's fixed data (statuses, categories, types) lives in ``config`` and needs no rows.
    """
    rows = seed_rows(people)
    written = 0
    while batch := list(islice(rows, batch_size)):
        Record.objects.bulk_create(batch, batch_size=batch_size)
        written += len(batch)
    return written


def connection_settings(credentials: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the (settings, secrets) of a crmhub Apptivo connection to this simulator."""
    return {}, {"api_key": credentials["api_key"], "access_key": credentials["access_key"]}
