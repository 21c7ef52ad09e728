"""Staff correct person matching on the person page, in a real browser: see why records are
together, split one out, undo, join two people found by search; a re-sync keeps it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crmhub.contacts.models import Contact, MatchCorrection, SyncRun
from crmhub.contacts.services import sync_request
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_flows import _record, _shared_person

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _card(page, record: Contact):  # type: ignore[no-untyped-def]
    return page.locator(f"section.record[aria-labelledby='record-{record.pk}-title']")


def _resync(connection) -> None:  # type: ignore[no-untyped-def]
    run = sync_request(connection=connection, mode="full", requested_by="e2e")
    wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk).exclude(state__in=SyncRun.ACTIVE_STATES).exists(),
        timeout=60,
    )
    wait_for(lambda: not Contact.objects.filter(needs_match=True).exists(), timeout=30)


def test_split_undo_and_join_on_the_person_page(page, web_server, crm, operator):
    crm("allclients")
    collect = crm("collect")
    person = _shared_person("allclients", "collect")
    ours, theirs = _record(person, "allclients"), _record(person, "collect")
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/people/{person.pk}/")

    evidence = page.locator("#person-evidence")
    expect(evidence).to_contain_text("Why these records are together")
    expect(evidence.locator("li[data-link]").first).to_contain_text(theirs.remote_id)

    # Not the same person: split the Collect! record out, with a reason.
    card = _card(page, theirs)
    card.get_by_text("Not the same person…").click()
    card.get_by_label("Reason (optional)").fill("Another person with her phone")
    card.get_by_role("button", name="Split this record out").click()
    expect(page.locator(".messages")).to_contain_text("was split out")
    corrections = page.locator("#person-matching")
    expect(corrections).to_contain_text("Not the same person")
    expect(corrections).to_contain_text("Another person with her phone")
    theirs.refresh_from_db()
    assert theirs.person_id is None

    # A full re-sync of Collect! keeps it apart.
    _resync(collect)
    theirs.refresh_from_db()
    assert theirs.person_id is None

    # Undo: the rule puts them together again.
    corrections.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("undone")
    theirs.refresh_from_db()
    ours.refresh_from_db()
    assert theirs.person_id == ours.person_id is not None

    # Same person: join a record no key links to, found by the search box.
    lone = Contact.objects.filter(connection=collect, person__isnull=True).order_by("pk").first()
    assert lone is not None
    page.goto(web_server.url + f"/contacts/{ours.pk}/")
    page.get_by_label("Find the other person").fill((lone.phones or lone.emails)[0])
    candidates = page.locator("#join-candidates")
    expect(candidates.locator("label.candidate")).not_to_have_count(0)
    candidates.locator(f"input[value='c{lone.pk}']").check()
    candidates.get_by_label("Reason (optional)").fill("Married name")
    candidates.get_by_role("button", name="Join: same person").click()
    expect(page.locator(".messages")).to_contain_text("now one person")
    expect(page.locator("#person-evidence")).to_contain_text("Joined by staff")
    expect(page.locator("#person-matching")).to_contain_text("Married name")
    lone.refresh_from_db()
    ours.refresh_from_db()
    assert lone.person_id == ours.person_id is not None
    assert MatchCorrection.objects.filter(undone_at__isnull=True).count() == 1
    screenshot(page, "person-split-join")

    _resync(collect)
    lone.refresh_from_db()
    assert lone.person_id == ours.person_id
