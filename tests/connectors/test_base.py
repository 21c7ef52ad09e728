"""The rules ``Connector.run`` holds for every CRM, on a small connector over real HTTP.

``TinyConnector`` has one unsafe operation (``change``), one safe one (``read``) and one
unsafe operation that logs in first (``change_after_login``); each answers whatever the
throwaway server in ``hostile.py`` is told to answer.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import Any, ClassVar

import pytest

from crmhub.connectors import errors
from crmhub.connectors.base import (
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    Prompt,
)
from tests.connectors.hostile import answer, hostile_server


def _as_given(params: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    return params


def _operation(name: str, label: str, *, safe: bool) -> Operation:
    return Operation(name, label, safe=safe, needs_contact=False, check=_as_given)


class TinyConnector(Connector):
    kind = "tiny"
    operations: ClassVar[Mapping[str, Operation]] = {
        "change": _operation("change", "Change something", safe=False),
        "change_after_login": _operation("change_after_login", "Log in, then change", safe=False),
        "read": _operation("read", "Read something", safe=True),
        "ask": _operation("ask", "Ask staff a question", safe=False),
    }

    def check_credentials(self) -> None:
        self.perform_read({})

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        yield ContactPage(contacts=())

    def perform_change(self, params: dict[str, Any]) -> OperationResult:
        done = _done(self.http.request("POST", "change", json_body=params).json())
        return OperationResult(message="Changed", data={"answer": done})

    def perform_change_after_login(self, params: dict[str, Any]) -> OperationResult:
        with errors.changes_nothing():
            self.http.request("POST", "login").json()
        return self.perform_change(params)

    def perform_read(self, params: dict[str, Any]) -> OperationResult:
        done = _done(self.http.request("GET", "read").json())
        return OperationResult(message="Read", data={"answer": done})

    def perform_ask(self, params: dict[str, Any]) -> OperationResult:
        assert self.on_prompt is not None
        values = self.on_prompt(Prompt("p1", "Sure?"))
        return OperationResult(message="Asked", data=dict(values or {}))


def _done(data: Any) -> bool:
    """Return the ``done`` of an answer; raise ``BadResponse`` for any other shape."""
    if not isinstance(data, dict) or not isinstance(data.get("done"), bool):
        raise errors.BadResponse(f"The answer has no 'done' (got {data!r}).")
    return data["done"]


@pytest.fixture
def remote() -> Iterator[Callable[..., TinyConnector]]:
    """Give a function that serves one canned answer and returns a connector to it."""
    with ExitStack() as stack:

        def serve(status: int = 200, body: bytes = b'{"done": true}') -> TinyConnector:
            handler = answer(status, body, {"Content-Type": "application/json"})
            url, _ = stack.enter_context(hostile_server(handler))
            spec = ConnectionSpec(
                kind="tiny", base_url=url, allow_private_network=True, timeout=(1.0, 1.0)
            )
            connector = TinyConnector(spec)
            stack.callback(connector.close)
            return connector

        yield serve


def test_a_readable_answer_is_the_result(remote):  # type: ignore[no-untyped-def]
    connector = remote()
    assert connector.run("change", {"x": 1}).data == {"answer": True}
    assert connector.run("read", {}).data == {"answer": True}


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Service temporarily down</html>",  # not JSON at all
        b'{"done": tr',  # cut off
        b'{"other": 1}',  # JSON of another shape
    ],
)
def test_an_unreadable_answer_to_a_change_is_an_unknown_outcome_and_to_a_read_bad(remote, body):  # type: ignore[no-untyped-def]
    connector = remote(200, body)
    with pytest.raises(errors.UnknownOutcome) as changed:
        connector.run("change", {})
    assert isinstance(changed.value.__cause__, errors.BadResponse)
    assert str(changed.value.__cause__) in str(changed.value)
    assert "may or may not have been made" in str(changed.value)
    assert not changed.value.retryable
    with pytest.raises(errors.BadResponse) as read:
        connector.run("read", {})
    assert not isinstance(read.value, errors.UnknownOutcome)


@pytest.mark.parametrize(
    ("status", "for_a_read"),
    [(500, errors.Unavailable), (502, errors.Unavailable), (302, errors.BadResponse)],
)
def test_a_failure_after_a_change_reached_the_server_is_an_unknown_outcome(
    remote, status, for_a_read
):  # type: ignore[no-untyped-def]
    connector = remote(status, b"upstream trouble")
    with pytest.raises(errors.UnknownOutcome) as changed:
        connector.run("change", {})
    assert changed.value.status == status
    assert isinstance(changed.value.__cause__, for_a_read)
    with pytest.raises(for_a_read) as read:
        connector.run("read", {})
    assert not isinstance(read.value, errors.UnknownOutcome)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, errors.AuthFailed),
        (404, errors.NotFound),
        (422, errors.Rejected),
        (429, errors.RateLimited),
    ],
)
def test_a_definite_answer_to_a_change_stays_what_it_is(remote, status, error):  # type: ignore[no-untyped-def]
    connector = remote(status, b"no")
    with pytest.raises(error) as caught:
        connector.run("change", {})
    assert not isinstance(caught.value, errors.UnknownOutcome)


def test_a_change_that_never_left_stays_what_it_is():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = ConnectionSpec(
        kind="tiny", base_url=f"http://127.0.0.1:{port}/", allow_private_network=True
    )
    connector = TinyConnector(spec)
    with pytest.raises(errors.Unavailable) as caught:
        connector.run("change", {})
    assert caught.value.request_sent is False and caught.value.retryable
    connector.close()


def test_invalid_params_are_refused_before_anything_is_sent(remote):  # type: ignore[no-untyped-def]
    connector = remote()
    with pytest.raises(errors.InvalidParams):
        connector.run("no_such_operation", {})
    assert connector.drain_calls() == []


def test_a_failed_step_that_changes_nothing_is_not_an_unknown_outcome(remote):  # type: ignore[no-untyped-def]
    connector = remote(200, b"not json")  # the login's answer is unreadable
    with pytest.raises(errors.BadResponse) as caught:
        connector.run("change_after_login", {})
    assert caught.value.changed_nothing
    assert [call.url.rsplit("/", 1)[1] for call in connector.drain_calls()] == ["login"]


def test_the_recorded_calls_are_the_same_whatever_the_verdict(remote):  # type: ignore[no-untyped-def]
    connector = remote(502, b"upstream trouble")
    with pytest.raises(errors.UnknownOutcome):
        connector.run("change", {"x": 1})
    with pytest.raises(errors.Unavailable):
        connector.perform("change", {"x": 1})  # the same call, without the rule
    first, second = connector.drain_calls()
    assert first.error == second.error == "The server failed (502)."
    assert (first.method, first.url, first.request, first.status, first.response) == (
        second.method,
        second.url,
        second.request,
        second.status,
        second.response,
    )


def test_the_prompt_handler_is_there_only_while_the_operation_runs(remote):  # type: ignore[no-untyped-def]
    connector = remote()
    asked: list[Prompt] = []

    def handler(prompt: Prompt) -> dict[str, Any]:
        asked.append(prompt)
        return {"sure": True}

    assert connector.run("ask", {}, on_prompt=handler).data == {"sure": True}
    assert [prompt.prompt_id for prompt in asked] == ["p1"]
    assert connector.on_prompt is None


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (errors.BadResponse("Not JSON.", status=200), True),
        (errors.BadResponse("Redirect.", status=302), True),
        (errors.UnsafeXML("DOCTYPE."), True),
        (errors.Unavailable("Read timed out.", request_sent=True), True),
        (errors.Unavailable("Refused.", request_sent=False), False),
        (errors.UnknownOutcome("Lost."), True),
        (errors.RateLimited("Slow down.", retry_after=1), False),
        (errors.Rejected("No such contact."), False),
        (errors.AuthFailed("Bad key."), False),
        (errors.InvalidParams({"x": ["Required."]}), False),
        (errors.NeedsInput("Nobody answered."), False),
        (errors.BlockedAddress("Private."), False),
    ],
)
def test_outcome_unknown(error, unknown):  # type: ignore[no-untyped-def]
    assert errors.outcome_unknown(error) is unknown


def test_a_step_that_changes_nothing_marks_its_failure():
    with pytest.raises(errors.Unavailable) as caught, errors.changes_nothing():
        raise errors.Unavailable("Login timed out.", request_sent=True)
    assert caught.value.changed_nothing
    assert not errors.outcome_unknown(caught.value)
