"""The AllClients connector: contacts by GetContacts pages, action sets and contact links."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors.allclients import parsing
from crmhub.connectors.allclients.client import RESPONSE_TYPES, AllClientsClient
from crmhub.connectors.allclients.declaration import CRM
from crmhub.connectors.base import (
    HTTP_NOT_FOUND,
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    not_available,
)
from crmhub.connectors.errors import BadResponse, InvalidParams, NotFound
from crmhub.connectors.http import HttpClient
from crmhub.connectors.http.ahead import PendingResponse

#: The account's time zone when the connection does not say (the vendor's server time).
DEFAULT_TIME_ZONE = "America/Chicago"
#: RunActionSet's ``startdatetime`` is "server time, which is US Central Time" (its
#: document), whatever the account's own zone (spec README, point 2).
SERVER_TIME_ZONE = zoneinfo.ZoneInfo("America/Chicago")
#: The largest page asked of GetContacts. No document states a cap; a server that cut a
#: bigger page short without a word would make it look like the last one, so pages stay
#: at a size any server plausibly serves whole.
MAX_PAGE_SIZE = 500
#: Assumption: operations that no AllClients document describes. Each is a read nothing
#: else depends on; a server that does not have it (HTTP 404 for its ``.aspx``) makes it
#: answer "not available from this CRM" instead of failing.
UNDOCUMENTED = {
    "get_contact_links": "GetContactLinks.aspx, assumed to list a contact's links "
    "(<links><link><id>, <url>, <label>, <adddate>) as AddContactLink creates them",
}


def account_zone(settings: Mapping[str, Any]) -> zoneinfo.ZoneInfo:
    """Return the account's time zone from the connection's ``time_zone`` setting."""
    name = str(settings.get("time_zone") or DEFAULT_TIME_ZONE)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidParams({"time_zone": [f"{name!r} is not a known time zone."]}) from None


def response_type(settings: Mapping[str, Any]) -> str:
    """Return the answer format the connection asks for: ``xml`` (default) or ``json``."""
    value = str(settings.get("response_type") or "xml").strip().lower()
    if value not in RESPONSE_TYPES:
        raise InvalidParams({"response_type": ["Choose xml or json."]})
    return value


class AllClientsConnector(Connector):
    kind = CRM.kind
    operations: ClassVar[Mapping[str, Operation]] = CRM.operations_by_name
    supports_incremental = CRM.supports_incremental
    secret_fields = ("apikey",)

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        super().__init__(spec, http=http)
        self.zone = account_zone(spec.settings)
        self.client = AllClientsClient(
            self.http,
            account_id=str(spec.settings.get("account_id") or ""),
            api_key=spec.secrets.get("api_key", ""),
            response_type=response_type(spec.settings),
        )

    # -- reads -------------------------------------------------------------------------------
    def check_credentials(self) -> None:
        """Call GetCategories (cheap, as the vendor's own plugin does)."""
        self.client.read("GetCategories", parsing.parse_categories)

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        """Yield GetContacts pages (``pagingsize``/``pagingoffset``) until an empty one.

        GetContacts says no total, and a server may serve fewer than asked (a page-size cap
        of its own), so a short page is not taken for the end: the listing ends only once
        the next offset is confirmed empty. AllClients has no "changed since" filter, so
        ``since`` is ignored: a full listing.

        The next page is asked for as soon as this one's length and ids are read, before
        its contacts are (two thirds of the parsing): the server renders one page while
        this reads the other. The same requests as one after the other (none past the
        empty page, none after a paging loop), one at most on its way; a caller leaving
        early waits for that one to end (its answer is dropped).
        """
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        previous: tuple[str, ...] = ()
        number, offset = 0, 0
        pending: PendingResponse | None = self._contacts_ahead(size, offset)
        try:
            while pending is not None:
                answer = pending.result()
                pending = None
                with self.client.answer_of("GetContacts"):
                    records = parsing.contact_records(answer.content)
                    ids = tuple(parsing.contact_id(record) for record in records)
                if ids and ids == previous:
                    raise BadResponse(
                        f"GetContacts answered page {number + 1} with the same contacts as "
                        "the page before (a paging loop); stopped."
                    )
                if records:
                    pending = self._contacts_ahead(size, offset + len(records))
                with self.client.answer_of("GetContacts"):
                    contacts = tuple(parsing.contact(record, self.zone) for record in records)
                if contacts or number == 0:
                    yield ContactPage(contacts=contacts, total=None, number=number)
                previous = ids
                number, offset = number + 1, offset + len(contacts)
        finally:
            if pending is not None:
                pending.wait()

    def _contacts_ahead(self, size: int, offset: int) -> PendingResponse:
        return self.client.post_ahead("GetContacts", {"pagingsize": size, "pagingoffset": offset})

    # -- acts --------------------------------------------------------------------------------
    def perform_run_action_set(self, params: dict[str, Any]) -> OperationResult:
        start_at = params.get("start_at")
        start = (
            parsing.format_start(datetime.fromisoformat(start_at), SERVER_TIME_ZONE)
            if start_at
            else None
        )
        identify_method = params["identify_method"]
        fields = {
            "identifymethod": identify_method,
            "identifyvalue": (
                params["contact_remote_id"] if identify_method == 1 else params["identify_value"]
            ),
            "actionsetid": params.get("action_set_id"),
            "actionsetname": params.get("action_set_name"),
            "teammemberid": params.get("team_member_id"),
            "startdatetime": start,
        }
        answer = self.client.read("RunActionSet", parsing.parse_confirmation, fields)
        summary = f"{answer.message}: {answer.details}" if answer.details else answer.message
        return OperationResult(
            message=summary,
            data={
                "message": answer.message,
                "details": answer.details,
                "contact_remote_id": params["contact_remote_id"],
                "identify_method": identify_method,
                "action_set": params.get("action_set_id") or params.get("action_set_name"),
                "team_member_id": params.get("team_member_id"),
                "startdatetime": start,
            },
        )

    def perform_add_contact_link(self, params: dict[str, Any]) -> OperationResult:
        fields = {
            "contactid": params["contact_remote_id"],
            "url": params["url"],
            "label": params["label"],
        }
        answer = self.client.read("AddContactLink", parsing.parse_confirmation, fields)
        return OperationResult(
            message=f"{answer.message}: link added",
            data={
                "message": answer.message,
                "source_id": answer.source_id,
                "contact_remote_id": params["contact_remote_id"],
                "url": params["url"],
                "label": params["label"],
            },
            remote_id=answer.source_id or None,
        )

    def perform_get_contact(self, params: dict[str, Any]) -> OperationResult:
        contact_id = params["contact_remote_id"]
        contacts = self.client.read(
            "GetContacts",
            lambda body: parsing.parse_contacts(body, self.zone),
            {"contactid": contact_id, "pagingsize": 1, "pagingoffset": 0},
        )
        if not contacts:
            raise NotFound(f"Contact {contact_id} was not found in AllClients.")
        found = contacts[0]
        return OperationResult(
            message=found.full_name or f"Contact {contact_id}",
            data={
                "contact": dict(found.raw),
                "updated_at": found.updated_at.isoformat() if found.updated_at else None,
            },
            remote_id=found.remote_id,
        )

    def perform_get_contact_links(self, params: dict[str, Any]) -> OperationResult:
        try:
            links = self.client.read(
                "GetContactLinks",
                lambda body: parsing.parse_links(body, self.zone),
                {"contactid": params["contact_remote_id"]},
            )
        except NotFound as exc:
            if exc.status != HTTP_NOT_FOUND:  # a vendor <error> (e.g. no such contact)
                raise
            return not_available("Contact links")  # an UNDOCUMENTED operation
        return OperationResult(
            message=f"{len(links)} link(s)",
            data={
                "links": [
                    {
                        "id": link.link_id,
                        "url": link.url,
                        "label": link.label,
                        "added_at": link.added_at.isoformat() if link.added_at else None,
                    }
                    for link in links
                ]
            },
        )

    def perform_get_categories(self, params: dict[str, Any]) -> OperationResult:
        categories = self.client.read("GetCategories", parsing.parse_categories)
        return OperationResult(
            message=f"{len(categories)} categories",
            data={"categories": [{"id": c.category_id, "name": c.name} for c in categories]},
        )
