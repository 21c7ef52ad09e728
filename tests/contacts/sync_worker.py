"""A sync worker in its own process, for the kill -9 test.

Run as ``python -m tests.contacts.sync_worker <run_id> <count>`` with DATABASE_URL set to
the test database: it serves ``count`` deterministic contacts from a slow in-memory CRM
(one page every 0.2 s) and runs the sync, until it is killed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from crmhub.connectors.base import ContactPage, RemoteContact
from tests.fakes import FakeConnector


def contacts(count: int) -> list[RemoteContact]:
    """Return the same ``count`` contacts every time."""
    return [
        RemoteContact(
            remote_id=str(n),
            record_type="person",
            first_name=f"First{n}",
            last_name=f"Last{n}",
            emails=(f"p{n}@example.com",),
            phones=(f"+1 312 555 {n % 10000:04d}",),
            updated_at=datetime(2026, 1, 1, tzinfo=UTC),
            raw={"id": n},
        )
        for n in range(count)
    ]


class SlowFake(FakeConnector):
    kind = "allclients"
    delay = 0.2

    def iter_contact_pages(self, *, since=None, page_size=100) -> Iterator[ContactPage]:  # type: ignore[no-untyped-def]
        for page in super().iter_contact_pages(since=since, page_size=page_size):
            time.sleep(self.delay)
            yield page


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmhub.settings_test")
    import django

    django.setup()
    from crmhub.connectors import registry
    from crmhub.contacts.models import SyncRun
    from crmhub.contacts.services import contacts_sync

    run_id, count = int(sys.argv[1]), int(sys.argv[2])
    SlowFake.contacts = contacts(count)
    registry.register("allclients", SlowFake)
    contacts_sync(run=SyncRun.objects.get(pk=run_id))


if __name__ == "__main__":
    main()
