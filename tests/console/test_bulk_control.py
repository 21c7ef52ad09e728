"""The bulk run page: cancel, results by state, retry what did not work (both shapes)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Batch
from crmhub.actions.selectors import batch_retry_targets, targets_digest
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def batch(connections, ann, operator):  # type: ignore[no-untyped-def]
    """A run of four on Ann's AllClients record: one succeeded, two failed, one queued."""
    allclients = connections["allclients"]
    run = Batch.objects.create(
        operation="run_action_set",
        connection=allclients,
        params={"action_set_name": "Welcome Series"},
        size=4,
        created_by=operator,
    )
    params = {"action_set_name": "Welcome Series", "contact_remote_id": "501", "identify_method": 1}
    for state in ("succeeded", "failed", "failed", "queued"):
        make_action(
            allclients,
            "run_action_set",
            contact=ann["allclients"],
            state=state,
            batch=run,
            params=params,
            error="Action set not found" if state == "failed" else "",
        )
    return run


def test_the_page_lists_results_by_state_and_polls_while_running(client, viewer, batch):
    client.force_login(viewer)
    url = reverse("console:batch-detail", args=[batch.pk])
    html = client.get(url).content.decode()
    assert html.count("<tr data-action=") == 4 and 'hx-trigger="every 1s"' in html
    assert "Cancel the bulk run" not in html and "Retry 2" not in html  # a viewer
    failed = client.get(url, {"state": "failed"}, **HTMX)
    body = failed.content.decode()
    assert failed.status_code == 200 and body.lstrip().startswith('<section id="batch-progress"')
    assert body.count("<tr data-action=") == 2 and 'data-state="succeeded"' not in body
    assert f"{url}?state=failed" in body  # the poll keeps the filter
    assert client.get(url, {"state": "nonsense"}).status_code == 200  # ignored, all shown


def test_an_operator_cancels_a_running_bulk_and_the_page_stops_polling(client, operator, batch):
    client.force_login(operator)
    url = reverse("console:batch-detail", args=[batch.pk])
    assert "Cancel the bulk run" in client.get(url).content.decode()
    cancel = reverse("console:batch-cancel", args=[batch.pk])
    response = client.post(cancel, **HTMX)
    assert response["HX-Redirect"] == url
    assert client.post(cancel).status_code == 302  # the page shape, again: nothing left
    assert Action.objects.filter(batch=batch, state="cancelled").count() == 1
    final = client.get(url, **HTMX)
    assert final.status_code == 286  # finished: htmx stops polling
    body = final.content.decode()
    assert "Cancelled by operator" in body and "Cancel the bulk run" not in body


def test_retry_lists_what_did_not_work_and_one_confirmation_sends_it_again(
    client, operator, batch, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    Action.objects.filter(batch=batch, state="queued").update(state="succeeded")
    page = client.get(reverse("console:batch-detail", args=[batch.pk])).content.decode()
    assert "Retry 2 that did not work" in page
    url = reverse("console:batch-retry", args=[batch.pk])
    preview = client.get(url).content.decode()
    assert 'data-testid="retry-count">2<' in preview and preview.count("<tr data-action=") == 2
    digest = targets_digest(a.pk for a in batch_retry_targets(batch=batch))
    assert f'value="{digest}"' in preview
    stale = client.post(url, {"targets": "0" * 32}, **HTMX)
    assert stale.status_code == 200 and "selection changed" in stale.content.decode()
    with django_capture_on_commit_callbacks():
        response = client.post(url, {"targets": digest}, **HTMX)
    retry = Batch.objects.get(retry_of=batch)
    assert response["HX-Redirect"] == reverse("console:batch-detail", args=[retry.pk])
    assert retry.size == 2
    again = client.get(url).content.decode()
    assert "Nothing of bulk run" in again


def test_retry_leaves_unknown_outcomes_until_someone_checks_them(client, operator, batch):
    client.force_login(operator)
    Action.objects.filter(batch=batch, state="queued").update(state="unknown")
    page = client.get(reverse("console:batch-detail", args=[batch.pk])).content.decode()
    assert "1 unknown outcome" in page and "check it in the CRM" in page
    preview = client.get(reverse("console:batch-retry", args=[batch.pk])).content.decode()
    assert "1 unknown outcome of this run is not checked yet" in preview
