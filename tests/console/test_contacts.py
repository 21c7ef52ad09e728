"""Find anyone: search as you type, one row per person, the person page side by side."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Batch
from tests.console.conftest import index, make_action, remote

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _search(client, **params):  # type: ignore[no-untyped-def]
    return client.get(reverse("console:contact-list"), params, **HTMX)


def test_one_row_per_person_with_a_badge_per_crm(client, viewer, ann):
    client.force_login(viewer)
    for query in ("ANN.LEE@EXAMPLE.COM", "312.555.0100", "(312) 555-0100", "ann lee"):
        html = _search(client, q=query).content.decode()
        assert "<html" not in html
        assert html.count('href="/people/') == 1, query
        for badge in ("AllClients", "Apptivo", "Collect!", "CRM.COM"):
            assert badge in html, (query, badge)


def test_filters_narrow_the_results(client, viewer, ann, connections):
    client.force_login(viewer)
    index(connections["allclients"], [remote("502", "Bob", "Stone", email="bob@example.com")])
    assert "Bob Stone" in _search(client, q="bob").content.decode()
    assert "Bob Stone" not in _search(client, q="bob", kind="apptivo").content.decode()
    assert "Bob Stone" not in _search(client, q="bob", record_type="debtor").content.decode()
    html = _search(client, q="", connection=connections["allclients"].pk).content.decode()
    assert "Bob Stone" in html and "Ann" in html


def test_results_load_more_by_keyset(client, viewer, connections):
    client.force_login(viewer)
    index(
        connections["allclients"],
        [
            remote(str(600 + n), "Zoe", f"Page{n:02d}", email=f"zoe{n}@example.com")
            for n in range(60)
        ],
    )
    first = _search(client, q="zoe").content.decode()
    assert first.count('name="pick"') == 0  # a viewer has no selection boxes
    assert first.count("Zoe Page") == 50 and 'id="load-more"' in first
    after = first.split("after=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    more = client.get(
        reverse("console:contact-list") + f"?q=zoe&after={after}",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="load-more",
    ).content.decode()
    assert more.count("Zoe Page") == 10 and 'id="load-more"' not in more
    assert "<table" not in more  # only the rows


def test_the_person_page_highlights_fields_that_differ(client, viewer, ann):
    client.force_login(viewer)
    html = client.get(reverse("console:person-detail", args=[ann["collect"].person_id]))
    html = html.content.decode()
    name_row = html.split('<th scope="row">Name', 1)[1].split("</tr>", 1)[0]
    assert "differs" in name_row and "Ann Leigh" in name_row
    email_row = html.split('<th scope="row">Emails', 1)[1].split("</tr>", 1)[0]
    assert "differs" not in email_row  # the same address in another case


def test_links_added_from_the_console_are_listed(client, viewer, ann, connections):
    make_action(
        connections["allclients"],
        "add_contact_link",
        contact=ann["allclients"],
        params={"url": "https://files.example.com/s.pdf", "label": "Statement"},
    )
    client.force_login(viewer)
    html = client.get(
        reverse("console:person-detail", args=[ann["allclients"].person_id]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="person-links",
    ).content.decode()
    assert '<a href="https://files.example.com/s.pdf"' in html and "Statement" in html
    assert 'id="person-actions"' not in html


def test_bulk_preview_then_confirm_then_follow(
    client, operator, ann, connections, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    others = index(
        connections["allclients"],
        [remote(str(700 + n), "Kim", f"Bulk{n}", email=f"kim{n}@example.com") for n in range(3)],
    )
    picks = [f"p{ann['allclients'].person_id}", *[f"c{c.pk}" for c in others]]
    choose = client.get(reverse("console:bulk"), {"pick": picks}).content.decode()
    assert "Run action set" in choose and "4 contacts" in choose
    act = f"{connections['allclients'].pk}:run_action_set"
    preview = client.get(reverse("console:bulk"), {"pick": picks, "act": act}).content.decode()
    assert '<strong data-testid="bulk-count">4</strong>' in preview and "Kim Bulk0" in preview
    assert "identify_value" not in preview  # a per-contact value is not shared in bulk
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("console:bulk"),
            {"pick": picks, "act": act, "action_set_name": "Welcome Series"},
            **HTMX,
        )
    batch = Batch.objects.get()
    assert response["HX-Redirect"] == reverse("console:batch-detail", args=[batch.pk])
    assert batch.size == 4 and Action.objects.filter(batch=batch).count() == 4
    page = client.get(reverse("console:batch-detail", args=[batch.pk]), **HTMX)
    assert page.status_code == 200 and 'hx-trigger="every 1s"' in page.content.decode()


def test_bulk_on_a_whole_search(
    client, operator, ann, connections, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    act = f"{connections['collect'].pk}:run_plan"
    preview = client.get(reverse("console:bulk"), {"all": "1", "q": "ann", "act": act})
    assert '<strong data-testid="bulk-count">1</strong>' in preview.content.decode()
    with django_capture_on_commit_callbacks():
        client.post(reverse("console:bulk"), {"all": "1", "q": "ann", "act": act, "plan": "REV"})
    batch = Batch.objects.get()
    assert (batch.search_query, batch.size) == ("ann", 1)


def test_bulk_failures_download_as_csv(client, viewer, ann, connections):
    batch = Batch.objects.create(
        operation="run_action_set",
        connection=connections["allclients"],
        size=2,
        skipped={"999": "contact_remote_id: not a number"},
    )
    make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        batch=batch,
        state=Action.State.FAILED,
        error='=HYPERLINK("x") refused',
    )
    make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        batch=batch,
        state=Action.State.SUCCEEDED,
    )
    client.force_login(viewer)
    response = client.get(reverse("console:batch-failures", args=[batch.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["contact_id", "remote_id", "name", "state", "error"]
    assert [row[3] for row in rows[1:]] == ["skipped", "failed"]
    assert rows[2][4].startswith("'=HYPERLINK")  # not run as a formula by a spreadsheet
    page = client.get(reverse("console:batch-detail", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert page.status_code == 286 and "100%" in page.content.decode()
