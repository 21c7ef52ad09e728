"""The Celery app of the integration tests' worker subprocesses.

``celery -A tests.integration.worker_app worker ...``: crmhub's own app, plus the ledger
test connector registered under kind ``ledger`` (the real connectors stay as they are).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmhub.settings_test")

import django

django.setup()

from crmhub.celery import app  # noqa: E402
from crmhub.connectors import registry  # noqa: E402
from tests.integration.remote import KIND, LedgerConnector  # noqa: E402

registry.register(KIND, LedgerConnector)
# A killed pool child's job is given up (and, acks_late + reject_on_worker_lost, requeued)
# after this wait; Celery's default of 10 s would only slow the tests down.
app.conf.worker_lost_wait = 1.0
# A test may give the broker options of its own (R6: a short Redis visibility timeout).
if os.environ.get("TEST_BROKER_OPTIONS"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        **json.loads(os.environ["TEST_BROKER_OPTIONS"]),
    }

__all__ = ["app"]
