"""The real stack for browser tests: live server (console + sandbox), a real worker, Chromium.

Connections are made as ``manage.py demo`` makes them, pointing at the live server; the
index is filled by a real sync of each connection. Each flow saves a screenshot under
``var/screenshots/`` (see the README).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from crmhub.bench.sandboxes import sandbox_connection
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from tests.conftest import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
TIMEOUT_MS = 30_000
#: Installed in every document before its own scripts: keeps each Content Security Policy
#: violation the browser reports (``securitypolicyviolation``) in ``window.__cspViolations``.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: event.blockedURI || "(inline)",
    source: `${event.sourceFile || "?"}:${event.lineNumber}:${event.columnNumber}`,
    sample: event.sample || "",
  });
}, true);
"""


@pytest.fixture
def browser(web_server, monkeypatch) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Launch Debian's Chromium for one test (Playwright's sync API, in the test thread).

    Playwright keeps an event loop running in the test thread while it is open, and the
    test's own database calls are plain synchronous code in that thread: Django is told
    so for this test only (and the loop is gone before the next, non-browser test).
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def crm(web_server, celery_worker, transactional_db) -> Callable[..., Connection]:  # type: ignore[no-untyped-def]
    """Return a factory: seed simulated CRM ``kind``, connect it like the demo, index it."""
    from crmhub.sandbox.services import sandbox_seed

    def make(kind: str, *, people: int = 40, index: bool = True) -> Connection:
        sandbox_seed(people=people, kinds=(kind,), reset=True)
        connection = sandbox_connection(
            kind=kind,
            public_url=web_server.url,
            name=f"Sandbox {kind}",
            sync_interval_minutes=60,
            rate_limit=20.0,
        )
        if index:  # a real sync, run by the real worker
            run = sync_request(connection=connection, mode="full", requested_by="e2e")
            wait_for(
                lambda: (
                    SyncRun.objects.filter(pk=run.pk)
                    .exclude(state__in=SyncRun.ACTIVE_STATES)
                    .exists()
                ),
                timeout=60,
                message=f"the sync of {kind} did not end",
            )
            run.refresh_from_db()
            assert run.state == SyncRun.State.SUCCEEDED, run.error
            # People are matched right after the run ends.
            wait_for(lambda: not Contact.objects.filter(needs_match=True).exists(), timeout=30)
        return connection

    return make


@pytest.fixture
def page(browser, web_server, celery_worker, request) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Return a fresh page (1024 px wide) that fails the test on a CSP violation or JS error."""
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_RECORDER)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    problems.extend(f"CSP violation on {tab.url}: {v}" for v in csp_violations(tab))
    context.close()
    assert not problems, problems


def csp_violations(page) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Return (and forget) the CSP violations the page's current document has recorded."""
    from playwright.sync_api import Error

    try:
        return list(page.evaluate("() => (window.__cspViolations || []).splice(0)"))
    except Error:  # the page is gone (closed, or navigating): nothing left to read
        return []


def sign_in(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form (the test users' password is "pw-<username>")."""
    page.goto(base_url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-" + username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save the whole page as ``var/screenshots/<name>.png`` and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
