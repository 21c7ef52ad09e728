"""Find anyone: search as you type, one row per person, the person page side by side."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from crmhub.actions.models import Action, Batch
from crmhub.contacts.matching.corrections import person_join
from crmhub.contacts.models import Contact
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


def _pick_of(client, query: str, title: str) -> str:  # type: ignore[no-untyped-def]
    """Return the pick value of the search result row titled ``title``."""
    html = _search(client, q=query).content.decode()
    row = next(r for r in html.split("<tr")[1:] if title in r)
    return row.split('name="pick" value="', 1)[1].split('"', 1)[0]


def _listed(html: str) -> list[int]:
    """Return the ids of the contacts the preview lists as targets."""
    rows = html.split('id="bulk-targets"', 1)[1].split("</table>", 1)[0]
    return [int(part.split('"', 1)[0]) for part in rows.split('data-target="')[1:]]


def _digest(html: str) -> str:
    return html.split('name="targets" value="', 1)[1].split('"', 1)[0]


def test_bulk_preview_lists_every_target_then_confirm_then_follow(
    client, operator, ann, connections, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    others = index(
        connections["allclients"],
        [remote(str(700 + n), "Kim", f"Bulk{n}", email=f"kim{n}@example.com") for n in range(3)],
    )
    picks = [_pick_of(client, "ann", "Ann Lee"), *[f"c{c.pk}" for c in others]]
    assert picks[0] == "p{}.{}".format(
        ann["allclients"].person_id,
        ".".join(str(c.pk) for c in sorted(ann.values(), key=lambda c: c.pk)),
    )
    choose = client.get(reverse("console:bulk"), {"pick": picks}).content.decode()
    assert "Run action set" in choose and "4 contacts" in choose
    act = f"{connections['allclients'].pk}:run_action_set"
    preview = client.get(reverse("console:bulk"), {"pick": picks, "act": act}).content.decode()
    assert '<strong data-testid="bulk-count">4</strong>' in preview
    targets = [ann["allclients"].pk, *[c.pk for c in others]]
    assert _listed(preview) == targets
    for contact in (ann["allclients"], *others):  # name, CRM and id in the CRM, each
        row = preview.split(f'data-target="{contact.pk}"', 1)[1].split("</tr>", 1)[0]
        assert contact.display_name in row and "AllClients" in row
        assert f"<code>{contact.remote_id}</code>" in row
    assert "identify_value" not in preview  # a per-contact value is not shared in bulk
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("console:bulk"),
            {"pick": picks, "act": act, "action_set_name": "Welcome Series",
             "targets": _digest(preview)},
            **HTMX,
        )  # fmt: skip
    batch = Batch.objects.get()
    assert response["HX-Redirect"] == reverse("console:batch-detail", args=[batch.pk])
    assert batch.contact_ids == targets
    assert (
        sorted(Action.objects.filter(batch=batch).values_list("contact_id", flat=True)) == targets
    )
    page = client.get(reverse("console:batch-detail", args=[batch.pk]), **HTMX)
    assert page.status_code == 200 and 'hx-trigger="every 1s"' in page.content.decode()


def test_a_person_row_acts_only_on_the_records_it_showed(
    client, operator, ann, connections, django_capture_on_commit_callbacks
):
    """Records joined to the person after the row was shown are not acted on."""
    client.force_login(operator)
    pick = _pick_of(client, "ann", "Ann Lee")
    (twin,) = index(
        connections["allclients"], [remote("777", "Ann", "Twin", email="at@example.com")]
    )
    person_join(contact=ann["allclients"], other=twin, user=operator)
    twin.refresh_from_db()
    assert twin.person_id == ann["allclients"].person_id

    act = f"{connections['allclients'].pk}:run_action_set"
    preview = client.get(reverse("console:bulk"), {"pick": pick, "act": act}).content.decode()
    assert _listed(preview) == [ann["allclients"].pk]
    assert (
        f"p{ann['allclients'].person_id}"
        in client.get(reverse("console:bulk"), {"pick": pick}).content.decode()
    )
    with django_capture_on_commit_callbacks():
        client.post(
            reverse("console:bulk"),
            {"pick": pick, "act": act, "action_set_name": "W", "targets": _digest(preview)},
        )
    batch = Batch.objects.get()
    assert list(Action.objects.filter(batch=batch).values_list("contact_id", flat=True)) == [
        ann["allclients"].pk
    ]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("PRM", "Plan PRM prompts for an answer, so it is never run in bulk"),
        ("DEL", "Plan DEL prompts for an answer, so it is never run in bulk"),
        ("XYZ", "Plan XYZ is not marked as one that never prompts on Test collect"),
    ],
)
def test_bulk_refuses_plans_that_may_prompt_with_a_clear_message(
    client, operator, ann, connections, plan, message
):
    client.force_login(operator)
    act = f"{connections['collect'].pk}:run_plan"
    preview = client.get(reverse("console:bulk"), {"all": "1", "q": "ann", "act": act})
    form = {"all": "1", "q": "ann", "act": act, "plan": plan}
    form["targets"] = _digest(preview.content.decode())
    for headers in ({}, HTMX):
        response = client.post(reverse("console:bulk"), form, **headers)
        html = response.content.decode()
        assert response.status_code == 200
        assert message in html
        assert 'id="id_runplan_n' in html  # the form again, the message beside its field
    assert not Batch.objects.exists() and not Action.objects.exists()


def test_bulk_on_a_whole_search_keeps_the_targets_it_resolved_at_confirm(
    client, operator, ann, connections, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    act = f"{connections['collect'].pk}:run_plan"
    preview = client.get(reverse("console:bulk"), {"all": "1", "q": "ann", "act": act})
    preview = preview.content.decode()
    assert '<strong data-testid="bulk-count">1</strong>' in preview
    assert _listed(preview) == [ann["collect"].pk]
    with django_capture_on_commit_callbacks():
        client.post(
            reverse("console:bulk"),
            {"all": "1", "q": "ann", "act": act, "plan": "REV", "targets": _digest(preview)},
        )
    batch = Batch.objects.get()
    assert (batch.search_query, batch.size, batch.contact_ids) == ("ann", 1, [ann["collect"].pk])
    index(connections["collect"], [remote("debtor:90", "Ann", "Other", record_type="debtor")])
    assert Batch.objects.get().contact_ids == [ann["collect"].pk]
    assert Action.objects.filter(batch=batch).count() == 1


def test_a_confirm_whose_targets_changed_since_the_preview_queues_nothing(
    client, operator, ann, connections
):
    client.force_login(operator)
    act = f"{connections['collect'].pk}:run_plan"
    query = {"all": "1", "q": "ann", "act": act}
    preview = client.get(reverse("console:bulk"), query).content.decode()
    index(connections["collect"], [remote("debtor:90", "Ann", "Other", record_type="debtor")])

    changed = client.post(
        reverse("console:bulk"), {**query, "plan": "REV", "targets": _digest(preview)}
    )
    unchecked = client.post(reverse("console:bulk"), {**query, "plan": "REV"})

    assert "The selection changed since the preview" in changed.content.decode()
    assert _listed(changed.content.decode()) == sorted(
        [ann["collect"].pk, Contact.objects.get(remote_id="debtor:90").pk]
    )
    assert "Check the contacts listed, then confirm" in unchecked.content.decode()
    assert not Batch.objects.exists() and not Action.objects.exists()


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


def test_the_results_say_how_many_people_were_found(client, viewer, ann, connections):
    client.force_login(viewer)
    index(
        connections["allclients"],
        [
            remote(str(700 + n), "Zoe", f"Count{n:02d}", email=f"zc{n}@example.com")
            for n in range(60)
        ],
    )
    html = _search(client, q="zoe").content.decode()
    assert '<strong id="result-count" data-people="60">60 people</strong>' in html
    html = _search(client, q="ann lee").content.decode()
    assert ">1 person</strong>" in html  # one person in four CRMs
    more = client.get(
        reverse("console:contact-list") + "?q=zoe&after=1-0",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="load-more",
    ).content.decode()
    assert "result-count" not in more  # "Load more" adds rows, not another count


def test_past_two_hundred_people_the_count_says_at_least_two_hundred(client, viewer, connections):
    """The count stops at 200 people (four pages): past them it says so, never a made-up
    total; at 200 exactly it is exact."""
    client.force_login(viewer)
    index(
        connections["allclients"],
        [
            remote(str(900 + n), "Zed", f"Many{n:03d}", email=f"zm{n}@example.com")
            for n in range(201)
        ],
    )
    index(
        connections["apptivo"],
        [
            remote(str(900 + n), "Yves", f"Some{n:03d}", email=f"ys{n}@example.com")
            for n in range(200)
        ],
    )
    html = _search(client, q="zed").content.decode()
    assert '<strong id="result-count" data-people="200+">200+ people</strong>' in html
    html = _search(client, q="yves").content.decode()
    assert '<strong id="result-count" data-people="200">200 people</strong>' in html
