"""AllClients transport: every method is a form POST to ``<Method>.aspx`` with the account
id and API key among the fields; answers are XML, or JSON with ``response_type=json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from crmhub.connectors.errors import AuthFailed, ConnectorError
from crmhub.connectors.http import HttpClient

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

    def post(self, method: str, fields: Mapping[str, Any] | None = None) -> bytes:
        """POST ``fields`` to ``<method>.aspx`` and return the body of a 2xx answer.

        Fields whose value is None are left out (the vendor clears a field sent empty).
        """
        form: dict[str, Any] = self._credentials()
        if self.response_type == "json":
            form["response_type"] = "json"
        form.update({name: value for name, value in (fields or {}).items() if value is not None})
        response = self.http.request("POST", f"{method}.aspx", data=form)
        return response.content

    def read(
        self, method: str, parse: Callable[[bytes], T], fields: Mapping[str, Any] | None = None
    ) -> T:
        """POST ``method`` and return ``parse(body)``; a parse error names the method's URL."""
        body = self.post(method, fields)
        try:
            return parse(body)
        except ConnectorError as exc:
            exc.status = exc.status or 200
            exc.url = exc.url or self.http.url_for(f"{method}.aspx")
            raise
