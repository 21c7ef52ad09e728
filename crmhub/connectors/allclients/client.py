"""AllClients transport: every method is a form POST to ``<Method>.aspx`` with the account
id and API key among the fields; answers are XML, or JSON with ``response_type=json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from crmhub.connectors.errors import AuthFailed, ConnectorError
from crmhub.connectors.http import HttpClient
from crmhub.connectors.http.ahead import PendingResponse

RESPONSE_TYPES = ("xml", "json")
T = TypeVar("T")


class AllClientsClient:
    """Send AllClients methods for one account and return their raw answers."""

    def __init__(
        self, http: HttpClient, *, account_id: str, api_key: str, response_type: str = "xml"
    ) -> None:
        self.http = http
        self.account_id = account_id.strip()
        self.api_key = api_key
        self.response_type = response_type

    def _credentials(self) -> dict[str, str]:
        if not self.account_id.isdigit() or not self.api_key:
            raise AuthFailed(
                "The connection needs a numeric account id and an API key.", request_sent=False
            )
        return {"accountid": self.account_id, "apikey": self.api_key}

    def _form(self, fields: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the form of a call: the credentials, the format, and ``fields`` without
        those whose value is None (the vendor clears a field sent empty)."""
        form: dict[str, Any] = self._credentials()
        if self.response_type == "json":
            form["response_type"] = "json"
        form.update({name: value for name, value in (fields or {}).items() if value is not None})
        return form

    def post(self, method: str, fields: Mapping[str, Any] | None = None) -> bytes:
        """POST ``fields`` to ``<method>.aspx`` and return the body of a 2xx answer."""
        response = self.http.request("POST", f"{method}.aspx", data=self._form(fields))
        return response.content

    def post_ahead(self, method: str, fields: Mapping[str, Any] | None = None) -> PendingResponse:
        """POST ``fields`` to ``<method>.aspx`` from a thread of its own; return at once
        (``result().content`` is the body ``post`` would return)."""
        return self.http.request_ahead("POST", f"{method}.aspx", data=self._form(fields))

    @contextmanager
    def answer_of(self, method: str) -> Iterator[None]:
        """Name ``method``'s URL on a connector error raised in the block (reading its
        answer), with status 200 unless it has one."""
        try:
            yield
        except ConnectorError as exc:
            exc.status = exc.status or 200
            exc.url = exc.url or self.http.url_for(f"{method}.aspx")
            raise

    def read(
        self, method: str, parse: Callable[[bytes], T], fields: Mapping[str, Any] | None = None
    ) -> T:
        """POST ``method`` and return ``parse(body)``; a parse error names the method's URL."""
        body = self.post(method, fields)
        with self.answer_of(method):
            return parse(body)
