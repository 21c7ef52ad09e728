"""The Collect! connector: debtors, clients, cosigners and associates; contact plans.

The index reads the four record tables page by page (``Limit``/``Page``); a contact's
``remote_id`` is ``"<record_type>:<rowid>"`` because rowids of different tables coincide.
``run_plan`` runs a contact plan with a Web Socket open, relaying any prompt to the staff
member through ``on_prompt``; when the socket cannot be opened, the plan is sent without
it (a plan that does not prompt runs; one that prompts fails and is rolled back). Which
plans prompt is the admin's word, per connection (``params.plan_prompts``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from crmhub.connectors.base import (
    HTTP_NOT_FOUND,
    ConnectionSpec,
    Connector,
    ContactPage,
    Operation,
    OperationResult,
    not_available,
)
from crmhub.connectors.collect import parsing, prompting
from crmhub.connectors.collect.client import DEFAULT_DATABASE, CollectClient
from crmhub.connectors.collect.declaration import CRM, DEFAULT_WEBSOCKET_PATH, websocket_url
from crmhub.connectors.collect.params import RECORD_TYPES, plan_prompts, split_remote_id
from crmhub.connectors.errors import BadResponse, NotFound, Rejected, changes_nothing
from crmhub.connectors.http import HttpClient, Response

#: Assumption: the largest ``Limit`` a listing accepts.
PAGE_LIMIT_MAX = 1000
#: Assumption: how long the ``runplan`` POST may wait for its answer (prompts included).
PLAN_READ_TIMEOUT = 900.0
#: How long a plan may run without a word from the server when the connection's settings
#: do not say (``plan_idle_seconds``, from ``CRMHUB_PLAN_IDLE_SECONDS``).
DEFAULT_PLAN_IDLE_SECONDS = 120.0
#: Assumption: operations that no Collect! document describes. Each is a read nothing
#: else depends on (``run_plan`` takes any code typed); a server without it (HTTP 404)
#: makes it answer "not available from this CRM" instead of failing.
UNDOCUMENTED = {
    "list_plans": "the contact plans read as a record type, GET collect/data/contact_plan "
    "(the runplan document names the contact_plan table and its cp_code field, but no "
    "document lists it among the readable records)",
}


def plan_idle_seconds(settings: Mapping[str, Any]) -> float:
    """Return how long a plan may run without a word from the server before it is unknown."""
    try:
        seconds = float(settings.get("plan_idle_seconds") or DEFAULT_PLAN_IDLE_SECONDS)
    except (TypeError, ValueError):
        return DEFAULT_PLAN_IDLE_SECONDS
    return seconds if seconds > 0 else DEFAULT_PLAN_IDLE_SECONDS


class CollectConnector(Connector):
    kind = CRM.kind
    operations: ClassVar[Mapping[str, Operation]] = CRM.operations_by_name
    supports_incremental = CRM.supports_incremental
    secret_fields = ("op_password",)

    def __init__(self, spec: ConnectionSpec, *, http: HttpClient | None = None) -> None:
        super().__init__(spec, http=http)
        self.client = CollectClient(
            self.http,
            operator_id=str(spec.settings.get("operator_id", "")),
            password=str(spec.secrets.get("password", "")),
            database=str(spec.settings.get("database") or DEFAULT_DATABASE),
        )

    # -- reads -------------------------------------------------------------------------------
    def check_credentials(self) -> None:
        """Log in afresh: a refused operator, password or database raises ``AuthFailed``."""
        self.client.login()

    def _page(self, table: str, page: int, limit: int) -> parsing.DataPage:
        response = self.client.call(
            "GET", f"collect/data/{table}", params={"Limit": limit, "Page": page}
        )
        return parsing.parse_data_page(response.content, table=table)

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        """Yield every debtor, client, cosigner and associate, a page at a time."""
        limit = max(1, min(page_size, PAGE_LIMIT_MAX))
        first = {table: self._page(table, 1, limit) for table in RECORD_TYPES}
        total = sum(page.num_records for page in first.values())
        number = 0
        for table in RECORD_TYPES:
            for page in self._table_pages(table, first[table], limit):
                contacts = tuple(
                    parsing.contact_from_row(table, page.row_id, row) for row in page.rows
                )
                yield ContactPage(contacts, total=total, number=number)
                number += 1

    def _table_pages(
        self, table: str, first: parsing.DataPage, limit: int
    ) -> Iterator[parsing.DataPage]:
        seen: dict[str, int] = {}
        page, current = 1, first
        while True:
            if current.rows:
                fingerprint = _fingerprint(current.rows)
                if fingerprint in seen:
                    raise BadResponse(
                        f"Collect! answered page {page} of {table} with the rows of page "
                        f"{seen[fingerprint]} again: the paging does not advance."
                    )
                seen[fingerprint] = page
            yield current
            if len(current.rows) < limit or page >= current.num_pages:
                return
            page += 1
            current = self._page(table, page, limit)

    # -- acts --------------------------------------------------------------------------------
    def perform_run_plan(self, params: dict[str, Any]) -> OperationResult:
        """Run the plan with its Web Socket open, relaying prompts to ``self.on_prompt``.

        When the socket cannot be opened, send the plan without ``websocket-id`` (the
        document asks for the id only for plans that prompt): a plan that does not prompt
        runs; one that does fails on the server, which rolls it back, and the error says so.
        """
        table, rowid = split_remote_id(params["contact_remote_id"])
        plan = params["plan"]
        path = str(self.spec.settings.get("websocket_path") or DEFAULT_WEBSOCKET_PATH)
        url = websocket_url(self.spec.base_url, path)
        try:
            with changes_nothing():
                ws, websocket_id = prompting.open_socket(
                    url,
                    allow_private=self.spec.allow_private_network,
                    allow_link_local=self.spec.allow_link_local,
                    timeout=self.spec.timeout[1],
                    headers={"x-collect-database": self.client.database},
                    http=self.http,
                )
        except prompting.SocketUnavailable as exc:
            return self._run_plan_without_socket(plan, table, rowid, url=url, reason=exc.reason)
        conversation = prompting.PlanConversation(websocket_id=websocket_id)
        body = parsing.runplan_body(plan=plan, table=table, rowid=rowid, websocket_id=websocket_id)

        def send() -> Response:
            with self.client.read_timeout(PLAN_READ_TIMEOUT):
                return self.client.call("POST", "collect/app/runplan", json_body=body)

        try:
            response = prompting.converse(
                ws,
                send,
                on_prompt=self.on_prompt,
                idle_timeout=plan_idle_seconds(self.spec.settings),
                conversation=conversation,
            )
        finally:
            ws.close()
        return _plan_result(plan, table, rowid, response, conversation.as_data())

    def _run_plan_without_socket(
        self, plan: str, table: str, rowid: int, *, url: str, reason: str
    ) -> OperationResult:
        """Send the plan without ``websocket-id``; say why when the server refuses it."""
        body = parsing.runplan_body(plan=plan, table=table, rowid=rowid, websocket_id=None)
        try:
            with self.client.read_timeout(plan_idle_seconds(self.spec.settings)):
                response = self.client.call("POST", "collect/app/runplan", json_body=body)
        except Rejected as exc:
            if plan_prompts(plan, self.spec.settings):
                message = (
                    f"This plan prompts, and the Web Socket at {url} could not be opened: "
                    f"{reason}. Collect! failed the plan and rolled it back ({exc})."
                )
            else:
                message = (
                    f"{exc} The Web Socket at {url} could not be opened ({reason}), so the "
                    "plan was sent without it: a plan that prompts fails that way and "
                    "Collect! rolls it back."
                )
            raise type(exc)(message, status=exc.status, url=exc.url, body=exc.body) from exc
        without: dict[str, Any] = {
            "websocket_id": "",
            "prompts": [],
            "done": None,
            "socket": f"{url}: {reason}",
        }
        return _plan_result(plan, table, rowid, response, without)

    def perform_show_record(self, params: dict[str, Any]) -> OperationResult:
        table, rowid = split_remote_id(params["contact_remote_id"])
        response = self.client.call("GET", f"collect/data/{table}/{rowid}")
        page = parsing.parse_data_page(response.content, table=table)
        if not page.rows:
            raise BadResponse(f"Collect! answered {table} {rowid} without its row.")
        contact = parsing.contact_from_row(table, page.row_id, page.rows[0])
        return OperationResult(
            message=f"{table.capitalize()} {rowid}: {contact.full_name or '(no name)'}.",
            data=contact.as_data(),
            remote_id=contact.remote_id,
        )

    def perform_list_plans(self, params: dict[str, Any]) -> OperationResult:
        plans: list[dict[str, Any]] = []
        page = 1
        while True:
            try:
                current = self._page("contact_plan", page, PAGE_LIMIT_MAX)
            except NotFound as exc:
                if exc.status != HTTP_NOT_FOUND or page > 1:
                    raise
                return not_available("The contact plan list")
            plans.extend(_plan_data(current.row_id, row) for row in current.rows)
            if len(current.rows) < PAGE_LIMIT_MAX or page >= current.num_pages:
                break
            page += 1
        return OperationResult(message=f"{len(plans)} contact plans.", data={"plans": plans})


def _plan_result(
    plan: str, table: str, rowid: int, response: Response, conversation: dict[str, Any]
) -> OperationResult:
    answer = parsing.parse_runplan(response.content)
    data = {"plan": plan, "record_type": table, "rowid": rowid, **conversation}
    if answer:
        data["answer"] = answer
    return OperationResult(
        message=f"Contact plan {plan} ran on {table} {rowid}.",
        data=data,
        remote_id=f"{table}:{rowid}",
    )


def _fingerprint(rows: tuple[Mapping[str, Any], ...]) -> str:
    encoded = json.dumps(rows, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _plan_data(row_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rowid": row.get(row_id),
        "code": row.get("cp_code"),
        "description": row.get("cp_description", ""),
        "fields": json.loads(json.dumps(dict(row), default=str)),
    }
