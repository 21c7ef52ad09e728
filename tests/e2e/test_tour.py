"""Every page at 1024 px: no horizontal scroll, no CSP violation, usable from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crmhub.contacts.models import Contact
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_every_page_holds_at_1024_px(page, web_server, crm, admin_user):
    allclients = crm("allclients", people=20)
    crmcom = crm("crmcom", people=20)
    person = Contact.objects.filter(person__isnull=False).first()
    sign_in(page, web_server.url, "connadmin")
    paths = [
        "/",
        "/contacts/",
        f"/people/{person.person_id}/" if person else "/contacts/",
        "/actions/",
        "/connections/",
        f"/connections/{allclients.pk}/",
        f"/connections/{crmcom.pk}/queue/",
    ]
    for path in paths:
        page.goto(web_server.url + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1024, (path, width)
    expect(page.locator("#queue-entries")).to_contain_text("As of")
    screenshot(page, "queue-page")


def test_search_and_open_a_person_with_the_keyboard_only(page, web_server, crm, operator):
    crm("allclients", people=20)
    contact = Contact.objects.filter(connection__kind="allclients").exclude(emails=[]).first()
    sign_in(page, web_server.url, "operator")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.goto(web_server.url + "/contacts/")
    expect(page.get_by_label("Search")).to_be_focused()  # autofocus
    page.keyboard.type(contact.emails[0])
    row_link = page.locator("#contact-results tbody a").first
    expect(row_link).to_have_text(contact.display_name)
    row_link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(contact.display_name)
    act = page.locator("a.button", has_text="Add link")
    act.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Link URL")).to_be_focused()  # focus moves into the form
    screenshot(page, "keyboard")
