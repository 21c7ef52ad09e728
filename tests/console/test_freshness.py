"""Each connection shows how fresh its part of the index is: the last complete pass and
the last incremental run, on the connection list and detail and the dashboard's rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crmhub.contacts.models import SyncRun
from crmhub.contacts.selectors import sync_runs_overview

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _run(connection, mode: str, state: str, minutes_ago: int) -> SyncRun:  # type: ignore[no-untyped-def]
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    run = SyncRun.objects.create(connection=connection, mode=mode, state=state)
    SyncRun.objects.filter(pk=run.pk).update(
        created_at=finished - timedelta(minutes=1), started_at=finished, finished_at=finished
    )
    return run


@pytest.fixture
def history(connections):  # type: ignore[no-untyped-def]
    """Apptivo: a full pass 3 hours ago, an incremental 5 minutes ago, a failed one since;
    CRM.COM: a full pass 2 days ago; AllClients: never synced."""
    apptivo, crmcom = connections["apptivo"], connections["crmcom"]
    _run(apptivo, "full", "succeeded", 180)
    _run(apptivo, "incremental", "succeeded", 300)  # older: not the last one
    _run(apptivo, "incremental", "succeeded", 5)
    _run(apptivo, "full", "failed", 2)  # a failed pass makes the index no fresher
    _run(crmcom, "full", "succeeded", 2 * 24 * 60)
    _run(crmcom, "full", "flagged", 60)  # not applied: not a complete pass
    return connections


def test_the_overview_gives_the_last_succeeded_full_and_incremental_runs(history):
    ids = [c.pk for c in history.values()]
    overview = sync_runs_overview(connection_ids=ids)
    now = timezone.now()
    apptivo = overview[history["apptivo"].pk]
    assert apptivo.latest is not None and apptivo.latest.state == "failed"
    assert abs((now - apptivo.full_at).total_seconds() - 180 * 60) < 60
    assert abs((now - apptivo.incremental_at).total_seconds() - 5 * 60) < 60
    assert apptivo.fresh_at == apptivo.incremental_at
    crmcom = overview[history["crmcom"].pk]
    assert crmcom.incremental_at is None and crmcom.fresh_at == crmcom.full_at
    assert abs((now - crmcom.full_at).total_seconds() - 2 * 24 * 3600) < 60
    never = overview[history["allclients"].pk]
    assert (never.latest, never.full_at, never.incremental_at) == (None, None, None)


def _freshness_cells(html: str) -> list[str]:
    return [part.split("</div>", 1)[0] for part in html.split('<div class="freshness">')[1:]]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
@pytest.mark.parametrize("page", ["connection-list", "dashboard"])
def test_the_lists_show_each_connections_freshness(client, viewer, history, page, htmx):
    client.force_login(viewer)
    response = client.get(reverse(f"console:{page}"), **(HTMX if htmx else {}))
    html = response.content.decode()
    assert response.status_code == 200
    assert ("<html" in html) is not htmx
    cells = dict(zip([c.name for c in sorted(history.values(), key=lambda c: c.name)],
                     _freshness_cells(html), strict=True))  # fmt: skip
    apptivo = " ".join(cells["Test apptivo"].split())
    assert "Complete pass: <time" in apptivo and "3 hours ago" in apptivo
    assert "incremental: <time" in apptivo and "5 minutes ago" in apptivo
    crmcom = " ".join(cells["Test crmcom"].split())
    assert "2 days ago" in crmcom and "full passes only" in crmcom
    never = " ".join(cells["Test allclients"].split())
    assert 'Complete pass: <span class="muted">none yet</span>' in never
    assert "full passes only" in never


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_the_connection_detail_shows_its_freshness(client, viewer, history, htmx):
    client.force_login(viewer)
    url = reverse("console:connection-detail", args=[history["apptivo"].pk])
    html = client.get(url, **(HTMX if htmx else {})).content.decode()
    assert ("<html" in html) is not htmx
    assert html.lstrip().startswith('<div id="connection-status"') is htmx
    (cell,) = _freshness_cells(html)
    cell = " ".join(cell.split())
    assert "Index freshness" in html
    assert "3 hours ago" in cell and "incremental: <time" in cell and "5 minutes ago" in cell
    assert "full passes only" not in cell


@pytest.mark.parametrize("page", ["connection-list", "dashboard", "connection-detail"])
def test_freshness_costs_the_same_queries_however_many_runs(client, viewer, history, page):
    from tests.console.test_queries import _queries

    client.force_login(viewer)
    args = [history["apptivo"].pk] if page == "connection-detail" else []
    url = reverse(f"console:{page}", args=args)
    before = _queries(client, url)
    for connection in history.values():
        for minutes in range(10, 40):
            _run(connection, "full" if minutes % 3 else "incremental", "succeeded", minutes)
    assert _queries(client, url) == before
