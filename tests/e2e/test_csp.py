"""Content Security Policy: a strict, enforced header, and no page of the app breaks it.

The browser tour opens every console route with real objects (and the POST-only ones
through their buttons), the admin pages a superuser sees and the login pages, lets each
page's load-time htmx requests and polls run, opens the panels its links load, and
fails on any ``securitypolicyviolation`` or CSP console error, naming page, directive
and what was blocked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote
from django.db.models import Count, F
from django.test import RequestFactory
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from playwright.sync_api import expect

from crmhub.actions.models import Action, Batch
from crmhub.actions.services import action_enqueue
from crmhub.connections.models import Connection
from crmhub.console.acts import ON_CONTACT, all_acts
from crmhub.console.regions import REGIONS
from crmhub.contacts.models import Contact, Person
from crmhub.sandbox import faults
from tests.conftest import wait_for
from tests.e2e.conftest import csp_violations, sign_in
from tests.urlwalk import console_urls

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]
KINDS = ("allclients", "apptivo", "collect", "crmcom")
#: Sources that would let injected markup run code (or style) despite the policy.
UNSAFE_SCRIPT = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:")
#: Elements that poll the server every second or two (running reads, actions, syncs).
FAST_POLL = '[hx-trigger*="every 1s"], [hx-trigger*="every 2s"]'
#: Predicates are functions: Playwright evaluates a bare expression with eval(), which the
#: policy (rightly) refuses and reports.
IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
QUIET = f"() => !document.querySelector('{FAST_POLL}') && ({IDLE})()"
#: Markup that carries code. The browser reports handlers and scripts the policy blocks, but
#: htmx (``allowEval``/``allowScriptTags`` off in its meta config) silently skips ``hx-on``,
#: ``js:`` values, event filters and the scripts of swapped content: they are listed here.
CODE_IN_MARKUP = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const {name, value} of el.attributes) {
      const text = value.trim();
      if (/^(data-)?hx-on/.test(name) || /^on[a-z]+$/.test(name)
          || (/^(data-)?hx-(vals|headers)$/.test(name) && /^(js|javascript):/i.test(text))
          || (/^(data-)?hx-trigger$/.test(name) && text.includes("["))
          || (/^(href|src|action|formaction)$/.test(name) && /^javascript:/i.test(text))) {
        found.push(`<${el.localName} ${name}="${text.slice(0, 80)}">`);
      }
    }
  }
  for (const script of document.querySelectorAll("script:not([src])")) {
    if (!/json/.test(script.type)) found.push(`<script>${script.textContent.slice(0, 80)}`);
  }
  return found;
}"""
#: How long a page's polls may run before the tour moves on (some poll until someone acts).
POLL_WAIT_S = 4.0


def _directives(header: str) -> dict[str, list[str]]:
    """Parse a policy; a repeated directive is ignored, as browsers do."""
    policy: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split() or [""]
        if name:
            policy.setdefault(name.lower(), [source.lower() for source in sources])
    return policy


def test_the_policy_is_enforced_and_allows_no_inline_code(client, superuser):
    anonymous = client.get("/login/")
    client.force_login(superuser)
    for response in (anonymous, client.get("/"), client.get("/admin/")):
        assert response.status_code == 200
        assert "Content-Security-Policy-Report-Only" not in response.headers
        policy = _directives(response.headers["Content-Security-Policy"])
        scripts = policy.get("script-src", policy.get("default-src"))
        styles = policy.get("style-src", policy.get("default-src"))
        assert scripts, policy  # no script-src nor default-src: any script would run
        assert not set(UNSAFE_SCRIPT) & set(scripts), scripts
        assert styles and "'unsafe-inline'" not in styles, styles
        assert policy.get("object-src") == ["'none'"], policy


# -- the tour ---------------------------------------------------------------------------------
@dataclass
class Tour:
    page: Any
    base: str
    visited: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: (method, path, status) of every answer the browser got from the app.
    answers: list[tuple[str, str, int]] = field(default_factory=list)
    htmx_answers: int = 0

    def listen(self) -> None:
        def answered(response) -> None:  # type: ignore[no-untyped-def]
            if response.url.startswith(self.base):
                self.answers.append((response.request.method, _path(response.url), response.status))
                self.htmx_answers += response.request.headers.get("hx-request") == "true"

        def logged(message) -> None:  # type: ignore[no-untyped-def]
            if message.type == "error" and "Content Security Policy" in message.text:
                self.errors.append(f"{_path(self.page.url)}: console: {message.text}")

        self.page.on("response", answered)
        self.page.on("console", logged)

    def open(self, path: str, *, wait: str = "networkidle") -> None:
        """Open ``path``, let it settle, record its status and its violations.

        Console pages wait for ``networkidle`` (their lazy partials load after ``load``);
        the admin's scripts have all run at ``load`` and it requests nothing afterwards.
        """
        response = self.page.goto(self.base + path, wait_until=wait)
        self.visited.append(path)
        status = response.status if response else 0
        if not 200 <= status < 400:
            self.errors.append(f"{path}: answered {status}")
        self.settle()
        self.check(path)

    def settle(self, *, polls: bool = True) -> None:
        """Wait for htmx's requests and swaps, and for polls to end (or to answer once)."""
        self.page.wait_for_function(IDLE)
        if not polls:
            return
        before, deadline = self.htmx_answers, time.monotonic() + POLL_WAIT_S
        while not self.page.evaluate(QUIET):
            if self.htmx_answers > before or time.monotonic() > deadline:
                break
            self.page.wait_for_timeout(100)
        self.page.wait_for_function(IDLE)

    def click_through(self, path: str) -> None:
        """Open every panel a link of the page loads, and refresh its read regions."""
        links = self.page.locator("main a[hx-get]").evaluate_all(
            "links => links.map(link => link.getAttribute('hx-get'))"
        )
        for url in links:
            link = self.page.locator(f'main a[hx-get="{url}"]').first
            if link.count() and link.is_visible():
                link.click()
                self.settle(polls=False)  # the page's polls were seen when it opened
        for button in self.page.locator("main button[type=button][hx-post]").all():
            if button.is_visible():
                button.click()
                self.settle()  # a refreshed read polls until the worker has read the CRM
        self.check(f"{path} (after its htmx interactions)")

    def check(self, where: str) -> None:
        # The browser fires ``securitypolicyviolation`` in a task of its own: let it run.
        self.page.evaluate("() => new Promise(done => setTimeout(done, 20))")
        for violation in csp_violations(self.page):
            self.errors.append(
                f"{where}: {violation['directive']} blocked {violation['blocked']} "
                f"at {violation['source']} {violation['sample']!r}"
            )
        for markup in self.page.evaluate(CODE_IN_MARKUP):
            self.errors.append(f"{where}: code in markup (needs unsafe-inline/eval): {markup}")


def _route(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _wait_state(action: Action, *states: object) -> Action:
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state__in=states).exists(),
        timeout=30,
        message=f"action {action.pk} ({action.operation}) never reached {states}",
    )
    action.refresh_from_db()
    return action


def _contact(kind: str, record_types: tuple[str, ...] = ()) -> Contact:
    """Return a live contact of ``kind`` (of one of ``record_types``), one with a person first."""
    contacts = Contact.objects.filter(connection__kind=kind, deleted_at__isnull=True)
    if record_types:
        contacts = contacts.filter(record_type__in=record_types)
    return contacts.order_by(F("person").asc(nulls_last=True), "pk").first()  # a person first


def _seed(crm, user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Index the four CRMs and leave actions in every state a page shows differently."""
    connections = {kind: crm(kind, people=8) for kind in KINDS}
    link = {"url": "https://files.example.com/csp.pdf", "label": "CSP"}
    record = _contact("allclients")
    faults.configure("allclients", error_rate=1.0, error_status=503)
    try:
        unknown = action_enqueue(
            operation="add_contact_link",
            connection=connections["allclients"],
            contact=record,
            params=link,
            user=user,
        )
        _wait_state(unknown, Action.State.UNKNOWN, Action.State.FAILED)
    finally:
        faults.reset("allclients")
    faults.configure("collect")  # a healthy fault row, so the admin has one to show
    succeeded = action_enqueue(  # and a call in the sandbox's ledger
        operation="add_contact_link",
        connection=connections["allclients"],
        contact=record,
        params=link,
        user=user,
    )
    scheduled = action_enqueue(  # not due for a day: stays queued, so it can be cancelled
        operation="add_contact_link",
        connection=connections["allclients"],
        contact=record,
        params=link,
        user=user,
        not_before=timezone.now() + timedelta(days=1),
    )
    debtor = _contact("collect", ("debtor",))
    asking = action_enqueue(
        operation="run_plan",
        connection=connections["collect"],
        contact=debtor,
        params={"plan": "PRM"},
        user=user,
    )
    person = _contact("crmcom", ("person",))
    composed = action_enqueue(  # its answer "lost": an unknown outcome a read can check
        operation="communication_create",
        connection=connections["crmcom"],
        contact=person,
        params={"direction": "OUTGOING", "media": "SMS", "subject": "CSP", "content": "Hi"},
        user=user,
    )
    _wait_state(succeeded, Action.State.SUCCEEDED)
    _wait_state(asking, Action.State.NEEDS_INPUT)
    _wait_state(composed, Action.State.SUCCEEDED)
    Action.objects.filter(pk=composed.pk).update(state=Action.State.UNKNOWN)
    waiting = Batch.objects.create(  # a bulk run whose one action waits a day: to cancel
        operation="add_contact_link", connection=connections["allclients"], size=1, params=link
    )
    Action.objects.create(
        operation="add_contact_link",
        connection=connections["allclients"],
        contact=record,
        params={**link, "contact_remote_id": record.remote_id},
        batch=waiting,
        requested_by=user,
        not_before=timezone.now() + timedelta(days=1),
    )
    # A line of the admin's log (its page is in the tour): an admin changed a connection.
    LogEntry.objects.log_actions(
        user.pk, [connections["allclients"]], CHANGE, change_message="Changed rate limit."
    )
    return {
        "connections": connections,
        "unknown": unknown,
        "scheduled": scheduled,
        "asking": asking,
        "composed": composed,
        "waiting": waiting,
    }


def _console_paths(connections: dict[str, Connection]) -> list[str]:
    """Return a concrete URL for each GET page of the console, with real objects."""
    paths = ["/", "/contacts/", "/contacts/?q=a", "/actions/", "/connections/", "/bulk/"]
    paths += ["/queue/", "/profile/"]
    # The person found in the most CRMs: one page with every kind's record, acts and reads.
    person = Person.objects.annotate(records=Count("contacts")).order_by("-records", "pk")[0]
    paths.append(reverse("console:person-detail", args=[person.pk]))
    for kind, connection in connections.items():
        # A contact page shows the contact's person: prefer a contact found in one CRM only.
        lone = Contact.objects.filter(connection=connection).order_by(
            F("person").asc(nulls_first=True), "pk"
        )[0]
        paths += [
            reverse("console:connection-detail", args=[connection.pk]),
            reverse("console:contact-detail", args=[lone.pk]),
            f"/bulk/?all=1&kind={kind}",
        ]
    for act in all_acts():
        kind, operation = act.kind, act.operation
        connection = connections[kind]
        if act.read:
            name = "console:contact-read" if act.on == ON_CONTACT else "console:connection-read"
            assert operation in REGIONS, operation
        else:
            name = "console:contact-act" if act.on == ON_CONTACT else "console:connection-act"
        target = _contact(kind, act.record_types).pk if act.on == ON_CONTACT else connection.pk
        paths.append(reverse(name, args=[target, operation]))
        if act.bulk:
            paths.append(f"/bulk/?all=1&kind={kind}&act={connection.pk}:{operation}")
    paths.append(reverse("console:queue", args=[connections["crmcom"].pk]))
    one_per_state: dict[str, int] = {}  # an action's page differs by state, not by action
    for state, pk in Action.objects.order_by("pk").values_list("state", "pk"):
        one_per_state.setdefault(state, pk)
    paths += [reverse("console:action-detail", args=[pk]) for pk in one_per_state.values()]
    paths += [
        reverse("console:batch-detail", args=[pk])
        for pk in Batch.objects.values_list("pk", flat=True)
    ]
    return list(dict.fromkeys(paths))  # people in several CRMs come up more than once


def _admin_paths(superuser) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the admin index, each app's index, and per model its list, one object and add."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    paths = [reverse("admin:index")]
    apps = set()
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        apps.add(meta.app_label)
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        paths.append(reverse(f"{prefix}_changelist"))
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {meta.label} to open in the admin"
        paths.append(reverse(f"{prefix}_change", args=[quote(obj.pk)]))
        if model_admin.has_add_permission(request):
            paths.append(reverse(f"{prefix}_add"))
            if model is Connection:
                paths += [reverse(f"{prefix}_add") + f"?kind={kind}" for kind in KINDS]
    paths += [reverse("admin:app_list", args=[label]) for label in sorted(apps)]
    return paths


def test_no_page_violates_the_policy(page, web_server, crm, admin_user, superuser):
    started = time.monotonic()
    seeded = _seed(crm, admin_user)
    connections = seeded["connections"]
    tour = Tour(page, web_server.url)
    tour.listen()

    # Signed out: the login pages, and a failed sign-in (its error, and a record for axes).
    tour.open("/login/")
    tour.open("/admin/login/?next=/admin/")
    page.goto(web_server.url + "/login/")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    tour.check("/login/ (failed sign-in)")

    # The console as a connection admin (every console page and button shows for them).
    sign_in(page, web_server.url, "connadmin")
    tour.check("/ (after signing in)")
    # The POST-only routes, through their buttons: cancel, answer, resend, check, sync.
    tour.open(reverse("console:action-detail", args=[seeded["scheduled"].pk]))
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("[data-state=cancelled]")).to_be_visible()
    tour.open(reverse("console:action-detail", args=[seeded["asking"].pk]))
    page.get_by_label("Start date").fill("2027-01-15")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.locator("[data-state=succeeded]")).to_be_visible()
    tour.open(reverse("console:action-detail", args=[seeded["unknown"].pk]))
    page.get_by_role("button", name="Checked in the CRM: it did not").click()
    expect(page.locator(".checked")).to_contain_text("it did not happen")
    page.get_by_role("button", name="Resend").click()  # opens the new action's page
    expect(page.locator("[data-state=succeeded]")).to_be_visible()
    tour.check("the resent action's page")
    tour.open(reverse("console:action-detail", args=[seeded["composed"].pk]))
    page.get_by_role("button", name="Check in the CRM").click()
    expect(page.locator(".proposal")).to_be_visible()
    tour.settle()
    tour.check("an unknown outcome checked in the CRM")
    tour.open(reverse("console:batch-detail", args=[seeded["waiting"].pk]))
    page.get_by_role("button", name="Cancel the bulk run").click()  # confirmed in the dialog
    expect(page.get_by_test_id("batch-cancelled")).to_be_visible()
    tour.settle()
    tour.check("a cancelled bulk run")
    tour.open(reverse("console:connection-detail", args=[connections["crmcom"].pk]))
    page.get_by_role("button", name="Test connection").click()
    tour.settle()
    page.get_by_role("button", name="Sync now").click()
    tour.settle()
    expect(page.locator("#connection-status tbody tr").first).to_contain_text("Succeeded")
    tour.check("connection detail (after test and sync)")
    # A bulk run, started from its form (the batch page follows it to the end).
    allclients = connections["allclients"]
    tour.open(f"/bulk/?all=1&kind=allclients&act={allclients.pk}:add_contact_link")
    page.get_by_label("Link URL").fill("https://files.example.com/bulk.pdf")
    page.get_by_label("Label").fill("Bulk")
    page.locator("#bulk-step button[type=submit]").click()
    page.wait_for_url(re.compile(r"/bulk/\d+/$"))
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%")
    tour.check("batch detail (after the bulk form)")
    batch = Batch.objects.latest("pk")
    Action.objects.filter(pk=batch.actions.order_by("pk")[0].pk).update(state="failed")
    tour.open(reverse("console:batch-detail", args=[batch.pk]))
    page.get_by_test_id("retry-link").click()  # the retry's confirmation page, then confirm
    page.get_by_role("button", name=re.compile(r"^Confirm: send 1 again")).click()
    page.wait_for_url(re.compile(rf"/bulk/(?!{batch.pk}/)\d+/$"))
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%")
    tour.settle()
    tour.check("a retried bulk run")
    csv = page.request.get(web_server.url + reverse("console:batch-failures", args=[batch.pk]))
    assert csv.ok and csv.headers["content-type"].startswith("text/csv"), csv.status
    tour.answers.append(("GET", urlsplit(csv.url).path, csv.status))

    # Corrections of who is the same person, through their buttons: split a record out of
    # the person found in the most CRMs, undo that, then join someone found by email.
    person = Person.objects.annotate(records=Count("contacts")).order_by("-records", "pk")[0]
    stranger = Contact.objects.exclude(person=person).exclude(emails=[]).order_by("pk").first()
    assert stranger is not None, "no contact outside the person to join"
    tour.open(reverse("console:person-detail", args=[person.pk]))
    page.locator("details.correction summary").first.click()
    page.get_by_role("button", name="Split this record out").first.click()
    expect(page.get_by_role("button", name="Undo")).to_have_count(1)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("[data-correction].muted")).to_have_count(1)
    page.get_by_label("Find the other person").fill(stranger.emails[0])
    page.get_by_role("button", name="Join: same person").click()
    expect(page.locator("[data-correction]")).to_have_count(2)
    tour.check("person detail (after split, undo and join)")

    for path in _console_paths(connections):
        tour.open(path)
        tour.click_through(path)

    # The admin as a superuser (the sandbox's faults and ledger are theirs only).
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/"))
    tour.check("/login/ (signed out)")
    sign_in(page, web_server.url, "root")
    if not AccessFailureLog.objects.exists():  # kept only when AXES_ENABLE_ACCESS_FAILURE_LOG
        AccessFailureLog.objects.create(
            username="nobody", ip_address="127.0.0.1", user_agent="e2e", path_info="/login/"
        )
    for path in _admin_paths(superuser):
        tour.open(path, wait="load")

    routes = {resolve(url).route for url in console_urls()}
    reached = {_route(path) for _method, path, status in tour.answers if 200 <= status < 300}
    console_pages = [path for path in tour.visited if _route(path) in routes]
    elapsed = time.monotonic() - started
    print(f"CSP tour: {len(tour.visited)} pages ({len(console_pages)} console) in {elapsed:.0f} s")
    assert not tour.errors, "\n".join(tour.errors)
    # Every console route answered the browser (GET pages opened, POST-only ones through
    # their buttons): a new route without a concrete URL here fails the tour.
    assert routes <= reached, f"console routes the tour never reached: {sorted(routes - reached)}"
    assert len(console_pages) >= len(routes), (len(console_pages), len(routes))
