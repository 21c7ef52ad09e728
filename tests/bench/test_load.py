"""The load section's index: the archive no sync touches, and the rows saying its size."""

from __future__ import annotations

import pytest

from crmhub.bench.load.archive import archive_connections, archive_fill, index_size
from crmhub.bench.load.run import LoadResult
from crmhub.bench.load.section import rows
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync.schedule import runs_dispatch


@pytest.mark.django_db
def test_the_archive_fills_the_index_and_is_never_due_for_a_sync():
    synced = Connection.objects.create(name="Sandbox allclients", kind="allclients",
                                       base_url="https://crm.example.com/")  # fmt: skip

    filled = archive_fill(contacts=400, write=lambda _: None)

    assert filled["contacts"] == 400
    archive = archive_connections()
    assert sorted(archive) == ["allclients", "apptivo", "collect", "crmcom"]
    assert all(
        c.contacts_live == 100 for c in Connection.objects.filter(name__startswith="Archive")
    )
    assert Contact.objects.filter(person__isnull=False).count() > 0  # people matched
    size = index_size()
    assert (size["contacts"], size["archive"]) == (400, 400)
    assert 0 < size["people"] < 400  # the shared people of the demo are one person each
    # The scheduler queues the connection that has never synced, never an archive.
    queued = runs_dispatch()
    assert [run.connection_id for run in queued] == [synced.pk]
    passes = SyncRun.objects.filter(connection__in=archive.values())
    assert (
        sorted(passes.values_list("state", "mode", "fetched")) == [("succeeded", "full", 100)] * 4
    )
    # Filling again (a second run on kept data) adds no connection.
    assert archive_connections() == archive


def test_the_rows_say_how_large_the_index_was():
    result = LoadResult(stack="sqlite + filesystem broker", workers=1, users=20, people=2000,
                        index_contacts=1_000_000, archive_contacts=992_000,
                        index_people=700_000, bulk_size=2000)  # fmt: skip
    by_metric = {row.metric: row for row in rows(result)}

    assert by_metric["contacts in the index (synced + archive)"].value == 1_000_000
    archived = "of them archived (written directly; no sync during the run)"
    assert by_metric[archived].value == 992_000
    assert by_metric["people in the index (contacts matched)"].value == 700_000
    assert by_metric["bulk act confirmation (page; 2000 actions)"].target == "<= 1000 ms"
    assert by_metric["page time p95"].target == "<= 200 ms"
