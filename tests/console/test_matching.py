"""The person page says why records are together; operators split, join and undo."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.contacts.models import Contact, MatchCorrection
from tests.console.conftest import index, remote

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _page(client, contact: Contact) -> str:  # type: ignore[no-untyped-def]
    return client.get(
        reverse("console:contact-detail", args=[contact.pk]), follow=True
    ).content.decode()


def _person_of(contact: Contact) -> int | None:
    contact.refresh_from_db()
    return contact.person_id


@pytest.fixture
def by_phone(ann, connections) -> Contact:  # type: ignore[no-untyped-def]
    """A second Apptivo record of Ann's, with her phone only."""
    (record,) = index(connections["apptivo"], [remote("9002", "Ann", "L.", phone="312.555.0100")])
    assert record.person_id == ann["allclients"].person_id
    return record


def test_the_person_page_says_which_key_links_which_records(client, viewer, ann, by_phone):
    client.force_login(viewer)
    html = _page(client, ann["allclients"])

    evidence = html.split('id="person-evidence"', 1)[1].split("</section>", 1)[0]
    email = evidence.split('data-link="email"', 1)[1].split("</li>", 1)[0]
    assert "ann.lee@example.com" in email and email.count('class="evidence-record"') == 4
    phone = evidence.split('data-link="phone"', 1)[1].split("</li>", 1)[0]
    assert "+13125550100" in phone and phone.count('class="evidence-record"') == 3
    assert f'data-testid="phone-only-{by_phone.pk}"' in html
    assert f'data-testid="phone-only-{ann["allclients"].pk}"' not in html
    assert "Not the same person" not in html and "Same person as" not in html  # a viewer


def test_an_operator_splits_a_record_out_with_a_reason(client, operator, ann):
    client.force_login(operator)
    crmcom = ann["crmcom"]
    assert "Not the same person" in _page(client, crmcom)

    response = client.post(
        reverse("console:contact-split", args=[crmcom.pk]), {"reason": "Another Ann"}
    )

    assert response.status_code == 302
    assert _person_of(crmcom) is None
    correction = MatchCorrection.objects.get()
    assert (correction.kind, correction.reason, correction.created_by) == (
        "split", "Another Ann", operator,
    )  # fmt: skip
    html = client.get(response["Location"], follow=True).content.decode()
    assert "was split out" in html and "Another Ann" in html
    assert reverse("console:correction-undo", args=[correction.pk]) in html


def test_a_correction_asked_by_htmx_sends_the_page_to_the_records(client, operator, ann):
    client.force_login(operator)
    response = client.post(reverse("console:contact-split", args=[ann["collect"].pk]), {}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("console:contact-detail", args=[ann["allclients"].pk])
    assert _person_of(ann["collect"]) is None


def test_an_operator_joins_a_person_found_by_search(client, operator, ann, connections):
    (bea,) = index(connections["apptivo"], [remote("9100", "Bea", "Roy", email="bea@example.com")])
    client.force_login(operator)
    person_url = reverse("console:person-detail", args=[ann["allclients"].person_id])

    found = client.get(
        person_url, {"join_q": "bea"}, HTTP_HX_TARGET="join-candidates", **HTMX
    ).content.decode()
    assert found.strip().startswith('<div id="join-candidates">') and "<html" not in found
    assert f'value="c{bea.pk}"' in found and "Bea Roy" in found
    assert (
        "Ann Lee"
        not in client.get(
            person_url, {"join_q": "ann"}, HTTP_HX_TARGET="join-candidates", **HTMX
        ).content.decode()
    )

    response = client.post(
        reverse("console:contact-join", args=[ann["allclients"].pk]),
        {"other": f"c{bea.pk}", "reason": "Married name"},
    )

    assert response.status_code == 302
    assert _person_of(bea) == ann["allclients"].person_id
    html = client.get(response["Location"], follow=True).content.decode()
    assert "Same person" in html and "Married name" in html
    assert "Joined by staff" in html


def test_undo_restores_what_matching_made(client, operator, ann):
    client.force_login(operator)
    client.post(reverse("console:contact-split", args=[ann["crmcom"].pk]), {})
    correction = MatchCorrection.objects.get()

    response = client.post(reverse("console:correction-undo", args=[correction.pk]))

    assert response.status_code == 302
    assert _person_of(ann["crmcom"]) == ann["allclients"].person_id
    html = client.get(response["Location"], follow=True).content.decode()
    assert "undone by operator" in html
    assert reverse("console:correction-undo", args=[correction.pk]) not in html
    again = client.post(reverse("console:correction-undo", args=[correction.pk]), follow=True)
    assert "already undone" in again.content.decode()


def test_a_viewer_cannot_correct(client, viewer, operator, ann):
    client.force_login(operator)
    client.post(reverse("console:contact-split", args=[ann["crmcom"].pk]), {})
    correction = MatchCorrection.objects.get()
    client.force_login(viewer)

    for url, data in (
        (reverse("console:contact-split", args=[ann["collect"].pk]), {}),
        (reverse("console:contact-join", args=[ann["crmcom"].pk]),
         {"other": f"c{ann['allclients'].pk}"}),
        (reverse("console:correction-undo", args=[correction.pk]), {}),
    ):  # fmt: skip
        assert client.post(url, data).status_code == 403, url
    assert MatchCorrection.objects.get().undone_at is None
    assert _person_of(ann["collect"]) == ann["allclients"].person_id
    assert _person_of(ann["crmcom"]) is None
    assert "Undo" not in _page(client, ann["allclients"])


def test_a_refused_correction_shows_why(client, operator, ann):
    client.force_login(operator)
    split = client.post(
        reverse("console:contact-split", args=[ann["collect"].pk]), {"reason": "x" * 501}
    )
    join = client.post(
        reverse("console:contact-join", args=[ann["collect"].pk]), {"other": "p999999"}
    )
    same = client.post(
        reverse("console:contact-join", args=[ann["collect"].pk]),
        {"other": f"c{ann['crmcom'].pk}"},
    )

    for response in (split, join, same):
        assert response.status_code == 200
        assert 'class="errorlist' in response.content.decode()
    assert "not in the index" in join.content.decode()
    assert "already one person" in same.content.decode()
    assert not MatchCorrection.objects.exists()
