"""The real thing: a Celery worker, the beat dispatcher task, the sandbox CRMs over HTTP."""

from __future__ import annotations

import pytest

from crmhub.bench.sandboxes import connection_from_spec
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, Person, SyncRun
from crmhub.contacts.services import syncs_dispatch as dispatch
from crmhub.contacts.tasks import syncs_dispatch
from crmhub.sandbox.registry import KINDS
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.integration,
]
PEOPLE = 40


def _connection(spec) -> Connection:  # type: ignore[no-untyped-def]
    return connection_from_spec(spec, name=f"Sandbox {spec.kind}", sync_interval_minutes=5)


def test_the_dispatcher_syncs_every_sandbox_into_one_index(sandbox_spec, celery_worker):
    connections = {kind: _connection(sandbox_spec(kind, people=PEOPLE)) for kind in KINDS}

    syncs_dispatch.delay()  # what beat sends every CRMHUB_DISPATCH_SECONDS

    def finished() -> list[SyncRun]:
        runs = list(SyncRun.objects.exclude(state__in=SyncRun.ACTIVE_STATES))
        return runs if len(runs) == len(KINDS) else []

    runs = wait_for(finished, timeout=120, message="the four syncs did not finish")
    # A run is finished before its matching: the last one may still be placing people (or
    # waiting for another's lock). Its marks are cleared when it has placed them.
    wait_for(
        lambda: not Contact.objects.filter(needs_match=True).exists(),
        timeout=60,
        message="the matchings after the syncs did not place every contact",
    )
    failures = {run.connection.kind: run.error for run in runs if run.state != "succeeded"}
    assert failures == {}
    for kind, connection in connections.items():
        assert Contact.objects.filter(connection=connection).count() >= PEOPLE, kind
        connection.refresh_from_db()
        assert connection.health == "ok"
    # A fifth of each CRM's people are in three CRMs: one person each, matched by a key.
    linked = Person.objects.filter(contacts__isnull=False).distinct()
    assert linked.count() >= PEOPLE // 5
    for person in linked[:10]:
        kinds = set(person.contacts.values_list("connection__kind", flat=True))
        assert len(kinds) >= 2
        assert all(c.matched_by for c in person.contacts.all())
    assert max(person.contacts.count() for person in linked) >= 3

    assert dispatch() == []  # nothing is due yet: no new run
