"""A Collect! plan that prompts, run by a worker subprocess, answered (or not) by a person."""

from __future__ import annotations

import pytest

from crmhub.actions.models import Action
from crmhub.actions.services import action_answer, action_enqueue
from crmhub.contacts.models import Contact
from crmhub.sandbox.models import Call, Record
from tests.conftest import wait_for
from tests.integration.harness import sandbox_connection, settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


@pytest.fixture
def debtor(sandbox_spec) -> Contact:  # type: ignore[no-untyped-def]
    connection = sandbox_connection(sandbox_spec("collect", people=6))
    return Contact.objects.filter(connection=connection, record_type="debtor").order_by("pk")[0]


def _plan(debtor: Contact, operator) -> Action:  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation="run_plan",
        connection=debtor.connection,
        contact=debtor,
        params={"plan": "PRM"},
        user=operator,
    )


def _sandbox_debtor(debtor: Contact) -> Record:
    number = int(debtor.remote_id.split(":")[1])
    return Record.objects.get(kind="collect", collection="debtor", remote_id=number)


def test_a_prompt_waits_for_the_person_and_the_plan_runs_once(workers, debtor, operator):
    workers(beat=True)
    action = _plan(debtor, operator)
    waiting = wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.NEEDS_INPUT).first(),
        timeout=20,
        message="the plan's prompt did not reach the action",
    )
    assert waiting.prompt["fields"][0]["name"] == "start_date"
    assert waiting.prompt["message"].startswith("Contact plan PRM")
    action_answer(
        action=waiting,
        values={"start_date": "2030-01-15"},
        user=operator,
        prompt_id=waiting.prompt["prompt_id"],
    )
    (done,) = settle([action.pk])
    assert done.state == Action.State.SUCCEEDED, done.error
    assert _sandbox_debtor(debtor).data["de_next_contact"] == "2030-01-15"
    assert Call.objects.filter(kind="collect", applied=True).count() == 1


def test_an_unanswered_prompt_cancels_the_plan_and_the_action_says_so(workers, debtor, operator):
    workers(env={"CRMHUB_PROMPT_TIMEOUT_SECONDS": "1.5"}, beat=True)
    action = _plan(debtor, operator)
    (done,) = settle([action.pk])
    assert done.state == Action.State.CANCELLED
    assert "rolled its changes back" in done.error
    assert done.prompt["fields"][0]["name"] == "start_date"
    assert _sandbox_debtor(debtor).data["de_next_contact"] == ""
    assert not Call.objects.filter(kind="collect", applied=True).exists()
