"""Collect! plans against a server whose Web Socket cannot be opened (its end point absent).

The plan is then sent without ``websocket-id``: a plan that does not prompt runs, one that
prompts fails on the server (rolled back) and the error says why. Real HTTP, real sandbox.
"""

from __future__ import annotations

import dataclasses

import pytest

from crmhub.connectors import errors
from crmhub.connectors.collect import client as collect_client
from crmhub.connectors.registry import get_connector
from crmhub.sandbox.models import Call, Record

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _no_socket(settings):  # type: ignore[no-untyped-def]
    """The sandbox's Collect! server answers its Web Socket's handshake with 404."""
    collect_client.forget_tokens()
    settings.SANDBOX_COLLECT_WEBSOCKET_ABSENT = True
    yield
    collect_client.forget_tokens()


@pytest.fixture
def connector(sandbox_spec):  # type: ignore[no-untyped-def]
    connector = get_connector(sandbox_spec("collect", people=8))
    yield connector
    connector.close()


def _runplans() -> list[Call]:
    return list(Call.objects.filter(kind="collect", operation="app/runplan").order_by("id"))


def test_a_plan_that_does_not_prompt_runs_without_the_socket(connector):  # type: ignore[no-untyped-def]
    result = connector.run("run_plan", {"contact_remote_id": "debtor:2", "plan": "REV"})
    (call,) = _runplans()
    assert "websocket-id" not in call.params
    assert (call.applied, call.status) == (True, 200)
    record = Record.objects.get(kind="collect", collection="debtor", remote_id=2)
    assert record.data["de_last_plan"] == "REV"
    assert result.data["websocket_id"] == ""
    assert "HTTP 404" in result.data["socket"]
    handshake = [c for c in connector.drain_calls() if c.url.startswith("ws://")]
    assert [(c.method, c.status) for c in handshake] == [("GET", 404)]
    assert "HTTP 404" in (handshake[0].error or "")


def test_a_prompting_plan_fails_rolled_back_and_says_why(connector):  # type: ignore[no-untyped-def]
    with pytest.raises(errors.Rejected) as caught:
        connector.run("run_plan", {"contact_remote_id": "debtor:3", "plan": "PRM"})
    message = str(caught.value)
    url = connector.spec.base_url.replace("http://", "ws://").split("/sandbox/")[0]
    assert message.startswith(f"This plan prompts, and the Web Socket at {url}/")
    assert "could not be opened: HTTP 404" in message
    assert "rolled it back" in message
    (call,) = _runplans()
    assert "websocket-id" not in call.params
    assert (call.applied, call.status) == (False, 409)
    record = Record.objects.get(kind="collect", collection="debtor", remote_id=3)
    assert record.data["de_next_contact"] == ""


def test_an_unmarked_plan_that_fails_names_the_socket_too(sandbox_spec):  # type: ignore[no-untyped-def]
    spec = sandbox_spec("collect", people=8)
    unmarked = dataclasses.replace(spec, settings={**spec.settings, "prompting_plans": ""})
    connector = get_connector(unmarked)
    try:
        with pytest.raises(errors.Rejected) as caught:
            connector.run("run_plan", {"contact_remote_id": "debtor:3", "plan": "PRM"})
    finally:
        connector.close()
    message = str(caught.value)
    assert message.startswith("Collect! answered 409: Contact plan PRM failed")
    assert "could not be opened (HTTP 404)" in message


def test_with_the_socket_the_handshake_is_recorded_as_101(connector, settings):  # type: ignore[no-untyped-def]
    settings.SANDBOX_COLLECT_WEBSOCKET_ABSENT = False
    result = connector.run("run_plan", {"contact_remote_id": "debtor:4", "plan": "REV"})
    assert result.data["websocket_id"]
    (call,) = _runplans()
    assert call.params["websocket-id"] == result.data["websocket_id"]
    handshake = [c for c in connector.drain_calls() if c.url.startswith("ws://")]
    assert [(c.method, c.status, c.error) for c in handshake] == [("GET", 101, None)]
