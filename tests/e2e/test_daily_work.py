"""Daily work at volume, in a real browser against the real stack (issue 16, points 1 to 4).

Stop a bulk run and retry its failures, choose action sets, plans and templates from lists,
close the loop on unknown outcomes, and see every live part of a page end together. Each
flow saves a screenshot in ``var/screenshots/``.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from crmhub.actions.models import Action, Batch
from crmhub.actions.services import batch_enqueue
from crmhub.connections.models import Connection, ConnectionChoice
from crmhub.contacts.models import Contact
from crmhub.sandbox import faults
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_flows import SUCCEEDED, _open_act

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
#: An action set with no email in it: it runs on contacts without an opted-in address too.
ONBOARDING = {"action_set_name": "New Client Onboarding", "identify_method": 1}


def _bulk(connection: Connection, user, count: int) -> Batch:  # type: ignore[no-untyped-def]
    contacts = Contact.objects.filter(connection=connection).order_by("pk")[:count]
    return batch_enqueue(
        operation="run_action_set",
        connection=connection,
        params=ONBOARDING,
        user=user,
        contact_ids=[c.pk for c in contacts],
    )


def _count(page, state: str) -> int:  # type: ignore[no-untyped-def]
    cell = page.locator(f"[data-state-count={state}]")
    return int(cell.inner_text()) if cell.count() else 0


def _requests_to(page, path: str, seconds: float) -> int:  # type: ignore[no-untyped-def]
    """Return how many requests the page sends to ``path`` within ``seconds``."""
    seen: list[str] = []

    def note(request) -> None:  # type: ignore[no-untyped-def]
        if request.url.split("?")[0].endswith(path):
            seen.append(request.url)

    page.on("request", note)
    page.wait_for_timeout(seconds * 1000)
    page.remove_listener("request", note)
    return len(seen)


# -- 1. bulk control ---------------------------------------------------------------------------
def test_cancel_a_running_bulk_run_and_its_counts_stop_growing(page, web_server, crm, operator):
    connection = crm("allclients", people=60)
    Connection.objects.filter(pk=connection.pk).update(rate_limit=3.0)
    connection.refresh_from_db()
    batch = _bulk(connection, operator, 50)
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/bulk/{batch.pk}/")
    expect(page.get_by_test_id("batch-done")).to_have_text(re.compile(r"^[1-9]"), timeout=30_000)
    page.get_by_role("button", name="Cancel the bulk run").click()  # confirmed in the dialog
    expect(page.get_by_test_id("batch-cancelled")).to_contain_text("Cancelled by operator")
    expect(page.get_by_test_id("batch-finished")).to_be_visible(timeout=30_000)
    final = {state: _count(page, state) for state in ("succeeded", "cancelled", "failed")}
    assert final["cancelled"] > 0 and final["succeeded"] < 50
    assert sum(final.values()) == 50
    page.wait_for_timeout(3000)
    page.reload()
    assert {state: _count(page, state) for state in final} == final  # they stopped growing
    assert not Action.objects.filter(batch=batch, state__in=["queued", "sending"]).exists()
    page.locator("[data-filter=cancelled]").click()
    expect(page.locator(".batch-results tbody tr[data-state=cancelled]")).to_have_count(
        min(final["cancelled"], 50)
    )
    expect(page.locator(".batch-results tbody tr[data-state=succeeded]")).to_have_count(0)
    screenshot(page, "bulk-cancel")


def test_retry_the_failures_of_a_bulk_run_as_one_new_run(page, web_server, crm, operator):
    connection = crm("allclients", people=40)
    faults.configure("allclients", error_rate=0.3, error_status=400)  # refused: failed
    try:
        batch = _bulk(connection, operator, 30)
        running = Action.objects.filter(batch=batch, state__in=["queued", "sending"])
        wait_for(
            lambda: not running.exists(),
            timeout=60,
            message="the bulk run did not end",
        )
    finally:
        faults.reset("allclients")
    failed = Action.objects.filter(batch=batch, state="failed").count()
    assert 0 < failed < 30, failed
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/bulk/{batch.pk}/")
    expect(page.get_by_test_id("batch-finished")).to_be_visible()
    page.locator("[data-filter=failed]").click()
    expect(page.locator(".batch-results tbody tr")).to_have_count(failed)
    assert "state=failed" in page.url
    page.get_by_test_id("retry-link").click()
    expect(page.get_by_test_id("retry-count")).to_have_text(str(failed))
    expect(page.locator(".bulk-targets tbody tr")).to_have_count(failed)
    page.get_by_role("button", name=f"Confirm: send {failed} again").click()
    expect(page.locator("h1")).to_contain_text("Bulk run #")
    expect(page.locator(".retry-of")).to_contain_text(f"bulk run #{batch.pk}")
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%", timeout=60_000)
    expect(page.locator("[data-state-count=succeeded]")).to_have_text(str(failed))
    retry = Batch.objects.get(retry_of=batch)
    assert set(Action.objects.filter(batch=retry).values_list("resend_of__batch", flat=True)) == {
        batch.pk
    }
    screenshot(page, "bulk-retry")
    page.goto(web_server.url + f"/bulk/{batch.pk}/")
    expect(page.locator("#batch-progress")).to_contain_text(f"Retried as bulk run #{retry.pk}")
    expect(page.get_by_test_id("retry-link")).to_have_count(0)  # nothing left to retry


# -- 2. choose, don't remember -------------------------------------------------------------------
def test_pick_an_action_set_an_admin_keeps_and_a_guess_is_refused(
    page, web_server, crm, admin_user
):
    connection = crm("allclients")
    record = Contact.objects.filter(connection=connection).exclude(emails=[]).first()
    sign_in(page, web_server.url, "connadmin")
    page.goto(web_server.url + f"/admin/connections/connection/{connection.pk}/change/")
    page.locator("select[name=choices-0-list_name]").select_option("action_set")
    page.locator("input[name=choices-0-value]").fill("Welcome Series")
    page.locator("input[name=choices-0-note]").fill("id 101")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")

    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Run action set")
    name = form.get_by_label("Action set name")
    datalist = name.get_attribute("list")
    expect(form.locator(f"datalist#{datalist} option[value='Welcome Series']")).to_have_count(1)
    expect(form.get_by_test_id("choices-action_set")).to_contain_text("1 known action sets")
    name.fill("Welcome Serie")
    form.locator("button[type=submit]").click()
    expect(form.locator(".errorlist")).to_contain_text("not a known action set")
    expect(form.get_by_label("Action set name")).to_have_value("Welcome Serie")  # kept
    assert not Action.objects.filter(operation="run_action_set").exists()
    screenshot(page, "picker-action-set")  # the list, the refusal, what was typed
    form.get_by_label("Action set name").fill("Welcome Series")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()


def test_pick_a_collect_plan_the_crm_lists(page, web_server, crm, operator):
    connection = crm("collect")
    record = Contact.objects.filter(connection=connection, record_type="debtor").first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Run plan")
    plan = form.get_by_label("Plan code")
    datalist = plan.get_attribute("list")
    # Read from Collect! by a worker when the form opened; the list fills in place.
    expect(page.locator(f"datalist#{datalist} option[value=REV]")).to_have_count(1)
    expect(page.locator(f"datalist#{datalist} option[value=PRM]")).to_have_count(1)
    plan.fill("RVW")
    form.locator("button[type=submit]").click()
    expect(form.locator(".errorlist")).to_contain_text("not a known contact plan")
    expect(form.get_by_label("Plan code")).to_have_value("RVW")
    screenshot(page, "picker-plan")  # the list, the refusal, what was typed
    form.get_by_label("Plan code").fill("REV")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()


def test_pick_a_crmcom_template(page, web_server, crm, operator):
    connection = crm("crmcom")
    for name in ("Payment Reminder", "Welcome SMS"):
        ConnectionChoice.objects.create(connection=connection, list_name="template", value=name)
    record = (
        Contact.objects.filter(connection=connection, record_type="person")
        .exclude(emails=[])
        .first()
    )
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Compose communication")
    template = form.get_by_label("Template")
    datalist = template.get_attribute("list")
    options = form.locator(f"datalist#{datalist} option")
    expect(options).to_have_count(2)
    template.fill("Payment Reminders")
    form.locator("button[type=submit]").click()
    expect(form.locator(".errorlist")).to_contain_text("Did you mean")
    screenshot(page, "picker-template")  # the list, the refusal, what was typed
    form.get_by_label("Template").fill("Payment Reminder")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()


# -- 3. close the loop on unknowns -------------------------------------------------------------
def test_mark_an_unknown_outcome_checked_and_the_dashboard_counts_one_less(
    page, web_server, crm, operator
):
    crm("allclients")
    record = Contact.objects.filter(connection__kind="allclients").first()
    sign_in(page, web_server.url, "operator")
    faults.configure("allclients", error_rate=1.0, error_status=503)
    try:
        page.goto(web_server.url + f"/contacts/{record.pk}/")
        form = _open_act(page, record, "Run action set")
        form.get_by_label("Action set name").fill("Welcome Series")
        form.locator("button[type=submit]").click()
        status = page.locator(f"#act-panel-{record.pk} .action-status")
        expect(status.locator("[data-state=unknown]")).to_be_visible()
    finally:
        faults.reset("allclients")
    unknown = Action.objects.get(operation="run_action_set", state="unknown")
    page.goto(web_server.url + "/")
    counter = page.get_by_test_id("attention-unknown")
    expect(counter.locator(".state")).to_have_text("1")
    counter.click()
    expect(page.get_by_test_id("open-count")).to_contain_text("1 action still needs someone")
    expect(page.locator("#action-results tbody tr")).to_have_count(1)

    page.goto(web_server.url + f"/actions/{unknown.pk}/")
    page.get_by_label("Note (optional)").fill("No run of Welcome Series in its history")
    page.get_by_role("button", name="Checked in the CRM: it did not").click()
    checked = page.locator(".checked")
    expect(checked).to_contain_text("it did not happen")
    expect(checked).to_contain_text("by operator")
    screenshot(page, "mark-checked")
    page.goto(web_server.url + "/")
    expect(page.get_by_test_id("attention-unknown").locator(".state")).to_have_text("0")

    # "It did not" offers the resend: the new action opens on its own page, linked back.
    page.goto(web_server.url + f"/actions/{unknown.pk}/")
    page.get_by_role("button", name="Resend").click()
    expect(page.get_by_test_id("resend-of")).to_contain_text(f"action #{unknown.pk}")
    expect(page.locator(SUCCEEDED)).to_be_visible()
    assert page.url.rstrip("/").endswith(str(Action.objects.get(resend_of=unknown).pk))


def test_check_in_the_crm_proposes_the_answer(page, web_server, crm, operator):
    connection = crm("crmcom")
    record = (
        Contact.objects.filter(connection=connection, record_type="person")
        .exclude(emails=[])
        .first()
    )
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    form = _open_act(page, record, "Compose communication")
    form.get_by_label("Direction").select_option("OUTGOING")
    form.get_by_label("Media").select_option("EMAIL")
    form.get_by_label("Subject").fill("Statement for March (check)")
    form.get_by_label("Content").fill("Hello from crmhub.")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#act-panel-{record.pk} {SUCCEEDED}")).to_be_visible()
    # The answer was lost on the way back: the outcome is unknown, though it happened.
    sent = Action.objects.get(operation="communication_create")
    Action.objects.filter(pk=sent.pk).update(state="unknown", result={})
    page.goto(web_server.url + f"/actions/{sent.pk}/")
    page.get_by_role("button", name="Check in the CRM").click()
    proposal = page.locator(".proposal")
    expect(proposal).to_have_attribute("data-verdict", "happened", timeout=30_000)
    expect(proposal).to_contain_text("Statement for March (check)")
    check = page.get_by_role("button", name="Checked in the CRM: it happened")
    expect(check).to_have_class(re.compile("primary"))
    screenshot(page, "check-in-crm")
    check.click()
    expect(page.locator(".checked")).to_contain_text("it happened")
    expect(page.get_by_role("button", name="Resend")).to_have_count(0)


# -- 4. nothing stale ---------------------------------------------------------------------------
def test_every_live_part_ends_together_and_stops_polling(page, web_server, crm, operator):
    crm("allclients")
    record = Contact.objects.filter(connection__kind="allclients").first()
    sign_in(page, web_server.url, "operator")
    page.goto(web_server.url + f"/contacts/{record.pk}/")
    faults.configure("allclients", latency_ms=1500)  # long enough to see it running
    try:
        form = _open_act(page, record, "Run action set")
        form.get_by_label("Action set name").fill("Welcome Series")
        form.locator("button[type=submit]").click()
        panel = page.locator(f"#act-panel-{record.pk}")
        table = page.locator("#person-actions tbody tr").first
        expect(table).to_contain_text(re.compile("Queued|Sending"))
        expect(panel.locator(SUCCEEDED)).to_be_visible(timeout=30_000)
        started = time.monotonic()
        expect(table).to_contain_text("Succeeded", timeout=1500)  # at once, not a poll later
        assert time.monotonic() - started < 1.5
    finally:
        faults.reset("allclients")
    path = f"/people/{record.person_id}/" if record.person_id else f"/contacts/{record.pk}/"
    assert _requests_to(page, path, 3) == 0  # the table stopped polling
    action = Action.objects.get(operation="run_action_set")
    assert _requests_to(page, f"/actions/{action.pk}/", 2) == 0  # so did the status

    # The action's page: its status, its facts and its attempts end together.
    faults.configure("allclients", latency_ms=1500, error_rate=1.0, error_status=400)
    try:
        form = _open_act(page, record, "Run action set")
        form.get_by_label("Action set name").fill("Welcome Series")
        form.locator("button[type=submit]").click()
        acts = Action.objects.filter(operation="run_action_set")
        wait_for(lambda: acts.count() == 2, message="the second act was not queued")
        second = acts.order_by("-pk").first()
        page.goto(web_server.url + f"/actions/{second.pk}/")
        expect(page.locator("#action-live [data-state=failed]")).to_be_visible(timeout=30_000)
    finally:
        faults.reset("allclients")
    expect(page.get_by_test_id("about-state")).to_have_text("Failed")
    expect(page.locator("#attempts-title + details summary")).to_contain_text("Failed")
    expect(page.locator("#action-live")).not_to_contain_text("Running")
    assert _requests_to(page, f"/actions/{second.pk}/", 3) == 0
    expect(page.get_by_role("link", name="Change and send again")).to_be_visible()
    screenshot(page, "live-parts")
