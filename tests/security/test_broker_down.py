"""A stopped broker never turns a request into an error page (issue 15, point 5).

Celery is pointed at a Redis address where nothing listens. "Test connection", "Sync now"
(console and admin) and act submits answer normally and say the request is saved and will
be sent when the broker is back; once it is back, the sweeper (and the sync reaper) send
what was saved, and a real worker carries it out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse
from django.utils.html import escape

from crmhub.actions.models import Action
from crmhub.actions.sweeper import actions_sweep
from crmhub.bench.processes import free_port
from crmhub.celery import app
from crmhub.connections.models import Connection, Health
from crmhub.connectors import registry
from crmhub.connectors.allclients.declaration import CRM as ALLCLIENTS
from crmhub.connectors.base import Operation, OperationResult
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync.schedule import runs_reap
from crmhub.core.publishing import BROKER_DOWN
from tests.actions.conftest import KIND, FakeAllClients
from tests.actions.conftest import fake_crm as fake_crm
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.integration,
]


class FakeWithLinks(FakeAllClients):
    """The in-memory AllClients, which also takes the console's "Add link" act (as declared)."""

    operations: ClassVar[Mapping[str, Operation]] = {
        **FakeAllClients.operations,
        "add_contact_link": ALLCLIENTS.operations_by_name["add_contact_link"],
    }

    def perform_add_contact_link(self, params: dict[str, Any]) -> OperationResult:
        return self._scripted("add_contact_link", params)


@pytest.fixture
def fake_links(fake_crm):  # type: ignore[no-untyped-def]
    registry.register(KIND, FakeWithLinks)
    return FakeWithLinks


@contextmanager
def broker_stopped() -> Iterator[str]:
    """Point Celery at a broker address where nothing listens; restore it afterwards."""
    conf = app.conf
    saved = (conf.broker_url, conf.broker_transport, app._pool, app.amqp._producer_pool)
    url = f"redis://127.0.0.1:{free_port()}/0"
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI's
    # Redis leg sets it), so the dead address goes there too.
    environ = mock.patch.dict(os.environ, {"CELERY_BROKER_URL": url})
    environ.start()
    conf.broker_url, conf.broker_transport = url, None
    app._pool = app.amqp._producer_pool = None
    try:
        yield url
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        environ.stop()
        conf.broker_url, conf.broker_transport = saved[0], saved[1]
        app._pool, app.amqp._producer_pool = saved[2], saved[3]


def _connection(name: str) -> Connection:
    connection = Connection(
        name=name, kind="allclients", base_url="https://crm.example.com/api/2/", rate_limit=100
    )
    connection.set_secrets({"api_key": "broker-test-key-0001"})
    connection.save()
    return connection


def _said(response) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the messages a followed redirect showed (and assert the page showed them)."""
    assert response.status_code == 200 and response.redirect_chain
    shown = [str(message) for message in response.context["messages"]]
    for message in shown:
        assert escape(message) in response.content.decode()
    return shown


def test_requests_made_while_the_broker_is_down_are_saved_and_sent_once_it_is_back(
    client, admin_user, fake_links, settings
):
    console, other = _connection("Console one"), _connection("Admin one")
    contact = Contact.objects.create(
        connection=console, remote_id="501", record_type="person", full_name="Ann Lee"
    )
    client.force_login(admin_user)
    check = reverse("console:connection-check", args=[console.pk])
    sync = reverse("console:connection-sync", args=[console.pk])
    act = reverse("console:contact-act", args=[contact.pk, "add_contact_link"])
    changelist = reverse("admin:connections_connection_changelist")

    with broker_stopped():
        response = client.post(check, follow=True)
        assert _said(response) == [f"Connection test: {BROKER_DOWN}"]
        response = client.post(check, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        toast = json.loads(response["HX-Trigger"])["crmhub:toast"]
        assert toast == {"level": "warning", "message": f"Connection test: {BROKER_DOWN}"}

        response = client.post(sync, {"mode": "full"}, follow=True)
        assert _said(response) == [f"Sync: {BROKER_DOWN}"]

        for action_name, said in (("test_connection", "Test connection"), ("sync_now", "Sync now")):
            response = client.post(
                changelist, {"action": action_name, "_selected_action": [other.pk]}, follow=True
            )
            assert _said(response) == [f"{said}: {BROKER_DOWN}"]

        client.force_login(admin_user)  # an admin is an operator too
        link = {"url": "https://example.com/statement", "label": "Statement"}
        response = client.post(act, link)
        assert response.status_code == 302
        action = Action.objects.get()
        assert response["Location"] == reverse("console:action-detail", args=[action.pk])
        assert (action.state, action.published_at, action.error) == (
            Action.State.QUEUED,
            None,
            BROKER_DOWN,
        )
        detail = client.get(response["Location"])
        assert escape(BROKER_DOWN) in detail.content.decode()
        response = client.post(act, {**link, "label": "Again"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert escape(BROKER_DOWN) in response.content.decode()

    runs = SyncRun.objects.order_by("pk")
    assert [(run.state, run.error) for run in runs] == [(SyncRun.State.QUEUED, BROKER_DOWN)] * 2
    assert Connection.objects.filter(check_requested_at__isnull=False).count() == 2
    assert fake_links.performed == []

    # The broker is back: the sweeper and the sync reaper send what was saved.
    settings.CRMHUB_ACTION_REPUBLISH_SECONDS = 0
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=["actions", "sync"],
        shutdown_timeout=20,
        loglevel="WARNING",
    ):
        done = actions_sweep()
        assert done["published"] == 2 and done["checks_republished"] == 2
        runs_reap()
        wait_for(
            lambda: set(Action.objects.values_list("state", flat=True)) == {Action.State.SUCCEEDED},
            message="the actions saved while the broker was down were never sent",
        )
        # A finished sync records the connection's health too: the checks have run only once
        # no request is left on the rows.
        wait_for(
            lambda: (
                not Connection.objects.filter(check_requested_at__isnull=False).exists()
                and set(Connection.objects.values_list("health", flat=True)) == {Health.OK}
            ),
            message="the connection checks saved while the broker was down never ran",
        )
        wait_for(
            lambda: (
                set(SyncRun.objects.values_list("state", flat=True)) == {SyncRun.State.SUCCEEDED}
            ),
            message="the syncs saved while the broker was down never ran",
        )
    assert sorted(operation for operation, _ in fake_links.performed) == ["add_contact_link"] * 2
    assert not Action.objects.filter(error=BROKER_DOWN).exists()
