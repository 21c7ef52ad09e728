"""Page regions fed by reads: no GET changes anything; a POST queues one safe read."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
COMMS = {
    "communications": [
        {
            "id": "A" * 32,
            "number": "CM1",
            "life_cycle_state": "DRAFT",
            "subject": "Statement",
            "media": "EMAIL",
            "direction": "OUTGOING",
            "content": "Hello",
            "viewed": False,
        },
        {
            "id": "B" * 32,
            "number": "CM2",
            "life_cycle_state": "COMPLETED",
            "subject": "Receipt",
            "media": "EMAIL",
            "direction": "OUTGOING",
            "content": "Thanks",
            "viewed": False,
        },
    ]
}


def test_opening_pages_never_creates_an_action(client, operator, ann, connections):
    client.force_login(operator)
    for url in (
        reverse("console:person-detail", args=[ann["crmcom"].person_id]),
        reverse("console:queue", args=[connections["crmcom"].pk]),
        reverse("console:contact-read", args=[ann["crmcom"].pk, "communications_list"]),
        reverse("console:connection-read", args=[connections["apptivo"].pk, "get_config"]),
        reverse("console:connection-act", args=[connections["apptivo"].pk, "create_customer"]),
    ):
        assert client.get(url).status_code in (200, 286), url
        assert client.get(url, **HTMX).status_code in (200, 286), url
    assert not Action.objects.exists()


def test_communications_are_read_by_a_safe_action_and_listed_with_their_acts(client, operator, ann):
    client.force_login(operator)
    url = reverse("console:contact-read", args=[ann["crmcom"].pk, "communications_list"])
    response = client.post(url, **HTMX)
    read = Action.objects.get()
    assert (read.operation, read.safe, read.contact) == ("communications_list", True, ann["crmcom"])
    assert 'hx-trigger="every 1s"' in response.content.decode()  # polls while it runs
    Action.objects.filter(pk=read.pk).update(
        state="succeeded", result={"message": "2", "data": COMMS}
    )
    response = client.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 286
    assert "Statement" in html and "Receipt" in html
    complete = reverse("console:contact-act", args=[ann["crmcom"].pk, "communication_complete"])
    viewed = reverse("console:contact-act", args=[ann["crmcom"].pk, "communication_set_as_viewed"])
    assert html.count(complete) == 2 and html.count(viewed) == 2  # action and hx-post
    assert "crmhub:communications-changed from:body" in html


def test_the_queue_page_lists_pending_entries_latest_first(client, operator, connections):
    client.force_login(operator)
    crmcom = connections["crmcom"]
    make_action(
        crmcom,
        "queue_list",
        safe=True,
        params={"life_cycle_state": "PENDING", "media": "EMAIL"},
        result={
            "message": "2",
            "data": {
                "queue_entries": [
                    {
                        "id": "1" * 32,
                        "number": "Q1",
                        "life_cycle_state": "PENDING",
                        "subject": "Old",
                        "updated_at": "2025-01-01T00:00:00+00:00",
                    },
                    {
                        "id": "2" * 32,
                        "number": "Q2",
                        "life_cycle_state": "PENDING",
                        "subject": "New",
                        "updated_at": "2026-01-01T00:00:00+00:00",
                    },
                ]
            },
        },
    )
    html = client.get(reverse("console:queue", args=[crmcom.pk])).content.decode()
    assert html.index("New") < html.index("Old")
    assert html.count("queue_process") == 4 and "Reject…" in html
    assert 'data-confirm="Remove entry Q1 from the queue?"' in html
    sms = client.get(reverse("console:queue", args=[crmcom.pk]) + "?media=SMS").content.decode()
    assert "Old" not in sms  # the SMS queue was not read yet
    client.post(
        reverse("console:connection-read", args=[crmcom.pk, "queue_list"]) + "?media=SMS", **HTMX
    )
    assert Action.objects.latest("pk").params == {"life_cycle_state": "PENDING", "media": "SMS"}


# -- undocumented reads: their absence is shown, not a failure ----------------------------------
NOT_AVAILABLE = {"message": "x: not available from this CRM.", "data": {"available": False}}


def test_links_in_allclients_are_read_by_a_safe_action_and_listed(client, operator, ann):
    client.force_login(operator)
    person = reverse("console:person-detail", args=[ann["allclients"].person_id])
    page = client.get(person).content.decode()
    url = reverse("console:contact-read", args=[ann["allclients"].pk, "get_contact_links"])
    assert f'hx-post="{url}"' in page and "load, crmhub:links-changed from:body" in page
    assert not Action.objects.exists()  # opening the page asked nothing
    client.post(url, **HTMX)
    read = Action.objects.get()
    assert (read.operation, read.safe, read.contact) == (
        "get_contact_links",
        True,
        ann["allclients"],
    )
    links = [{"id": "1", "url": "https://files.example.com/a.pdf", "label": "Statement A"}]
    Action.objects.filter(pk=read.pk).update(
        state="succeeded", result={"message": "1 link(s)", "data": {"links": links}}
    )
    html = client.get(url, **HTMX).content.decode()
    assert '<a href="https://files.example.com/a.pdf"' in html and "Statement A" in html
    assert "not available" not in html


def test_links_the_crm_does_not_have_are_shown_as_not_available(client, operator, ann):
    client.force_login(operator)
    make_action(
        ann["allclients"].connection,
        "get_contact_links",
        contact=ann["allclients"],
        safe=True,
        result=NOT_AVAILABLE,
    )
    page = client.get(reverse("console:person-detail", args=[ann["allclients"].person_id]))
    html = page.content.decode()
    region = html.split('id="contact-links-', 1)[1].split("</section>", 1)[0]
    assert "Links are not available from this CRM." in region
    assert 'role="alert"' not in region and "Could not load" not in region
    assert "No link in AllClients" not in region


def test_the_plan_form_lists_the_plans_or_says_they_are_not_available(
    client, operator, ann, connections
):
    client.force_login(operator)
    collect = connections["collect"]
    form_url = reverse("console:contact-act", args=[ann["collect"].pk, "run_plan"])
    html = client.get(form_url).content.decode()
    plans_url = reverse("console:connection-read", args=[collect.pk, "list_plans"])
    owner = f"c{ann['collect'].pk}"
    load = f'hx-post="{plans_url}" hx-vals=\'{{"owner": "{owner}"}}\' hx-trigger="load"'
    assert load in html
    assert f'list="choices-plan-{owner}"' in html
    assert "Not loaded yet" in html
    listed = {"plans": [{"code": "REV", "description": "Review account"}]}
    read = make_action(collect, "list_plans", safe=True, result={"message": "1", "data": listed})
    html = client.get(form_url).content.decode()
    assert '<option value="REV">Review account</option>' in html
    assert load not in html  # fresh: not asked again
    Action.objects.filter(pk=read.pk).update(result=NOT_AVAILABLE)
    html = client.get(form_url).content.decode()
    assert "The contact plans list is not available from this CRM" in html
    assert "<option" not in html.split(f'id="choices-plan-{owner}"', 1)[1].split("</datalist>")[0]
    assert 'name="plan"' in html  # the code can still be typed
