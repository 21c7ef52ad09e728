"""An in-memory connector for service and task tests (registered as kind "fake").

Not a substitute for the sandbox: integration tests use the real connectors over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors import errors
from crmhub.connectors.base import (
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    RemoteContact,
)


def check_contact(params: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The fake's declared checker: a contact is required, anything else goes."""
    if not params.get("contact_remote_id"):
        raise errors.InvalidParams({"contact_remote_id": ["This field is required."]})
    return params


class FakeConnector(Connector):
    kind = "fake"
    operations: ClassVar[Mapping[str, Operation]] = {
        "touch": Operation("touch", "Touch a contact", safe=False, check=check_contact),
        "read": Operation("read", "Read a contact", safe=True, check=check_contact),
    }
    supports_incremental = True

    #: Class-level state, reset by the ``fake_crm`` fixture.
    contacts: ClassVar[list[RemoteContact]] = []
    performed: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    script: ClassVar[list[errors.ConnectorError | None]] = []  # failures to raise, in order
    page_error_at: ClassVar[int | None] = None  # raise Unavailable when this page is reached

    def check_credentials(self) -> None:
        if self.spec.secrets.get("api_key") == "wrong":
            raise errors.AuthFailed("Authentication failed")

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        rows = [
            c
            for c in self.contacts
            if since is None or (c.updated_at is not None and c.updated_at >= since)
        ]
        for number, start in enumerate(range(0, max(len(rows), 1), page_size)):
            if self.page_error_at is not None and number == self.page_error_at:
                raise errors.Unavailable("injected page failure", request_sent=True)
            yield ContactPage(
                tuple(rows[start : start + page_size]), total=len(rows), number=number
            )

    def perform_touch(self, params: dict[str, Any]) -> OperationResult:
        return self._scripted("touch", params)

    def perform_read(self, params: dict[str, Any]) -> OperationResult:
        return self._scripted("read", params)

    def _scripted(self, operation: str, params: dict[str, Any]) -> OperationResult:
        if self.script:
            failure = self.script.pop(0)
            if failure is not None:
                raise failure
        self.performed.append((operation, params))
        return OperationResult(message="Success", data={"operation": operation})
