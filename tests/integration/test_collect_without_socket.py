"""Collect! plans against a server without the Web Socket end point (it answers 404).

A worker subprocess runs the actions against the sandbox over HTTP: REV, which never
prompts, succeeds at the first attempt (sent without ``websocket-id``); PRM, which prompts,
fails once (never retried), Collect! rolls it back, and the action says why. Each attempt
records the socket's handshake with its status.
"""

from __future__ import annotations

import pytest

from crmhub.actions.models import Action
from crmhub.actions.services import action_enqueue
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Call, Record
from tests.integration.harness import sandbox_connection, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def debtors(sandbox_spec, settings) -> list[Contact]:  # type: ignore[no-untyped-def]
    settings.SANDBOX_COLLECT_WEBSOCKET_ABSENT = True
    connection = sandbox_connection(sandbox_spec("collect", people=6))
    return list(Contact.objects.filter(connection=connection, record_type="debtor").order_by("pk"))


def _plan(debtor: Contact, plan: str, operator) -> Action:  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation="run_plan",
        connection=debtor.connection,
        contact=debtor,
        params={"plan": plan},
        user=operator,
    )


def _handshakes(action: Action) -> list[tuple[str, int | None]]:
    return [
        (call["method"], call["status"])
        for attempt in action.attempt_set.all()
        for call in attempt.calls
        if call["url"].startswith("ws://")
    ]


def test_plans_run_without_the_socket_and_a_prompting_one_says_why(workers, debtors, operator):
    workers(beat=True)
    quiet, prompting = _plan(debtors[0], "REV", operator), _plan(debtors[1], "PRM", operator)
    done, failed = settle([quiet.pk, prompting.pk])

    assert done.state == Action.State.SUCCEEDED, done.error
    assert done.attempts == 1
    assert _handshakes(done) == [("GET", 404)]
    assert "HTTP 404" in done.result["data"]["socket"]

    assert failed.state == Action.State.FAILED
    assert failed.attempts == 1, "a refused plan is not tried again"
    socket_url = debtors[1].connection.base_url.split("/sandbox/")[0].replace("http", "ws", 1)
    assert failed.error.startswith(
        f"This plan prompts, and the Web Socket at {socket_url}/sandbox/collect/api/v1/ws "
        "could not be opened: HTTP 404."
    )
    assert "rolled it back" in failed.error
    assert _handshakes(failed) == [("GET", 404)]

    plans = {
        call.params["plan"]: call
        for call in Call.objects.filter(kind="collect", operation="app/runplan")
    }
    assert set(plans) == {"REV", "PRM"}
    assert all("websocket-id" not in call.params for call in plans.values())
    assert (plans["REV"].applied, plans["PRM"].applied) == (True, False)
    rowid = int(debtors[1].remote_id.split(":")[1])
    record = Record.objects.get(kind="collect", collection="debtor", remote_id=rowid)
    assert record.data["de_next_contact"] == ""
