"""The contract every connector keeps, tested against its simulated CRM over real HTTP.

A CRM's test class inherits ``ConnectorContract``, sets ``kind`` and ``people`` (how many
people are seeded), and names one operation that changes remote state (``a_change``) and
one that only reads (``a_read``), each with parameters valid against the seeded sandbox.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmhub.connectors import errors
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class ConnectorContract:
    kind: str = ""
    people: int = 23

    def expected_listing(self) -> int:
        """How many records a full listing returns for ``people`` seeded people."""
        return self.people

    def a_change(self) -> tuple[str, dict[str, Any]]:
        """Return an unsafe operation and its parameters."""
        raise NotImplementedError

    def a_read(self) -> tuple[str, dict[str, Any]]:
        """Return a safe operation and its parameters."""
        raise NotImplementedError

    @pytest.fixture
    def spec(self, sandbox_spec):  # type: ignore[no-untyped-def]
        return sandbox_spec(self.kind, people=self.people)

    @pytest.fixture
    def connector(self, spec):  # type: ignore[no-untyped-def]
        connector = get_connector(spec)
        yield connector
        connector.close()

    @pytest.fixture
    def bad_connector(self, spec, sandbox_spec):  # type: ignore[no-untyped-def]
        connector = get_connector(sandbox_spec(self.kind, wrong_secrets=True, reseed=False))
        yield connector
        connector.close()

    def test_check_credentials_accepts_the_right_ones(self, connector):  # type: ignore[no-untyped-def]
        connector.check_credentials()
        calls = connector.drain_calls()
        assert calls, "every remote call is recorded"
        assert all(call.status == 200 for call in calls)

    def test_check_credentials_refuses_wrong_ones(self, bad_connector):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.AuthFailed):
            bad_connector.check_credentials()

    def test_listing_reaches_the_end_without_duplicates(self, connector):  # type: ignore[no-untyped-def]
        pages = list(connector.iter_contact_pages(page_size=7))
        ids = [(c.record_type, c.remote_id) for page in pages for c in page.contacts]
        assert len(ids) == self.expected_listing()
        assert len(set(ids)) == len(ids)
        assert len(pages) >= 2

    def test_recorded_calls_carry_no_secret(self, connector, spec):  # type: ignore[no-untyped-def]
        connector.check_credentials()
        list(connector.iter_contact_pages(page_size=50))
        dump = json.dumps([call.as_dict() for call in connector.drain_calls()])
        for secret in spec.secrets.values():
            assert secret not in dump

    def test_server_error_is_typed_and_retryable(self, connector):  # type: ignore[no-untyped-def]
        faults.configure(self.kind, fail_next=1, error_status=500)
        with pytest.raises(errors.Unavailable) as caught:
            connector.check_credentials()
        assert caught.value.retryable
        assert caught.value.status == 500

    def test_rate_limit_carries_retry_after(self, connector):  # type: ignore[no-untyped-def]
        faults.configure(self.kind, rate_limit_rate=1.0, retry_after=7)
        with pytest.raises(errors.RateLimited) as caught:
            connector.check_credentials()
        assert caught.value.retry_after == 7
        assert caught.value.request_sent is False

    def test_malformed_body_is_a_bad_response(self, connector):  # type: ignore[no-untyped-def]
        faults.configure(self.kind, malformed_rate=1.0)
        with pytest.raises(errors.BadResponse):
            list(connector.iter_contact_pages(page_size=50))

    def test_unknown_operation_is_invalid_params(self, connector):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.InvalidParams):
            connector.validate("no_such_operation", {})

    def test_every_operation_is_declared_with_its_safety(self, connector):  # type: ignore[no-untyped-def]
        assert connector.operations
        for name, operation in connector.operations.items():
            assert operation.name == name
            assert isinstance(operation.safe, bool)

    def test_every_operation_is_performed_by_its_own_method(self, connector):  # type: ignore[no-untyped-def]
        for name in connector.operations:
            assert callable(getattr(connector, f"perform_{name}", None)), name

    def test_the_named_change_and_read_are_what_they_say(self, connector):  # type: ignore[no-untyped-def]
        assert not connector.operations[self.a_change()[0]].safe
        assert connector.operations[self.a_read()[0]].safe

    # -- the rule every CRM shares: a change whose answer is lost or unreadable is unknown --
    def test_an_unreadable_answer_to_a_change_is_an_unknown_outcome(self, connector):  # type: ignore[no-untyped-def]
        connector.check_credentials()  # a login or configuration read, kept for what follows
        faults.configure(self.kind, malformed_rate=1.0)
        with pytest.raises(errors.UnknownOutcome) as changed:
            connector.run(*self.a_change())
        assert isinstance(changed.value.__cause__, errors.BadResponse)
        assert not changed.value.retryable
        with pytest.raises(errors.BadResponse):  # a read's failure stays what it is
            connector.run(*self.a_read())

    def test_a_server_error_after_a_change_is_an_unknown_outcome(self, connector):  # type: ignore[no-untyped-def]
        connector.check_credentials()
        connector.drain_calls()
        faults.configure(self.kind, fail_next=1, error_status=502)
        with pytest.raises(errors.UnknownOutcome) as changed:
            connector.run(*self.a_change())
        assert changed.value.status == 502
        # The record keeps the call as it happened: the server's failure, not the verdict.
        recorded = [call for call in connector.drain_calls() if call.status == 502]
        assert len(recorded) == 1
        assert recorded[0].error is not None and "may or may not" not in recorded[0].error
        faults.configure(self.kind, fail_next=1, error_status=502)
        with pytest.raises(errors.Unavailable) as read:
            connector.run(*self.a_read())
        assert read.value.retryable

    def test_a_change_refused_before_it_was_carried_out_is_not_unknown(self, connector):  # type: ignore[no-untyped-def]
        connector.check_credentials()
        faults.configure(self.kind, rate_limit_rate=1.0, retry_after=5)
        with pytest.raises(errors.RateLimited) as caught:
            connector.run(*self.a_change())
        assert caught.value.request_sent is False
