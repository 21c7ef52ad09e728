"""A plain ``requests`` client of the simulated AllClients, for its own tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from crmhub.connectors import xml
from crmhub.sandbox.allclients import store
from crmhub.sandbox.models import Call, Record
from crmhub.sandbox.services import sandbox_account, sandbox_seed

FIRST = store.CONTACT_ID_BASE


class Api:
    """Post forms to the simulated AllClients with the account's (or other) credentials."""

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.base_url = base_url
        self.credentials = {
            "accountid": credentials["account_id"],
            "apikey": credentials["api_key"],
        }

    def post(
        self, method: str, *, auth: dict[str, str] | None = None, **fields: object
    ) -> requests.Response:
        form = {**(self.credentials if auth is None else auth), **fields}
        return requests.post(f"{self.base_url}{method}.aspx", data=form, timeout=10)

    def xml(self, method: str, **fields: object) -> Any:
        response = self.post(method, **fields)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/xml")
        return xml.parse(response.content)

    def json(self, method: str, **fields: object) -> dict:
        response = self.post(method, response_type="json", **fields)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def error(self, method: str, **fields: object) -> str:
        root = self.xml(method, **fields)
        assert [child.tag for child in root] == ["error"]
        return root.findtext("error")


def seeded_api(server_url: str, *, people: int = 12) -> Api:
    """Seed the simulated AllClients with ``people`` and return a client of it."""
    sandbox_seed(people=people, kinds=("allclients",), reset=True)
    account = sandbox_account(kind="allclients")
    return Api(f"{server_url}/sandbox/allclients/api/2/", account.credentials)


def calls(operation: str) -> list[Call]:
    return list(Call.objects.filter(kind="allclients", operation=operation).order_by("id"))


def add_contact(remote_id: int, **data: str) -> Record:
    data.setdefault("adddate", "2020-01-01T12:00:00Z")
    return Record.objects.create(
        kind="allclients",
        collection="contact",
        remote_id=remote_id,
        data=data,
        updated_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
