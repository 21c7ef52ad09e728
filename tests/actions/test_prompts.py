"""Collect! prompts relayed through the Action row, and the redacted calls of an attempt."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, ClassVar

import pytest
from django.db import connections

from crmhub.actions import executor
from crmhub.actions.models import Action
from crmhub.actions.services import action_answer, action_enqueue
from crmhub.connectors import errors
from crmhub.connectors.base import OperationResult, Prompt
from tests.actions.conftest import FakeAllClients
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class PromptingFake(FakeAllClients):
    answers: ClassVar[list[Any]] = []

    def perform_touch(self, params):  # type: ignore[no-untyped-def]
        assert self.on_prompt is not None
        values = self.on_prompt(Prompt("p1", "Start date?", ({"name": "start", "label": "Start"},)))
        self.answers.append(values)
        if values is None:
            raise errors.NeedsInput("The plan was cancelled: no answer to its prompt.")
        return OperationResult(message="Plan run", data={"start": values["start"]})


@pytest.fixture
def prompting(fake_crm):  # type: ignore[no-untyped-def]
    from crmhub.connectors import registry

    PromptingFake.answers = []
    registry.register("allclients", PromptingFake)
    return PromptingFake


def _in_thread(action_id: int) -> threading.Thread:
    def work() -> None:
        try:
            executor.action_execute(action_id=action_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def _enqueue(connection, contact):  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation="touch", connection=connection, contact=contact, params={}, user=None
    )


def test_a_prompt_waits_for_the_answer_and_the_plan_goes_on(
    connection, contact, operator, prompting, published
):
    action = _enqueue(connection, contact)
    thread = _in_thread(action.pk)
    waiting = wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.NEEDS_INPUT).first(),
        timeout=10,
    )
    assert waiting.prompt["message"] == "Start date?"
    assert waiting.prompt["fields"] == [{"name": "start", "label": "Start"}]
    action_answer(action=waiting, values={"start": "3/1/2026"}, user=operator, prompt_id="p1")
    thread.join(timeout=10)
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.SUCCEEDED
    assert done.result["data"] == {"start": "3/1/2026"}
    assert prompting.answers == [{"start": "3/1/2026"}]


def test_an_unanswered_prompt_cancels_the_plan_and_says_so(
    connection, contact, prompting, published, settings
):
    settings.CRMHUB_PROMPT_TIMEOUT_SECONDS = 0.6
    action = _enqueue(connection, contact)
    thread = _in_thread(action.pk)
    thread.join(timeout=10)
    done = Action.objects.get(pk=action.pk)
    assert prompting.answers == [None]
    assert done.state == Action.State.CANCELLED
    assert "Nobody answered" in done.error
    assert done.prompt["prompt_id"] == "p1"


class CallingFake(FakeAllClients):
    def perform_touch(self, params):  # type: ignore[no-untyped-def]
        self.http.request("GET", "login/", params={"apikey": self.spec.secrets["api_key"]})
        return OperationResult(message="Success")


def test_the_attempt_keeps_the_calls_with_secrets_masked(
    connection, contact, fake_crm, web_server, published
):
    from crmhub.connectors import registry

    registry.register("allclients", CallingFake)
    connection.base_url = f"{web_server.url}/"
    connection.allow_private_network = True
    connection.save()
    action = _enqueue(connection, contact)
    executor.action_execute(action_id=action.pk)
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.SUCCEEDED
    calls = done.attempt_set.get().calls
    assert len(calls) == 1
    assert calls[0]["status"] == 200
    assert "/login/" in calls[0]["url"]
    dump = json.dumps(list(Action.objects.values()), default=str) + json.dumps(calls)
    assert "sekrit-api-key-123" not in dump


def test_a_prompt_waits_no_longer_than_the_tasks_time_budget_allows(
    connection, contact, prompting, published, settings
):
    """The plan must finish (CRMHUB_PLAN_IDLE_SECONDS) before the soft time limit: here that
    leaves 6 s of the 120 a prompt may otherwise wait."""
    settings.CRMHUB_PROMPT_TIMEOUT_SECONDS = 120
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 16
    settings.CRMHUB_PLAN_IDLE_SECONDS = 10
    action = _enqueue(connection, contact)
    started = time.monotonic()
    thread = _in_thread(action.pk)
    wait_for(
        lambda: Action.objects.filter(pk=action.pk, state=Action.State.NEEDS_INPUT).exists(),
        timeout=10,
    )
    thread.join(timeout=30)
    assert 5 < time.monotonic() - started < 12
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.CANCELLED
    assert prompting.answers == [None]


def test_with_no_time_left_the_prompt_is_not_shown_and_the_action_says_why(
    connection, contact, prompting, published, settings
):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 12
    settings.CRMHUB_PLAN_IDLE_SECONDS = 10
    action = _enqueue(connection, contact)
    started = time.monotonic()
    _in_thread(action.pk).join(timeout=10)
    assert time.monotonic() - started < 3
    done = Action.objects.get(pk=action.pk)
    assert done.state == Action.State.CANCELLED
    assert done.prompt is None  # never shown: nobody could have answered in time
    assert done.error.endswith(executor.OUT_OF_TIME)
