"""The small ones of issue 15 (point 6): a double submit, tokens in reprs, "deactivate".

* An act form posted twice at once (a double click racing itself) answers with the one
  action both asked for: no 500, nothing duplicated.
* Every object holding a session token (the Collect! and CRM.COM token caches, their
  clients, the HTTP client, a login's response) keeps it out of its ``repr``, and so out of
  logs and error reports; a token is masked in any log line once obtained.
* Where the admin refuses to delete a connection or a user with history, it offers
  "deactivate" and says why.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connections as db_connections
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.views.debug import get_exception_reporter_class

from crmhub.actions import services as action_services
from crmhub.actions.models import Action
from crmhub.connections.admin import ConnectionAdmin
from crmhub.connections.models import Connection
from crmhub.connectors.collect import client as collect_client
from crmhub.connectors.collect.connector import CollectConnector
from crmhub.connectors.crmcom import client as crmcom_client
from crmhub.connectors.crmcom.connector import CrmComConnector
from crmhub.core import redaction
from crmhub.core.admin import UserAdmin
from tests.console.conftest import make_action

HTMX = {"HTTP_HX_REQUEST": "true"}


# -- a double submit ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_form_posted_twice_at_once_answers_with_the_one_action(
    operator, ann, monkeypatch, django_capture_on_commit_callbacks
):
    """Both requests pass the "already queued?" look-up before either writes its row."""
    both_checked = threading.Barrier(2, timeout=10)
    validated = action_services._validated

    def racing(*args: Any, **kwargs: Any) -> Any:
        both_checked.wait()
        return validated(*args, **kwargs)

    monkeypatch.setattr(action_services, "_validated", racing)
    monkeypatch.setattr("crmhub.actions.dispatch.publish", lambda ids, countdown=None: True)
    url = reverse("console:contact-act", args=[ann["allclients"].pk, "add_contact_link"])
    data = {"url": "https://example.com/a", "label": "Statement", "request_key": uuid.uuid4().hex}
    answers: list[Any] = []

    def submit(headers: dict[str, str]) -> None:
        client = Client()
        client.force_login(operator)
        try:
            answers.append(client.post(url, data, **headers))
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=submit, args=(h,)) for h in ({}, HTMX)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    action = Action.objects.get()  # one row, whichever request wrote it
    assert len(answers) == 2
    by_kind = {bool(a.get("HX-Trigger")): a for a in answers}
    assert by_kind[False].status_code == 302
    assert by_kind[False]["Location"] == reverse("console:action-detail", args=[action.pk])
    assert by_kind[True].status_code == 200
    assert f'id="action-{action.pk}"' in by_kind[True].content.decode()


# -- tokens never in a repr, a log line or an error report ------------------------------------
@pytest.fixture
def logged_in(sandbox_spec):  # type: ignore[no-untyped-def]
    """Log in to the Collect! and CRM.COM sandboxes; return the connectors and their tokens."""
    collect_client.forget_tokens()
    crmcom_client.forget_all_tokens()
    collect = CollectConnector(sandbox_spec("collect", people=2))
    crmcom = CrmComConnector(sandbox_spec("crmcom", people=2))
    tokens = {"collect": collect.client.token(), "crmcom": crmcom.client.token()}
    yield collect, crmcom, tokens
    collect.close()
    crmcom.close()
    collect_client.forget_tokens()
    crmcom_client.forget_all_tokens()


def _token_holders(collect: CollectConnector, crmcom: CrmComConnector) -> list[Any]:
    login = collect.http.request(
        "POST",
        "auth/login",
        json_body={"op_id": collect.client.operator_id, "op_password": collect.client.password},
        headers=collect.client._headers(),
    )
    return [
        *collect_client._tokens.values(),
        *crmcom_client._tokens.values(),
        collect.client,
        crmcom.client,
        collect.http,
        crmcom.http,
        collect,
        crmcom,
        collect.spec,
        crmcom.spec,
        login,
    ]


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.integration
def test_no_object_holding_a_token_shows_it(logged_in):
    collect, crmcom, tokens = logged_in
    holders = _token_holders(collect, crmcom)
    assert len(holders) >= 11 and b"token" in holders[-1].content  # a login's answer
    secrets = [*tokens.values(), *collect.spec.secrets.values(), *crmcom.spec.secrets.values()]
    for holder in holders:
        shown = f"{holder!r} {holder}"
        for secret in secrets:
            assert secret not in shown, f"{type(holder).__name__} shows a secret: {shown}"


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.integration
def test_no_token_reaches_a_log_line_or_an_error_report(logged_in, caplog):
    collect, crmcom, tokens = logged_in
    holders = _token_holders(collect, crmcom)
    logger = logging.getLogger("crmhub.test")
    with caplog.at_level(logging.INFO, logger="crmhub.test"):
        for holder in holders:
            logger.info("holding %r", holder)
    for token in tokens.values():
        assert token not in caplog.text
        # A token obtained at run time is masked wherever it later appears in a log line.
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (token,), None)
        redaction.RedactingFilter().filter(record)
        assert token not in record.getMessage()

    def failing(token: str, cached: Any, client: Any) -> None:
        header = {"Authorization": f"Bearer {token}"}
        raise RuntimeError(f"the call failed ({len(header)} header)")

    try:
        failing(tokens["collect"], holders[0], collect.client)
    except RuntimeError:
        reporter = get_exception_reporter_class(None)(None, *sys.exc_info())
        report = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert "failing" in report and "cached" in report  # the frame and its variables are there
    for token in tokens.values():
        assert token not in report


# -- deactivate instead of delete --------------------------------------------------------------
def _delete_page(model: str, pk: int) -> str:
    return reverse(f"admin:{model}_delete", args=[pk])


def _deactivate(model: str, pk: int) -> str:
    return reverse(f"admin:{model}_deactivate", args=[pk])


@pytest.mark.django_db(databases="__all__")
def test_a_connection_with_history_offers_deactivate_and_says_why(client, admin_user, ann):
    connection = ann["allclients"].connection
    make_action(connection, "add_contact_link", contact=ann["allclients"])
    client.force_login(admin_user)
    page = client.get(_delete_page("connections_connection", connection.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Deactivate instead" in html and escape(ConnectionAdmin.deactivate_reason) in html
    assert f'action="{_deactivate("connections_connection", connection.pk)}"' in html
    assert client.get(_deactivate("connections_connection", connection.pk)).status_code == 405
    response = client.post(_deactivate("connections_connection", connection.pk), follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:connections_connection_change", args=[connection.pk]
    )
    assert "is deactivated; its history is kept" in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).is_active is False
    assert Action.objects.filter(connection=connection).exists()
    assert LogEntry.objects.filter(change_message__startswith="Deactivated").exists()
    again = client.get(_delete_page("connections_connection", connection.pk)).content.decode()
    assert "It is already deactivated." in again


@pytest.mark.django_db(databases="__all__")
def test_a_connection_without_history_is_deleted_as_before(client, superuser):
    connection = Connection.objects.create(
        name="Typo", kind="allclients", base_url="https://crm.example.com/api/2/"
    )
    client.force_login(superuser)
    page = client.get(_delete_page("connections_connection", connection.pk)).content.decode()
    assert "Deactivate instead" not in page
    response = client.post(_delete_page("connections_connection", connection.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()


@pytest.mark.django_db(databases="__all__")
def test_a_user_with_history_offers_deactivate_and_their_sessions_end(
    client, superuser, admin_user, operator, ann
):
    make_action(ann["allclients"].connection, "add_contact_link", user=operator)
    theirs = Client()
    theirs.force_login(operator)
    assert theirs.get(reverse("console:dashboard")).status_code == 200

    client.force_login(admin_user)  # a connection admin may not change users
    assert client.post(_deactivate("auth_user", operator.pk)).status_code == 403

    client.force_login(superuser)
    html = client.get(_delete_page("auth_user", operator.pk)).content.decode()
    assert "Deactivate instead" in html and escape(UserAdmin.deactivate_reason) in html
    response = client.post(_deactivate("auth_user", operator.pk))
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.is_active is False
    assert Action.objects.filter(requested_by=operator).exists()
    assert theirs.get(reverse("console:dashboard")).status_code == 302  # signed out
