"""A Collect! yes/no prompt: "No" ends the action as cancelled by that person, not failed."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest
from django.db import connections

from crmhub.actions import executor
from crmhub.actions.answers import says_no, yes_no_field
from crmhub.actions.models import Action
from crmhub.actions.services import ActionStateError, action_answer, action_enqueue
from crmhub.connectors import errors
from crmhub.connectors.base import OperationResult, Prompt
from tests.actions.conftest import FakeAllClients
from tests.conftest import wait_for

DELETE_IT = {
    "prompt_id": "p1",
    "message": "Delete debtor 77?",
    "fields": [{"name": "confirm", "label": "Delete", "type": "boolean", "required": False}],
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([{"name": "confirm", "type": "boolean"}], "confirm"),
        ([{"name": "go", "type": "bool"}], "go"),
        ([{"name": "ok", "type": "CONFIRM"}], "ok"),
        ([], "confirm"),  # a prompt naming no field asks "continue?"
        ([{"name": "start", "type": "date"}], None),
        ([{"name": "confirm", "type": "boolean"}, {"name": "note"}], None),
        ([{"name": "answer", "type": "boolean", "choices": ["maybe", "no"]}], None),
        (["plain"], None),
    ],
)
def test_which_prompts_are_yes_or_no(fields: list[Any], expected: str | None) -> None:
    assert yes_no_field({"fields": fields}) == expected


def test_only_a_false_answer_to_a_yes_no_prompt_says_no() -> None:
    assert says_no(DELETE_IT, {"confirm": False})
    assert not says_no(DELETE_IT, {"confirm": True})
    assert not says_no(DELETE_IT, {})
    assert not says_no({"fields": [{"name": "start", "type": "date"}]}, {"start": False})


def _waiting(connection, contact, prompt=DELETE_IT) -> Action:  # type: ignore[no-untyped-def]
    action = action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=None
    )
    Action.objects.filter(pk=action.pk).update(state=Action.State.NEEDS_INPUT, prompt=prompt)
    action.refresh_from_db()
    return action


@pytest.mark.django_db
def test_no_cancels_the_action_in_the_name_of_who_answered(
    connection, contact, operator, published
):
    action = _waiting(connection, contact)
    answered = action_answer(action=action, values={"confirm": False}, user=operator)
    assert answered.state == Action.State.CANCELLED
    assert answered.error.startswith("Cancelled by operator, who answered “No” to “Delete debtor")
    assert answered.prompt["declined_by"] == "operator"
    assert answered.answer is None  # nothing is handed to the plan: it is stopped
    assert answered.finished_at is not None
    with pytest.raises(ActionStateError):
        action_answer(action=answered, values={"confirm": True}, user=operator)


@pytest.mark.django_db
def test_yes_is_an_answer_like_any_other(connection, contact, operator, published):
    action = _waiting(connection, contact)
    answered = action_answer(action=action, values={"confirm": True}, user=operator)
    assert (answered.state, answered.answer) == (Action.State.NEEDS_INPUT, {"confirm": True})


@pytest.mark.django_db
def test_no_to_a_prompt_that_moved_on_changes_nothing(connection, contact, operator, published):
    action = _waiting(connection, contact)
    with pytest.raises(ActionStateError):
        action_answer(action=action, values={"confirm": False}, user=operator, prompt_id="old")
    assert Action.objects.get(pk=action.pk).state == Action.State.NEEDS_INPUT


@pytest.mark.django_db
@pytest.mark.parametrize("prompt_id", ["\x00", "p1\x00"])
def test_an_answer_naming_an_impossible_prompt_is_told_so(
    connection, contact, operator, published, prompt_id
):
    action = _waiting(connection, contact)
    for values in ({"confirm": True}, {"confirm": False}):
        with pytest.raises(ActionStateError, match="not waiting for an answer"):
            action_answer(action=action, values=values, user=operator, prompt_id=prompt_id)
    assert Action.objects.get(pk=action.pk).state == Action.State.NEEDS_INPUT


class AskingFake(FakeAllClients):
    """A plan that asks "Delete it?" and gives up when no answer comes back."""

    answers: ClassVar[list[Any]] = []

    def perform_touch(self, params):  # type: ignore[no-untyped-def]
        assert self.on_prompt is not None
        values = self.on_prompt(Prompt("p1", "Delete debtor 77?", tuple(DELETE_IT["fields"])))
        self.answers.append(values)
        if values is None:
            raise errors.NeedsInput("The plan was stopped and rolled back.")
        return OperationResult(message="Deleted")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_running_plan_answered_no_ends_cancelled_by_that_person(
    connection, contact, operator, fake_crm, published
):
    from crmhub.connectors import registry

    AskingFake.answers = []
    registry.register("allclients", AskingFake)
    action = action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=operator
    )

    def work() -> None:
        try:
            executor.action_execute(action_id=action.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    waiting = wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.NEEDS_INPUT).first(),
        timeout=10,
    )
    action_answer(action=waiting, values={"confirm": False}, user=operator, prompt_id="p1")
    thread.join(timeout=10)
    assert not thread.is_alive()
    done = Action.objects.get(pk=action.pk)
    assert AskingFake.answers == [None]  # the plan got no answer: it was stopped
    assert done.state == Action.State.CANCELLED  # not failed, and not overwritten
    assert done.error.startswith("Cancelled by operator")
