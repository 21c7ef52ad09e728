"""The Apptivo connector: customers listed, searched, created, updated and deleted.

Incremental listing (crmhub's choice, mirrored in the sandbox): with ``since`` the listing
is ``getAllByAdvancedSearch`` with ``searchData.lastUpdateOnStartDate`` = ``since`` (an
Apptivo date, inclusive), paged like ``getAll`` with ``startIndex``/``numRecords``. Deleted
customers are only found by their absence from a full listing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors.apptivo import parsing, payloads
from crmhub.connectors.apptivo.client import (
    ATTRIBUTES_PARAM,
    ApptivoClient,
    multi_select_data,
    search_data,
)
from crmhub.connectors.apptivo.declaration import CRM
from crmhub.connectors.apptivo.parsing import ApptivoConfig
from crmhub.connectors.base import (
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    RemoteContact,
)
from crmhub.connectors.errors import BadResponse, changes_nothing
from crmhub.connectors.http import HttpClient

#: Largest ``numRecords`` crmhub asks for (assumption: the documents give no maximum).
MAX_PAGE_SIZE = 500
#: Assumption: actions the vendor's customers document lists by name ("Get all customers",
#: "Delete a customer") without describing them; their form comes from public client code.
#: The index depends on ``getAll``; a server without these would fail the sync or the delete.
UNDOCUMENTED = {
    "getAll": "startIndex/numRecords, records at data (Airbyte's Apptivo manifest)",
    "delete": "customerId (a third-party spec citing the vendor's deletecustomer page)",
}
CONFIG_TTL = 600.0

_config_cache: dict[tuple[str, str], tuple[float, ApptivoConfig]] = {}
_config_lock = threading.Lock()
#: Seconds clock of the configuration cache (tests replace it).
clock: Callable[[], float] = time.monotonic


def clear_config_cache() -> None:
    """Forget every cached getConfigData (tests; a changed configuration)."""
    with _config_lock:
        _config_cache.clear()


class ApptivoConnector(Connector):
    kind = CRM.kind
    operations: ClassVar[Mapping[str, Operation]] = CRM.operations_by_name
    supports_incremental = CRM.supports_incremental
    secret_fields = ("apiKey", "accessKey")

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        super().__init__(spec, http=http)
        self.client = ApptivoClient(
            self.http,
            api_key=spec.secrets.get("api_key", ""),
            access_key=spec.secrets.get("access_key", ""),
        )
        digest = hashlib.sha256(
            "\0".join(
                (spec.secrets.get("api_key", ""), spec.secrets.get("access_key", ""))
            ).encode()
        ).hexdigest()
        self._cache_key = (spec.base_url, digest)

    # -- configuration -----------------------------------------------------------------------
    def fetch_config(self) -> ApptivoConfig:
        """Call getConfigData, cache its result for this connection and return it.

        A read, even on the way to a change: its failure is never an unknown outcome.
        """
        with changes_nothing():
            config = parsing.parse_config(self.client.call("getConfigData"))
        with _config_lock:
            _config_cache[self._cache_key] = (clock() + CONFIG_TTL, config)
        return config

    def config(self) -> ApptivoConfig:
        """Return this connection's configuration, from the cache while it is fresh."""
        with _config_lock:
            cached = _config_cache.get(self._cache_key)
        if cached is not None and cached[0] > clock():
            return cached[1]
        return self.fetch_config()

    # -- reads -------------------------------------------------------------------------------
    def check_credentials(self) -> None:
        self.fetch_config()

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        action, extra = "getAll", {}
        if since is not None:
            action = "getAllByAdvancedSearch"
            extra = {
                "searchData": search_data(lastUpdateOnStartDate=parsing.format_date(since)),
                "multiSelectData": multi_select_data(),
                "objectId": self.config().object_id,
            }
        start, number, previous = 0, 0, None
        while True:
            document = self.client.call(action, {**extra, "startIndex": start, "numRecords": size})
            records, total = parsing.parse_customer_list(document)
            if records and records == previous:
                raise BadResponse(
                    f"Apptivo returned the same page twice (startIndex {start}); stopped."
                )
            contacts = tuple(parsing.parse_customer(record) for record in records)
            yield ContactPage(contacts=contacts, total=total, number=number)
            start += len(records)
            if len(records) < size or (total is not None and start >= total):
                return
            number, previous = number + 1, records

    # -- acts --------------------------------------------------------------------------------
    def perform_create_customer(self, params: dict[str, Any]) -> OperationResult:
        config = self.config()
        data: dict[str, Any] = {"customerId": None}
        data.update(payloads.customer_data(params, config))
        contact = _saved_contact(self.client.call("save", {"customerData": data}))
        return OperationResult(
            message=f"Created customer {contact.full_name} (#{contact.remote_id}).",
            data={"customer": parsing.summary(contact)},
            remote_id=contact.remote_id,
            contact=contact,
        )

    def perform_update_customer(self, params: dict[str, Any]) -> OperationResult:
        config = self.config()
        customer_id = params["contact_remote_id"]
        changes = payloads.customer_data(params, config)
        document = self.client.call(
            "update",
            {
                "customerId": customer_id,
                "objectId": config.object_id,
                "customerData": {"customerId": int(customer_id), **changes},
                ATTRIBUTES_PARAM: list(changes),
                "isEmailAddressUpdate": "true" if "email" in params else None,
            },
        )
        contact = _saved_contact(document)
        return OperationResult(
            message=f"Updated customer {contact.full_name} (#{customer_id}): " + ", ".join(changes),
            data={"customer": parsing.summary(contact), "changed": list(changes)},
            remote_id=customer_id,
            contact=contact,
        )

    def perform_delete_customer(self, params: dict[str, Any]) -> OperationResult:
        customer_id = params["contact_remote_id"]
        self.client.call("delete", {"customerId": customer_id})
        return OperationResult(
            message=f"Deleted customer #{customer_id}.",
            data={"customer_id": customer_id},
            remote_id=customer_id,
            deleted_remote_id=str(customer_id),
        )

    def perform_get_config(self, params: dict[str, Any]) -> OperationResult:
        config = self.config()
        return OperationResult(
            message=f"{len(config.statuses)} statuses, {len(config.categories)} categories.",
            data=parsing.config_data(config),
        )

    def perform_search_customers(self, params: dict[str, Any]) -> OperationResult:
        document = self.client.call(
            "getAllBySearchText",
            {
                "searchText": params["search_text"],
                "startIndex": 0,
                "numRecords": params["limit"],
                "objectId": self.config().object_id,
            },
        )
        records, total = parsing.parse_customer_list(document)
        found = [parsing.summary(parsing.parse_customer(record)) for record in records]
        return OperationResult(
            message=f"{total if total is not None else len(found)} customers match "
            f"{params['search_text']!r}.",
            data={"search_text": params["search_text"], "total": total, "customers": found},
        )


def _saved_contact(document: dict[str, Any]) -> RemoteContact:
    return parsing.parse_customer(parsing.parse_saved_customer(document))
