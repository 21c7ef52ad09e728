"""S8 (with S4 and S7 around it): a canary credential, saved through the admin, leaks nowhere.

The canary is the API key of an AllClients connection saved by a superuser in the admin.
Then things go wrong on purpose, with the canary in as many places as an attacker or a bug
could put it:

* a console view crashes while the request carries the canary in its query string, its
  form fields, its headers and a cookie, and the crashing code holds it in local variables
  and in the exception's message;
* actions run by a real worker process (the real AllClients connector, the real broker)
  against a remote that echoes the API key it received in every kind of answer: a vendor
  error, a body that is neither XML nor JSON, broken XML, a 500, a 400 and a success;
* the connection check, a contact sync and a crashing connector in tasks of an in-process
  worker.

Each test first proves the canary really was there (the request carried it, the remote
received it, the exception said it) and then looks for it in every log line, the error
e-mail to ADMINS and Django's technical error report, the 500 page, the console and admin
pages, every table of every database, and the broker (messages published, message files of
the embedded broker, every key of the Redis broker).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import secrets
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import before_task_publish
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import reverse
from django.views.debug import get_exception_reporter_class

from crmhub.actions.models import Action
from crmhub.celery import app
from crmhub.connections.models import Connection
from crmhub.connectors.allclients.connector import AllClientsConnector
from crmhub.contacts.models import Contact, SyncRun
from crmhub.core import redaction
from tests.conftest import wait_for
from tests.dump import broker_dump, database_dump
from tests.integration.harness import Worker, settle
from tests.integration.remote import QuietHandler, ThreadedServer

pytestmark = pytest.mark.django_db(databases="__all__")

#: Unique per run, so nothing left over from another run (or another test) can match it.
CANARY = f"cnry{secrets.token_hex(14)}"
ADD = reverse("admin:connections_connection_add")


# -- where to look -----------------------------------------------------------------------------
def leak(where: str, text: object) -> str:
    """Return where and how the canary appears in ``text`` ("" when it does not)."""
    text = str(text)
    at = text.find(CANARY)
    if at < 0:
        return ""
    return f"the canary leaked into {where}: …{text[max(0, at - 300) : at + 80]!r}…"


def assert_clean(where: str, text: object) -> None:
    """Fail, showing the surroundings, if the canary appears in ``text``."""
    if found := leak(where, text):
        pytest.fail(found)


class Leaks:
    """Look everywhere first, then fail once with every place the canary was found."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, where: str, text: object) -> None:
        if found := leak(where, text):
            self.found.append(found)

    def assert_none(self) -> None:
        assert not self.found, "\n\n".join(self.found)


def _redis_values() -> list[str]:
    """Return every key and value of the Redis broker's database ([] for another broker)."""
    url = str(getattr(django_settings, "CELERY_BROKER_URL", ""))
    if not url.startswith(("redis://", "rediss://")):
        return []
    import redis

    client = redis.Redis.from_url(url)
    chunks: list[str] = []
    try:
        for key in client.scan_iter(count=500):
            kind = client.type(key).decode()
            values: list[Any]
            if kind == "string":
                values = [client.get(key)]
            elif kind == "list":
                values = client.lrange(key, 0, -1)
            elif kind == "hash":
                values = [item for pair in client.hgetall(key).items() for item in pair]
            elif kind == "set":
                values = list(client.smembers(key))
            elif kind == "zset":
                values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
            else:
                values = [kind]
            chunks.append(key.decode(errors="replace"))
            chunks.extend(
                v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in values
            )
    finally:
        client.close()
    return chunks


def broker_contents() -> str:
    """Return everything the broker holds (embedded broker files or Redis keys), with the
    base64 bodies of the task messages in it decoded (a secret would hide in them)."""
    chunks = [*broker_dump().splitlines(), *_redis_values()]
    decoded = []
    for chunk in chunks:
        try:
            message = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(message, dict) and isinstance(message.get("body"), str):
            with contextlib.suppress(ValueError):
                decoded.append(base64.b64decode(message["body"]).decode(errors="replace"))
    return "\n".join(chunks + decoded)


def all_file_handler_text() -> str:
    """Return what every file handler of the logging configuration wrote (none by default)."""
    chunks = []
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.FileHandler):
                handler.flush()
                with open(handler.baseFilename, errors="replace") as file:
                    chunks.append(file.read())
    return "\n".join(chunks)


class ConfiguredLogOutput:
    """Collect what the configured handlers of the root logger (LOGGING) actually write."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self._swapped: list[tuple[logging.StreamHandler, Any]] = []

    def __enter__(self) -> ConfiguredLogOutput:
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:  # LOGGING's "console" (not pytest's)
                self._swapped.append((handler, handler.setStream(self.buffer)))
        assert self._swapped, "LOGGING configures no console handler on the root logger"
        return self

    def __exit__(self, *exc: object) -> None:
        for handler, stream in self._swapped:
            handler.setStream(stream)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


def caplog_text(caplog: pytest.LogCaptureFixture) -> str:
    """Return every captured record as a handler would format it, tracebacks included."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


# -- the remote that echoes the key it was sent ---------------------------------------------
#: How the echo remote answers, chosen by the action set name of RunActionSet.
ANSWERS: dict[str, tuple[str, str]] = {
    "vendor-error": ("200 OK", "<results><error>Invalid API key {key}</error></results>"),
    "not-xml": ("200 OK", "apikey {key} refused: this server speaks neither XML nor JSON"),
    "broken-xml": ("200 OK", "<results><message>Success for {key}</message"),
    "broken-json": ("200 OK", '{{"results": {{"apikey": "{key}"'),
    "server-error": ("500 Internal Server Error", "Traceback: KeyError apikey={key}"),
    "rejected": ("400 Bad Request", "Bad request for key {key}"),
    "success-echo": (
        "200 OK",
        "<results><message>Success</message><details>Ran for key {key}</details></results>",
    ),
}
#: The state each answer must leave its action in (so the test knows the answer landed).
EXPECTED_STATE = {
    "vendor-error": Action.State.FAILED,
    "not-xml": Action.State.UNKNOWN,
    "broken-xml": Action.State.UNKNOWN,
    "broken-json": Action.State.UNKNOWN,
    "server-error": Action.State.UNKNOWN,
    "rejected": Action.State.FAILED,
    "success-echo": Action.State.SUCCEEDED,
}


class EchoRemote:
    """An AllClients look-alike on 127.0.0.1 that puts the API key it got into its answers."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.server = make_server(
            "127.0.0.1", 0, self._app, server_class=ThreadedServer, handler_class=QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/2/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8", errors="replace")
        form = {name: values[-1] for name, values in parse_qs(body).items()}
        with self._lock:
            self.received.append({"path": environ.get("PATH_INFO", ""), **form})
        mode = form.get("actionsetname") or "vendor-error"
        status, template = ANSWERS.get(mode, ANSWERS["vendor-error"])
        content_type = "application/json" if "json" in mode else "text/xml"
        start_response(status, [("Content-Type", content_type)])
        return [template.format(key=form.get("apikey", "")).encode()]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_remote() -> Iterator[EchoRemote]:
    remote = EchoRemote()
    yield remote
    remote.stop()


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget every secret registered so far: this test's redaction must earn its keep."""
    monkeypatch.setattr(redaction, "_known", set())


def save_canary_connection(url: str) -> Connection:
    """Save the canary connection as a superuser does, through the admin form."""
    root = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "root", "root@example.com", "pw-root"
    )
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        ADD + "?kind=allclients",
        {
            "name": "Canary",
            "kind": "allclients",
            "base_url": url,
            "country": "US",
            "rate_limit": "50",
            "sync_interval_minutes": "15",
            "full_sync_interval_hours": "24",
            "is_active": "on",
            "allow_private_network": "on",
            "setting_account_id": "12345",
            "setting_time_zone": "America/Chicago",
            "secret_api_key": CANARY,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get(name="Canary")
    assert connection.get_secrets() == {"api_key": CANARY}
    return connection


def index_contact(connection: Connection) -> Contact:
    return Contact.objects.create(
        connection=connection, remote_id="501", record_type="person", full_name="Ann Lee"
    )


def check_pages(leaks: Leaks, contact: Contact, actions: list[Action]) -> int:
    """Render every console and admin page about the canary's connection; return how many."""
    connection = contact.connection
    operator_pages = [
        reverse("console:dashboard"),
        reverse("console:contact-list") + "?q=Ann",
        reverse("console:contact-detail", args=[contact.pk]),
        reverse("console:action-list"),
        reverse("console:connection-list"),
        reverse("console:connection-detail", args=[connection.pk]),
        *(reverse("console:action-detail", args=[a.pk]) for a in actions),
    ]
    admin_pages = [
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_change", args=[connection.pk]),
        reverse("admin:connections_connection_history", args=[connection.pk]),
        reverse("admin:actions_action_changelist"),
        reverse("admin:contacts_syncrun_changelist"),
        *(reverse("admin:actions_action_change", args=[a.pk]) for a in actions),
    ]
    shown = 0
    for user, pages in (
        (User.objects.get(username="operator"), operator_pages),
        (User.objects.get(is_superuser=True), operator_pages + admin_pages),
    ):
        browser = Client()
        browser.force_login(user)
        for url in pages:
            response = browser.get(url, follow=True)
            assert response.status_code == 200, (url, response.status_code)
            leaks.check(f"the page {url} (as {user.username})", response.content.decode())
            shown += 1
    return shown


# -- 1. a view crashes -------------------------------------------------------------------------
def test_a_crashing_view_leaks_the_canary_nowhere(
    operator, superuser, settings, monkeypatch, caplog, echo_remote, fresh_registry
):
    settings.DEBUG = False
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    settings.ADMINS = [("Ops", "ops@example.com")]
    connection = save_canary_connection(echo_remote.url)
    contact = index_contact(connection)

    def exploding_enqueue(**kwargs: Any) -> Action:
        api_key = connection.get_secrets()["api_key"]  # a local holding the secret
        call = {"apikey": api_key, "params": kwargs["params"], "note": f"key={api_key}"}
        raise RuntimeError(f"the CRM refused {call['apikey']} for {call['params']}")

    monkeypatch.setattr("crmhub.console.views.acts.action_enqueue", exploding_enqueue)
    crashes: list[tuple[Any, tuple[Any, Any, Any]]] = []

    def remember(sender: Any, request: Any, **kwargs: Any) -> None:
        crashes.append((request, sys.exc_info()))

    got_request_exception.connect(remember)
    caplog.set_level(logging.DEBUG)
    browser = Client(raise_request_exception=False)
    browser.force_login(operator)
    browser.cookies["crm_token"] = CANARY
    url = reverse("console:contact-act", args=[contact.pk, "add_contact_link"])
    try:
        with ConfiguredLogOutput() as output:
            response = browser.post(
                f"{url}?note={CANARY}&apikey={CANARY}",
                {
                    "url": f"https://example.com/?apikey={CANARY}",
                    "label": CANARY,
                    "note": f"my key is {CANARY}",
                    "api_key": CANARY,
                    "password": CANARY,
                },
                headers={
                    "Authorization": f"Bearer {CANARY}",
                    "X-Api-Key": CANARY,
                    "X-Note": CANARY,
                },
            )
    finally:
        got_request_exception.disconnect(remember)

    # The canary really was everywhere: request, locals, exception message.
    assert response.status_code == 500
    ((request, exc_info),) = crashes
    assert CANARY in request.GET["note"] and CANARY in request.POST["label"]
    assert CANARY in request.META["HTTP_AUTHORIZATION"] and request.META["HTTP_X_NOTE"] == CANARY
    assert request.COOKIES["crm_token"] == CANARY
    assert CANARY in str(exc_info[1])
    frames = [frame for frame, _ in traceback.walk_tb(exc_info[2])]
    assert any(frame.f_locals.get("api_key") == CANARY for frame in frames)

    # ...and it is in nothing anyone gets to see.
    leaks = Leaks()
    leaks.check("the 500 page", response.content.decode())
    reporter_class = get_exception_reporter_class(request)
    for is_email in (False, True):
        reporter = reporter_class(request, *exc_info, is_email=is_email)
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
        assert "RuntimeError" in text and "RuntimeError" in html
        leaks.check(f"the technical error report (text, is_email={is_email})", text)
        leaks.check(f"the technical error report (HTML, is_email={is_email})", html)
    assert mail.outbox, "no error e-mail went to ADMINS"
    for message in mail.outbox:
        assert "RuntimeError" in message.body
        leaks.check("the error e-mail's subject", message.subject)
        leaks.check("the error e-mail", message.body)
        for content, _ in getattr(message, "alternatives", []):
            leaks.check("the error e-mail (HTML part)", content)
    assert "Internal Server Error" in output.text and "RuntimeError" in output.text
    leaks.check("the log output", output.text)
    assert any(r.name == "django.request" for r in caplog.records)
    leaks.check("the captured log records", caplog_text(caplog))
    leaks.check("the log files", all_file_handler_text())
    leaks.check("the database", database_dump())
    leaks.assert_none()


def _crash() -> tuple[Any, Any, Any]:
    """Return the exc_info of a crash whose frames hold nothing of the caller's."""
    try:
        raise ValueError("a crash while searching")
    except ValueError:
        return sys.exc_info()


def test_the_error_report_masks_secret_named_query_parameters_nobody_registered(rf, settings):
    """Query parameters are shown by Django's report unfiltered; secret-named ones are masked."""
    settings.DEBUG = False
    unknown = f"unreg{secrets.token_hex(12)}"
    request = rf.get("/contacts/", {"api_key": unknown, "q": "ann lee"})
    reporter = get_exception_reporter_class(request)(request, *_crash(), is_email=True)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "ann lee" in text and "api_key" in text  # the query is in the report...
    assert unknown not in text and unknown not in html  # ...its secret-named value is not


# -- 2. actions in a real worker process, against a remote that echoes the key --------------
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_actions_in_a_real_worker_leak_the_echoed_canary_nowhere(
    operator, superuser, tmp_path, echo_remote, fresh_registry
):
    connection = save_canary_connection(echo_remote.url)
    contact = index_contact(connection)
    published: list[str] = []

    def remember(sender: Any = None, body: Any = None, headers: Any = None, **kw: Any) -> None:
        published.append(repr((sender, body, headers, kw.get("properties"))))

    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge("actions")
    before_task_publish.connect(remember, weak=False)
    worker = None
    try:
        # Staff queue the actions; their messages wait in the broker for a worker.
        browser = Client()
        browser.force_login(operator)
        url = reverse("console:contact-act", args=[contact.pk, "run_action_set"])
        ids = []
        for mode in ANSWERS:
            response = browser.post(url, {"action_set_name": mode, "identify_method": "1"})
            assert response.status_code == 302, response.content.decode()[:2000]
            ids.append(int(response["Location"].rstrip("/").rsplit("/", 1)[-1]))
        waiting = broker_contents()
        worker = Worker("canary", tmp_path).wait_ready()
        actions = settle(ids, timeout=60)
    finally:
        before_task_publish.disconnect(remember)
        if worker is not None:
            worker.terminate(timeout=10)
    log = worker.text()

    # The remote really got the canary, and each answer really came back as planned.
    assert len(echo_remote.received) == len(ANSWERS)
    assert all(call["apikey"] == CANARY for call in echo_remote.received)
    assert {a.params["action_set_name"]: a.state for a in actions} == EXPECTED_STATE
    assert len(published) == len(ANSWERS)
    assert all("action_execute" in message for message in published)
    assert waiting.count("crmhub.actions.tasks.action_execute") >= len(ANSWERS)
    assert all(f"[[{pk}], {{}}, " in waiting for pk in ids)  # the bodies were decoded
    assert "action_execute" in log and "remote call POST" in log
    # Results are ignored and there is no result backend: nothing to search there (were one
    # configured, this test would have to read it too).
    assert app.conf.task_ignore_result and not app.conf.result_backend

    # ...and the canary is in none of what was recorded, logged, queued or shown.
    leaks = Leaks()
    for action in Action.objects.prefetch_related("attempt_set"):
        leaks.check(f"action {action.pk} ({action.params})", (action.error, action.result))
        for attempt in action.attempt_set.all():
            leaks.check(f"attempt {attempt.pk}", (attempt.error, attempt.calls))
    leaks.check("the worker's log", log)
    for message in published:
        leaks.check("a published task message", message)
    leaks.check("the broker, messages waiting", waiting)
    leaks.check("the broker, after the work", broker_contents())
    leaks.check("the database", database_dump())
    assert check_pages(leaks, contact, actions) > 10
    leaks.assert_none()


# -- 3. tasks of an in-process worker: check, sync, a crashing connector ---------------------
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_tasks_that_fail_or_crash_leak_the_canary_nowhere(
    operator, admin_user, superuser, monkeypatch, caplog, echo_remote, fresh_registry
):
    connection = save_canary_connection(echo_remote.url)
    contact = index_contact(connection)
    # The worker decrypts the secret itself, as a fresh worker process would.
    monkeypatch.setattr(redaction, "_known", set())
    caplog.set_level(logging.DEBUG)
    admin_browser, browser = Client(), Client()
    admin_browser.force_login(admin_user)
    browser.force_login(operator)
    crashed: list[str] = []

    def crashing_perform(self: AllClientsConnector, operation: str, params: Any, **kw: Any):  # type: ignore[no-untyped-def]
        api_key = self.spec.secrets["api_key"]
        crashed.append(api_key)
        raise RuntimeError(f"connector bug: sent apikey {api_key} with {params}")

    def crashing_check(self: AllClientsConnector) -> None:
        api_key = self.spec.secrets["api_key"]
        crashed.append(api_key)
        raise KeyError(f"no such account for key {api_key}")

    with (
        start_worker(
            app,
            pool="threads",
            concurrency=2,
            perform_ping_check=False,
            queues=["actions", "sync"],
            shutdown_timeout=20,
            loglevel="WARNING",
        ),
        ConfiguredLogOutput() as output,
    ):
        # Starting the worker set Django's logging up again (the Celery fixup runs
        # django.setup()): listen again behind the configured handlers.
        root = logging.getLogger()
        root.addHandler(caplog.handler)
        root.setLevel(logging.DEBUG)
        # The connection check and a sync, answered with the key in a vendor error.
        check = reverse("console:connection-check", args=[connection.pk])
        assert admin_browser.post(check).status_code == 302
        wait_for(
            lambda: Connection.objects.get(pk=connection.pk).health != "unknown",
            message="the connection check did not run",
        )
        check_error = Connection.objects.get(pk=connection.pk).health_error
        sync = reverse("console:connection-sync", args=[connection.pk])
        assert admin_browser.post(sync, {"mode": "full"}).status_code == 302
        wait_for(
            lambda: SyncRun.objects.filter(connection=connection, finished_at__isnull=False),
            timeout=40,
            message="the sync did not finish",
        )
        # A connector that crashes with the key in its message and its locals.
        monkeypatch.setattr(AllClientsConnector, "perform", crashing_perform)
        act = reverse("console:contact-act", args=[contact.pk, "add_contact_link"])
        response = browser.post(act, {"url": "https://example.com/a", "label": "Statement"})
        assert response.status_code == 302
        action = Action.objects.get(operation="add_contact_link")
        wait_for(
            lambda: Action.objects.get(pk=action.pk).is_terminal,
            message="the crashing action did not end",
        )
        # A task that raises out of Celery (the check, crashing).
        monkeypatch.setattr(AllClientsConnector, "check_credentials", crashing_check)
        assert admin_browser.post(check).status_code == 302
        wait_for(
            lambda: any(
                r.name == "celery.app.trace" and r.levelno >= logging.ERROR for r in caplog.records
            ),
            message="Celery logged no failed task",
        )

    # The canary really went through: the remote got it, the crashes held it.
    assert len(echo_remote.received) >= 2
    assert all(call["apikey"] == CANARY for call in echo_remote.received)
    assert crashed == [CANARY, CANARY]
    connection.refresh_from_db()
    assert connection.health == "error" and connection.health_error
    run = SyncRun.objects.get(connection=connection)
    assert run.state == SyncRun.State.FAILED and run.error
    action.refresh_from_db()
    assert action.state == Action.State.UNKNOWN and "RuntimeError" in action.error
    assert "connector crashed" in caplog_text(caplog)
    assert "KeyError" in caplog_text(caplog) and "KeyError" in output.text

    leaks = Leaks()
    assert "Invalid API key" in check_error
    leaks.check("the health error of the check", check_error)
    leaks.check("the health error of the sync", connection.health_error)
    leaks.check("the sync run's error", run.error)
    leaks.check("the log output", output.text)
    leaks.check("the captured log records", caplog_text(caplog))
    leaks.check("the log files", all_file_handler_text())
    leaks.check("the broker", broker_contents())
    leaks.check("the database", database_dump())
    assert check_pages(leaks, contact, [action]) > 10
    leaks.assert_none()


def test_the_checks_find_the_canary():
    """A checker that cannot find the canary would pass everything."""
    with pytest.raises(pytest.fail.Exception):
        assert_clean("a sample", json.dumps({"x": f"..{CANARY}.."}))
    leaks = Leaks()
    leaks.check("nothing", "no secret here")
    leaks.assert_none()
    leaks.check("a sample", [("x", CANARY)])
    with pytest.raises(AssertionError, match="a sample"):
        leaks.assert_none()
