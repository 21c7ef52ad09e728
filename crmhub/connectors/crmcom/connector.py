"""The CRM.COM connector: contacts by contact_information/list, communications, the queue."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors.base import (
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
)
from crmhub.connectors.crmcom import parsing, rules
from crmhub.connectors.crmcom.client import CrmComClient
from crmhub.connectors.crmcom.declaration import CRM
from crmhub.connectors.crmcom.params import MAX_RESULTS
from crmhub.connectors.crmcom.rules import release_of
from crmhub.connectors.errors import BadResponse
from crmhub.connectors.http import HttpClient

#: Assumption: operations that no CRM.COM document describes. Unlike the other CRMs' such
#: reads, the index (and the credentials check) depends on this one: on a server without it
#: they fail with its 404, and the index would have to be built another way (spec README,
#: point 5).
UNDOCUMENTED = {
    "contact_information/list": "the contacts listed with number_of_results/offset, "
    "the R13 paging of the documented list methods",
}
#: crmhub's parameter names that the vendor spells differently.
VENDOR_NAMES = {
    "contact_remote_id": "contact_information_identifier",
    "template": "template_identifier",
    "category": "category_identifier",
    "communication_queue_external_system": "communication_queue_external_system_identifier",
    "owned_by_group": "owned_by_group_identifier",
    "privacy_level": "privacy_level_identifier",
    "communication": "communication_identifier",
    "queue_entry": "communication_queue_identifier",
}


@dataclass(frozen=True)
class Call:
    """How an operation is sent and what its answer holds."""

    method: str
    path: str
    answer: str  # communication | communications | queue_entry | queue_entries | contact
    message: str


CALLS = {
    "communication_create": Call("POST", "communications/create", "communication", "created"),
    "communication_update": Call("POST", "communications/update", "communication", "updated"),
    "communication_complete": Call("POST", "communications/complete", "communication", "completed"),
    "communication_set_as_viewed": Call(
        "POST", "communications/set_as_viewed", "communication", "set as viewed"
    ),
    "queue_process": Call("POST", "communications/queue/process", "queue_entry", "processed"),
    "queue_reject": Call("POST", "communications/queue/reject", "queue_entry", "rejected"),
    "queue_remove": Call(
        "POST", "communications/queue/remove", "queue_entry", "completed and removed"
    ),
    "communications_list": Call("GET", "communications/list", "communications", "found"),
    "communication_show": Call("GET", "communications/show", "communication", "shown"),
    "queue_list": Call("GET", "communications/queue/list", "queue_entries", "found"),
    "queue_get_latest": Call("GET", "communications/queue/get_latest", "queue_entries", "found"),
    "queue_get_pending_completed": Call(
        "GET", "communications/queue/get_pending_completed", "queue_entries", "found"
    ),
    "queue_show": Call("GET", "communications/queue/show", "queue_entry", "shown"),
    "contact_show": Call("GET", "contact_information/show", "contact", "shown"),
}


def vendor_params(params: Mapping[str, Any], *, query: bool) -> dict[str, Any]:
    """Return cleaned parameters under the vendor's names and shapes.

    In a query string an identifier is written ``field=value``; in a JSON body it is an
    object.
    """
    sent: dict[str, Any] = {}
    for name, value in params.items():
        if name == "contact_remote_id":
            value = {"id": value}
        elif name == "referring_to" and value is not None:
            value = {f"{entity}_identifier": ident for entity, ident in value.items()}
        if query and isinstance(value, Mapping):
            field, given = next(iter(value.items()))
            value = f"{field}={given}"
        sent[VENDOR_NAMES.get(name, name)] = value
    return sent


class CrmComConnector(Connector):
    kind = CRM.kind
    operations: ClassVar[Mapping[str, Operation]] = CRM.operations_by_name
    supports_incremental = CRM.supports_incremental
    secret_fields = ("password", "token")

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        super().__init__(spec, http=http)
        self.release = release_of(spec.settings)
        self.client = CrmComClient(
            self.http,
            username=str(spec.settings.get("username") or ""),
            password=spec.secrets.get("password", ""),
            organisation=str(spec.settings.get("organisation") or ""),
            unit=str(spec.settings.get("unit") or ""),
        )

    # -- reads -------------------------------------------------------------------------------
    def check_credentials(self) -> None:
        """Log in afresh, then read one contact with the new token."""
        self.client.login()
        self.client.get("contact_information/list", {"number_of_results": 1, "offset": 0})

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        """Page through contact_information/list by offset (assumed method, R13 paging)
        until an offset answers empty.

        The list says no total and a server may serve fewer than asked, so a short page is
        not taken for the end: the listing ends once the next offset is confirmed empty.
        """
        size = max(1, min(page_size, MAX_RESULTS))
        offset, number = 0, 0
        previous: list[dict[str, Any]] | None = None
        while True:
            data = self.client.get(
                "contact_information/list", {"number_of_results": size, "offset": offset}
            )
            items = parsing.records(data)
            if items and items == previous:
                raise BadResponse(
                    f"CRM.COM answered the same contacts again at offset {offset}: "
                    "its paging is not moving forward."
                )
            if items or number == 0:
                yield ContactPage(parsing.parse_contacts(items), total=None, number=number)
            if not items:
                return
            previous, offset, number = items, offset + len(items), number + 1

    # -- acts --------------------------------------------------------------------------------
    def perform_communication_create(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communication_create", params)

    def perform_communication_update(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communication_update", params)

    def perform_communication_complete(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communication_complete", params)

    def perform_communication_set_as_viewed(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communication_set_as_viewed", params)

    def perform_queue_process(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_process", params)

    def perform_queue_reject(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_reject", params)

    def perform_queue_remove(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_remove", params)

    def perform_communications_list(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communications_list", params)

    def perform_communication_show(self, params: dict[str, Any]) -> OperationResult:
        return self._send("communication_show", params)

    def perform_queue_list(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_list", params)

    def perform_queue_get_latest(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_get_latest", params)

    def perform_queue_get_pending_completed(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_get_pending_completed", params)

    def perform_queue_show(self, params: dict[str, Any]) -> OperationResult:
        return self._send("queue_show", params)

    def perform_contact_show(self, params: dict[str, Any]) -> OperationResult:
        return self._send("contact_show", params)

    def _send(self, operation: str, params: dict[str, Any]) -> OperationResult:
        """Send ``operation``'s call with ``params`` under the vendor's names; read its answer."""
        call = CALLS[operation]
        sent = dict(params)
        renamed = operation == "queue_get_pending_completed" and "number_of_results" in sent
        if renamed and self.release < rules.PAGING_RELEASE:  # its name before R13
            sent["number"] = sent.pop("number_of_results")
        if call.method == "GET":
            data = self.client.get(call.path, vendor_params(sent, query=True))
        else:
            data = self.client.post(call.path, vendor_params(sent, query=False))
        return self._result(call, data)

    def _result(self, call: Call, data: Any) -> OperationResult:
        if call.answer == "communication":
            comm = parsing.parse_communication(data)
            return OperationResult(
                f"Communication {comm.number or comm.id} {call.message} ({comm.life_cycle_state}).",
                {"communication": comm.as_data()},
                remote_id=comm.id or None,
            )
        if call.answer == "queue_entry":
            entry = parsing.parse_queue_entry(data)
            return OperationResult(
                f"Queue entry {entry.number or entry.id} {call.message} "
                f"({entry.life_cycle_state}).",
                {"queue_entry": entry.as_data()},
                remote_id=entry.id or None,
            )
        if call.answer == "contact":
            contact = parsing.parse_contact(parsing.record(data))
            return OperationResult(
                f"Contact {contact.full_name or contact.remote_id} shown.",
                {"contact": contact.as_data()},
                remote_id=contact.remote_id,
            )
        if call.answer == "communications":
            comms = parsing.parse_communications(data)
            return OperationResult(
                f"{len(comms)} communication(s) {call.message}.",
                {"communications": [c.as_data() for c in comms], "count": len(comms)},
            )
        entries = parsing.parse_queue_entries(data)
        return OperationResult(
            f"{len(entries)} queue entr{'y' if len(entries) == 1 else 'ies'} {call.message}.",
            {"queue_entries": [e.as_data() for e in entries], "count": len(entries)},
        )
