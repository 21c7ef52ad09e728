"""Issue 16, points 5 to 8 in a real browser: any screen, search that keeps its clicks,
yes/no prompts, one time format in the user's zone, the favicon, the queue in the menu,
raw fields behind a disclosure, the admin's "Test connection".

Each flow saves a screenshot under ``var/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crmhub.actions.models import Action, Attempt
from crmhub.actions.services import action_enqueue
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Record
from tests.conftest import wait_for
from tests.e2e.conftest import CSP_RECORDER, TIMEOUT_MS, csp_violations, screenshot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
PHONE, TABLET = (390, 844), (768, 1024)
#: The absolute form of a moment, everywhere: date, time to the second, the zone's name.
MOMENT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+\-0-9]+"


@pytest.fixture
def page_at(browser, web_server, celery_worker) -> Iterator[Callable[[int, int], Any]]:  # type: ignore[no-untyped-def]
    """Return a factory of pages of a given size that fail the test on any console error
    (a missing favicon included), page error or CSP violation."""
    opened: list[tuple[Any, Any]] = []
    problems: list[str] = []

    def make(width: int, height: int) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_RECORDER)
        tab = context.new_page()
        tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        tab.on(
            "console",
            lambda message: (
                problems.append(f"console error on {tab.url}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        tab.on("dialog", lambda dialog: dialog.accept())
        opened.append((context, tab))
        return tab

    yield make
    for context, tab in opened:
        problems.extend(f"CSP violation on {tab.url}: {v}" for v in csp_violations(tab))
        context.close()
    assert not problems, problems


def _succeeded_link(connection, contact, user) -> Action:  # type: ignore[no-untyped-def]
    action = action_enqueue(
        operation="add_contact_link",
        connection=connection,
        contact=contact,
        params={"url": "https://files.example.com/s.pdf", "label": "Statement"},
        user=user,
    )
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.SUCCEEDED).exists(),
        timeout=30,
        message="the link was never added",
    )
    return action


# -- 5. any screen ------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["390x844", "768x1024"])
def test_every_main_page_fits_a_phone_and_a_tablet(page_at, web_server, crm, operator, size):
    width, height = size
    allclients = crm("allclients", people=20)
    crm("crmcom", people=10)
    contact = Contact.objects.filter(connection=allclients, person__isnull=False).first()
    action = _succeeded_link(allclients, contact, operator)
    page = page_at(width, height)
    sign_in(page, web_server.url, "operator")
    pages = {
        "dashboard": "/",
        "search": f"/contacts/?q={contact.first_name}",
        "person": f"/people/{contact.person_id}/",
        "action": reverse("console:action-detail", args=[action.pk]),
        "bulk": f"/bulk/?all=1&kind=allclients&q={contact.first_name}",
        "queue": "/queue/",
        "connections": "/connections/",
    }
    menu = page.get_by_role("button", name="Menu")
    sign_out = page.get_by_role("button", name="Sign out")
    for name, path in pages.items():
        page.goto(web_server.url + path)
        page.wait_for_load_state("networkidle")
        document = page.evaluate("document.documentElement.scrollWidth")
        assert document == width, (name, path, document)  # no horizontal scroll
        # The navigation waits behind the menu button; opened, Sign out is in reach.
        expect(menu).to_be_visible()
        expect(sign_out).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        if name == "search":
            expect(page.locator("#result-count")).to_contain_text(
                re.compile(r"\d+\+? (person|people)")
            )
            screenshot(page, f"any-screen-{width}-search")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(sign_out).to_be_visible()
        box = sign_out.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (name, box)
        expect(page.get_by_role("link", name="Queue", exact=True)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") == width, name
        if name == "person":
            screenshot(page, f"any-screen-{width}-menu")
        page.keyboard.press("Escape")  # closes the menu again
        expect(sign_out).to_be_hidden()
    screenshot(page, f"any-screen-{width}-connections")
    menu.click()
    sign_out.click()
    page.wait_for_url(re.compile(r"/login/"))


# -- 6. search ----------------------------------------------------------------------------------
def _two_names(connection) -> tuple[Contact, Contact]:  # type: ignore[no-untyped-def]
    """Return two contacts whose first names start differently (two distinct searches)."""
    contacts = list(Contact.objects.filter(connection=connection).order_by("pk"))
    first = contacts[0]
    second = next(c for c in contacts if c.first_name[:2] != first.first_name[:2])
    return first, second


def test_search_keeps_one_history_entry_a_count_and_its_first_click(
    page_at, web_server, crm, operator
):
    allclients = crm("allclients", people=40)
    first, second = _two_names(allclients)
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + "/contacts/")
    page.wait_for_load_state("networkidle")
    start = page.evaluate("history.length")
    box = page.get_by_label("Search")
    caption = page.locator("#contact-results caption")

    # Typed with pauses (each pause a search): one history entry for the whole search.
    box.press_sequentially(first.first_name[:2], delay=60)
    expect(caption).to_contain_text(f"“{first.first_name[:2]}”")
    page.wait_for_timeout(400)
    box.press_sequentially(first.first_name[2:], delay=60)
    expect(caption).to_contain_text(f"“{first.first_name}”")
    assert page.evaluate("history.length") == start + 1
    assert f"q={first.first_name}" in page.url  # the address bar has the search
    expect(page.locator("#result-count")).to_have_text(re.compile(r"^\d+ (person|people)$"))

    # A finished search, then another: an entry each.
    page.wait_for_timeout(1500)
    box.fill("")
    box.press_sequentially(second.first_name, delay=60)
    expect(caption).to_contain_text(f"“{second.first_name}”")
    page.wait_for_timeout(300)
    assert page.evaluate("history.length") == start + 2
    screenshot(page, "search-history")

    # The first click on a result opens it (the box's blur does not search again).
    link = page.locator("#contact-results tbody a").first
    name = link.inner_text()
    link.click()
    expect(page.locator("h1")).to_contain_text(name)
    page.go_back()
    expect(caption).to_contain_text(f"“{second.first_name}”")
    expect(box).to_have_value(second.first_name)
    page.go_back()
    expect(caption).to_contain_text(f"“{first.first_name}”")
    page.go_back()
    expect(caption).to_contain_text("Everyone in the index")


def test_enter_while_the_search_is_in_flight_opens_its_first_result(
    page_at, web_server, crm, operator
):
    allclients = crm("allclients", people=20)
    contact = Contact.objects.filter(connection=allclients).exclude(emails=[]).first()
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + "/contacts/")
    page.wait_for_load_state("networkidle")
    held: list[Any] = []
    searches = re.compile(r"/contacts/\?q=")
    page.route(searches, lambda route: held.append(route))
    page.get_by_label("Search").fill(contact.emails[0])
    while not held:  # the search went out, and waits
        page.wait_for_timeout(50)
    page.get_by_label("Search").press("Enter")  # the search is still on its way
    page.wait_for_timeout(300)
    assert len(held) == 1  # Enter did not ask again: it waits for that search
    assert "/contacts/" in page.url
    screenshot(page, "search-enter-in-flight")
    for route in held:
        route.continue_()
    page.unroute(searches)
    page.wait_for_url(re.compile(r"/(people|contacts)/\d+/$"))
    expect(page.locator("h1")).to_contain_text(contact.display_name)


# -- 7. a yes/no prompt -------------------------------------------------------------------------
def test_a_yes_no_prompt_answered_no_ends_cancelled_by_that_person(
    page_at, web_server, crm, operator
):
    crm("collect")
    record = Contact.objects.filter(connection__kind="collect", record_type="debtor").first()
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    card = page.locator(f"section.record[aria-labelledby='record-{record.pk}-title']")
    card.locator("a.button", has_text="Run plan").click()
    form = page.locator(f"#act-panel-{record.pk} .act-form")
    form.get_by_label("Plan code").fill("DEL")
    form.locator("button[type=submit]").click()
    status = page.locator(f"#act-panel-{record.pk} .action-status")
    prompt = status.locator(".prompt")
    expect(prompt).to_contain_text("Delete it?", timeout=30_000)
    group = prompt.get_by_role("group", name="Delete")
    expect(group.get_by_role("button", name="Yes")).to_be_visible()
    expect(group.get_by_role("button", name="No")).to_be_visible()
    expect(prompt.locator("input[type=checkbox]")).to_have_count(0)
    screenshot(page, "prompt-yes-no")

    group.get_by_role("button", name="No").click()
    expect(status.locator("[data-state=cancelled]")).to_be_visible()
    expect(status).to_contain_text("Cancelled by operator, who answered “No”")
    expect(status.locator(".error")).to_have_count(0)  # not a red failure
    screenshot(page, "prompt-no-cancelled")
    action = Action.objects.get(operation="run_plan")
    wait_for(
        lambda: Attempt.objects.filter(action=action, finished_at__isnull=False).exists(),
        timeout=30,
        message="the worker never let go of the plan",
    )
    action.refresh_from_db()
    assert action.state == Action.State.CANCELLED  # the worker did not overwrite it
    assert action.error.startswith("Cancelled by operator")
    rowid = int(record.remote_id.rpartition(":")[2])
    debtor = Record.objects.get(kind="collect", collection="debtor", remote_id=rowid)
    assert not debtor.deleted  # the plan was stopped: nothing deleted


# -- 8. polish ----------------------------------------------------------------------------------
def test_times_are_written_one_way_in_the_users_zone(page_at, web_server, crm, operator):
    allclients = crm("allclients", people=5)
    action = _succeeded_link(allclients, Contact.objects.filter(connection=allclients)[0], operator)
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "operator")
    page.get_by_role(
        "link", name="operator", exact=True
    ).click()  # the name in the header: the profile
    expect(page.locator("#current-zone")).to_have_text("UTC")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved")
    expect(page.locator("#current-zone")).to_have_text("Asia/Tokyo")

    page.goto(web_server.url + reverse("console:action-detail", args=[action.pk]))
    created = page.locator("dl.fields time").first
    expect(created).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST$"))
    for text in page.locator("time").all_inner_texts():
        assert re.fullmatch(MOMENT, text) and text.endswith(" JST"), text
    screenshot(page, "times-in-my-zone")

    page.goto(web_server.url + "/")  # the dashboard's recent actions: relative times
    recent = page.locator("time[title]").first
    expect(recent).to_have_text("just now")
    expect(recent).to_have_attribute("title", re.compile(r" JST$"))
    assert not any("0 minutes" in text for text in page.locator("time").all_inner_texts())


def test_the_favicon_loads_on_console_and_admin_pages(page_at, web_server, crm, admin_user):
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "connadmin")
    icon = page.evaluate(
        "async () => { const r = await fetch(document.querySelector('link[rel=icon]').href);"
        " return [r.status, r.headers.get('content-type')]; }"
    )
    assert icon[0] == 200 and icon[1].startswith("image/svg+xml"), icon
    fallback = page.request.get(web_server.url + "/favicon.ico")  # pages without the link
    assert fallback.ok and fallback.headers["content-type"].startswith("image/svg+xml")
    page.goto(web_server.url + "/admin/")  # the admin's pages ask for /favicon.ico
    page.wait_for_load_state("networkidle")
    screenshot(page, "favicon-admin")


def test_the_queue_is_in_the_navigation_and_raw_fields_wait_behind_details(
    page_at, web_server, crm, operator
):
    crmcom = crm("crmcom", people=8)
    contact = Contact.objects.filter(connection=crmcom).first()
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "operator")
    queue = page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue")
    queue.click()
    expect(page.locator("h1")).to_contain_text("Communication queue")
    expect(queue).to_have_attribute("aria-current", "page")

    page.goto(web_server.url + f"/contacts/{contact.pk}/")
    card = page.locator("section.record").first
    details = card.locator("details.raw-fields")
    expect(details).to_have_count(1)
    expect(details.locator("dl")).to_be_hidden()  # closed until asked for
    details.locator("summary").click()
    expect(details.locator("dl")).to_be_visible()
    screenshot(page, "record-raw-fields")


def test_the_admins_test_connection_says_its_result_and_time_every_time(
    page_at, web_server, crm, admin_user
):
    allclients = crm("allclients", people=5)
    page = page_at(1024, 900)
    sign_in(page, web_server.url, "connadmin")
    said = []
    for _ in range(2):
        page.goto(web_server.url + reverse("admin:connections_connection_changelist"))
        page.locator(f"input[name=_selected_action][value='{allclients.pk}']").check()
        page.locator("select[name=action]").select_option("test_connection")
        page.get_by_role("button", name="Go").click()
        message = page.locator("ul.messagelist li").first
        expect(message).to_contain_text(
            re.compile(rf"Test connection: {allclients.name}: OK \(checked {MOMENT}\)\.")
        )
        said.append(message.inner_text())
        page.wait_for_timeout(1100)  # the next check is at least a second later
    screenshot(page, "admin-test-connection")
    assert said[0] != said[1]  # a new check, a new time
