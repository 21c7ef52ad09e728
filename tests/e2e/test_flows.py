"""What a member of staff does in the console, in a real browser, against the real stack.

Each flow is independent (its own CRMs, its own data) and saves a screenshot.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crmhub.contacts.models import Contact, Person
from crmhub.sandbox import faults
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
SUCCEEDED = "[data-state=succeeded]"


def _shared_person(*kinds: str) -> Person:
    """Return a person the index found in every one of ``kinds``."""
    for person in Person.objects.order_by("pk"):
        have = set(person.contacts.values_list("connection__kind", flat=True))
        if set(kinds) <= have:
            return person
    raise AssertionError(f"no person in {kinds}")


def _record(person: Person, kind: str) -> Contact:
    return person.contacts.get(connection__kind=kind)


def _open_act(page, record: Contact, label: str):  # type: ignore[no-untyped-def]
    """Open an act form in the record's panel and return the form."""
    card = page.locator(f"section.record[aria-labelledby='record-{record.pk}-title']")
    card.locator("a.button", has_text=label).click()
    form = page.locator(f"#act-panel-{record.pk} .act-form")
    expect(form).to_be_visible()
    return form


def test_find_one_person_by_email_in_another_case_and_phone_in_another_format(
    page, web_server, crm, operator
):
    crm("allclients")
    crm("collect")
    person = _shared_person("allclients", "collect")
    record = _record(person, "allclients")
    email = record.emails[0]
    digits = record.phone_keys[0].removeprefix("+1")
    sign_in(page, web_server.url, "operator")
    page.get_by_role("link", name="Contacts").click()

    page.get_by_label("Search").fill(email.upper())
    rows = page.locator("#contact-results tbody tr")
    # The exact email hit comes first; contacts sharing the words before the "@" may follow.
    expect(page.locator("#contact-results caption")).to_contain_text(email.upper())
    expect(rows.first).to_contain_text(person.display_name)
    expect(rows.first.locator(".badge")).to_have_count(2)
    assert "q=" in page.url  # the search is in the address bar: it can be shared

    phone = f"({digits[:3]}) {digits[3:6]}.{digits[6:]}"
    held = []  # the next search is held back, to see the page while it is in flight
    page.route(re.compile(r"/contacts/\?q="), lambda route: held.append(route))
    page.get_by_label("Search").fill(phone)
    results = page.locator("#contact-results")
    expect(results).to_have_class(re.compile(r"\bhtmx-request\b"))  # old results dimmed
    expect(page.locator("#contact-search .htmx-indicator")).to_be_visible()  # "Searching…"
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/contacts/\?q="))
    expect(page.locator("#contact-results caption")).to_contain_text(phone)
    expect(results).not_to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(rows.first).to_contain_text(person.display_name)
    expect(rows.first.locator(".badge")).to_have_count(2)
    screenshot(page, "find-by-phone")
    rows.first.get_by_role("link", name=person.display_name).click()
    expect(page.locator("h1")).to_contain_text(person.display_name)


def test_run_an_action_set(page, web_server, crm, operator):
    crm("allclients")
    record = Contact.objects.filter(connection__kind="allclients").exclude(emails=[]).first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Run action set")
    form.locator("button[type=submit]").click()
    expect(form.locator(".errorlist").first).to_contain_text("exactly one")  # inline errors
    form.get_by_label("Action set name").fill("Welcome Series")
    form.locator("button[type=submit]").click()
    status = page.locator(f"#act-panel-{record.pk} .action-status")
    expect(status.locator(SUCCEEDED)).to_be_visible()
    expect(page.locator("#person-actions")).to_contain_text("Succeeded")
    screenshot(page, "run-action-set")


def test_add_a_link_and_see_it(page, web_server, crm, operator):
    crm("allclients")
    record = Contact.objects.filter(connection__kind="allclients").first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Add link")
    form.get_by_label("Link URL").fill("https://files.example.com/statement-42.pdf")
    form.get_by_label("Label").fill("Statement 42")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()
    link = page.locator("#person-links").get_by_role("link", name="Statement 42")
    expect(link).to_have_attribute("href", "https://files.example.com/statement-42.pdf")
    screenshot(page, "add-link")


def test_a_collect_plan_prompts_and_the_answer_goes_back(page, web_server, crm, operator):
    crm("collect")
    record = Contact.objects.filter(connection__kind="collect", record_type="debtor").first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Run plan")
    form.get_by_label("Plan code").fill("PRM")
    form.locator("button[type=submit]").click()
    status = page.locator(f"#act-panel-{record.pk} .action-status")
    expect(status.locator(".prompt")).to_contain_text("start date", timeout=30_000)
    screenshot(page, "collect-prompt")
    status.get_by_label("Start date").fill("2027-01-15")
    status.get_by_role("button", name="Send the answer").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()
    screenshot(page, "collect-answered")


def test_create_edit_and_delete_an_apptivo_customer(page, web_server, crm, admin_user):
    connection = crm("apptivo", people=10)
    sign_in(page, web_server.url, "connadmin")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="New Apptivo customer").click()
    status_choice = page.get_by_label("Status")
    expect(status_choice.locator("option").nth(1)).to_be_attached()  # from getConfigData
    page.get_by_label("Customer name").fill("Zed Quartermain")
    status_choice.select_option(index=1)
    page.get_by_label("Email").fill("zed.q@example.com")
    page.get_by_role("button", name="Create customer").click()
    expect(page.locator(SUCCEEDED)).to_be_visible()

    page.goto(web_server.url + f"/connections/{connection.pk}/")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#connection-status tbody tr").first).to_contain_text("Succeeded")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Search").fill("zed.q@example.com")
    page.locator("#contact-results").get_by_role("link", name="Zed Quartermain").click()

    record = Contact.objects.get(connection=connection, emails__icontains="zed.q")
    form = _open_act(page, record, "Edit customer")
    expect(form.get_by_label("Customer name")).to_have_value("Zed Quartermain")
    form.get_by_label("Phone").fill("+1 312 555 0199")
    form.get_by_role("button", name="Save changes").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()
    expect(page.locator(f"#act-panel-{record.pk}")).to_contain_text("phone")

    card = page.locator(f"section.record[aria-labelledby='record-{record.pk}-title']")
    card.get_by_role("button", name="Delete customer").click()  # confirmed in the dialog
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()
    expect(page.locator(f"#act-panel-{record.pk}")).to_contain_text("Deleted customer")
    screenshot(page, "apptivo-customer")


def test_compose_a_draft_communication_complete_it_and_mark_it_viewed(
    page, web_server, crm, operator
):
    crm("crmcom")
    record = (
        Contact.objects.filter(connection__kind="crmcom", record_type="person")
        .exclude(emails=[])
        .first()
    )
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    region = page.locator(f"#communications-{record.pk}")
    expect(region).to_contain_text("As of")  # the list was read on opening the page
    form = _open_act(page, record, "Compose communication")
    form.get_by_label("Direction").select_option("OUTGOING")
    form.get_by_label("Media").select_option("EMAIL")
    form.get_by_label("Subject").fill("Your statement (e2e)")
    form.get_by_label("Content").fill("Hello from crmhub.")
    form.get_by_label("Save as").select_option("DRAFT")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()

    item = region.locator("li", has_text="Your statement (e2e)")
    expect(item).to_contain_text("Draft")
    item.locator("summary").click()
    item.get_by_role("button", name="Complete").click()
    expect(item.locator(".comm-completed")).to_be_visible()
    item.locator("summary").click()
    item.get_by_role("button", name="Mark viewed").click()
    expect(item.locator(".viewed-flag")).to_be_visible()
    screenshot(page, "crmcom-communication")


def test_reject_a_queue_entry(page, web_server, crm, operator):
    connection = crm("crmcom", index=False)
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/connections/{connection.pk}/queue/")
    region = page.locator("#queue-entries")
    expect(region).to_contain_text("As of")
    row = region.locator("tbody tr").first
    entry = row.locator("td").first.inner_text().strip()
    row.get_by_role("link", name="Reject…").click()
    panel = page.locator("#queue-act-panel")
    panel.get_by_label("Rejection code").fill("BOUNCE")
    panel.get_by_label("Reason").fill("The mailbox does not exist.")
    panel.locator("button[type=submit]").click()
    expect(panel.locator(SUCCEEDED)).to_be_visible()
    expect(region.locator("tbody td:first-child", has_text=re.compile(f"^{entry}$"))).to_have_count(
        0
    )
    screenshot(page, "queue-reject")


def test_a_bulk_act_of_50_reaches_100_percent(page, web_server, crm, operator):
    crm("allclients", people=60)
    sign_in(page, web_server.url, "operator")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("CRM").select_option("allclients")
    expect(page.locator("#contact-results tbody tr input[name=pick]")).to_have_count(50)
    page.wait_for_load_state("networkidle")  # the search has settled: no swap after this
    page.get_by_label("Select every person shown").check()
    expect(page.locator("input[name=pick]:checked")).to_have_count(50)
    page.get_by_role("button", name="Act on the selected people").click()
    expect(page.locator("#bulk-step")).to_contain_text("On 50 selected rows")
    page.locator("a.button", has_text="Run action set").click()
    expect(page.get_by_test_id("bulk-count")).to_have_text("50")
    page.get_by_label("Action set name").fill("Welcome Series")
    page.locator("#bulk-step button[type=submit]").click()
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%", timeout=90_000)
    expect(page.locator("#batch-bar")).to_have_attribute("value", "50")
    screenshot(page, "bulk-50")


def test_a_sandbox_failure_is_shown_as_a_clear_message(page, web_server, crm, operator):
    crm("allclients")
    record = Contact.objects.filter(connection__kind="allclients").first()
    faults.configure("allclients", error_rate=1.0, error_status=503)
    try:
        sign_in(page, web_server.url, "operator")
        page.goto(web_server.url + f"/contacts/{record.pk}/")
        form = _open_act(page, record, "Run action set")
        form.get_by_label("Action set name").fill("Welcome Series")
        form.locator("button[type=submit]").click()
        status = page.locator(f"#act-panel-{record.pk} .action-status")
        expect(status.locator("[data-state=unknown]")).to_be_visible()
        expect(status).to_contain_text("Outcome unknown")
        expect(status.get_by_role("button", name="Resend")).to_be_visible()
        screenshot(page, "sandbox-failure")
    finally:
        faults.reset("allclients")


def test_reads_a_crm_does_not_have_are_shown_as_not_available(page, web_server, crm, operator):
    crm("allclients")
    crm("collect")
    person = _shared_person("allclients", "collect")
    links_region = f"#contact-links-{_record(person, 'allclients').pk}"
    faults.configure("allclients", hide_undocumented=True)
    faults.configure("collect", hide_undocumented=True)
    try:
        sign_in(page, web_server.url, "operator")
        page.goto(web_server.url + f"/contacts/{_record(person, 'allclients').pk}/")
        region = page.locator(links_region)
        expect(region.get_by_test_id("links-not-available")).to_have_text(
            "Links are not available from this CRM."
        )
        expect(region.locator("[role=alert]")).to_have_count(0)
        debtor = _record(person, "collect")
        form = _open_act(page, debtor, "Run plan")
        expect(form.get_by_test_id("plans-not-available")).to_be_visible()
        screenshot(page, "not-available")
        form.get_by_label("Plan code").fill("REV")  # nothing else depends on the list
        form.locator("button[type=submit]").click()
        expect(page.locator(f"#act-panel-{debtor.pk} {SUCCEEDED}")).to_be_visible()
    finally:
        faults.reset()
