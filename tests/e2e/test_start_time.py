"""An action set's start time, given in the staff member's own time zone (the browser's),
shown beside the US Central Time that AllClients is sent, and sent so."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crmhub.actions.models import Action
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Call
from tests.e2e.conftest import CSP_RECORDER, TIMEOUT_MS, csp_violations, screenshot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
SUCCEEDED = "[data-state=succeeded]"


@pytest.fixture
def berlin_page(browser):  # type: ignore[no-untyped-def]
    """A page whose browser lives in Berlin (UTC+1 in January)."""
    context = browser.new_context(
        viewport={"width": 1024, "height": 900}, timezone_id="Europe/Berlin"
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_RECORDER)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    errors.extend(str(violation) for violation in csp_violations(tab))
    context.close()
    assert not errors, errors


def test_the_start_time_is_mine_and_the_central_time_is_shown_and_sent(
    berlin_page, web_server, crm, operator
):
    page = berlin_page
    connection = crm("allclients")
    # The account's own zone plays no part: AllClients takes server (Central) time.
    connection.settings = {**connection.settings, "time_zone": "America/New_York"}
    connection.save()
    record = Contact.objects.filter(connection=connection).first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/act/run_action_set/")
    page.get_by_label("Action set name").fill("Welcome Series")
    start = page.get_by_label("Start at")
    note = page.locator("output.central-time")
    expect(note).to_contain_text("Give it in your time zone (Europe/Berlin)")
    start.fill("2030-01-15T16:00")
    expect(note).to_have_text(
        "Your time (Europe/Berlin): 1/15/2030 4:00 PM → sent to AllClients as "
        "1/15/2030 9:00 AM US Central Time."
    )
    screenshot(page, "start-time")
    page.get_by_role("button", name="Run action set").click()
    expect(page.locator(SUCCEEDED)).to_be_visible()

    action = Action.objects.get(operation="run_action_set")
    assert action.params["start_at"] == "2030-01-15T16:00:00+01:00"
    (call,) = Call.objects.filter(kind="allclients", operation="RunActionSet")
    assert call.params["startdatetime"] == "1/15/2030 9:00 AM"
