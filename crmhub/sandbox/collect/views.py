"""The HTTP end points of the simulated Collect! REST API (under ``api/v1/``).

Every view injects the configured faults first and writes one ledger row per call
(credentials never stored). Errors are ``{"error": message}`` with a non-200 status, the
documents saying only "200 good, anything else failure".
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.collect import auth, plans, rules, sockets, store
from crmhub.sandbox.collect.assumptions import ASSUMPTIONS
from crmhub.sandbox.collect.tables import KIND, PREFIXES, row_id_field


def _answer(
    operation: str, params: dict[str, Any], response: HttpResponse, *, effect: str = ""
) -> HttpResponse:
    ledger.record(KIND, operation, params, effect=effect, status=response.status_code)
    return response


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _readable(table: str) -> bool:
    """Return whether the read end point serves ``table``.

    ``contact_plan`` is readable by this simulator's assumption only: with the
    ``hide_undocumented`` fault it is an unknown table, as on a server that does not list
    contact plans among its records.
    """
    if table in ASSUMPTIONS.undocumented_tables and faults.hides_undocumented(KIND):
        return False
    return table in PREFIXES


@csrf_exempt
@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """``POST auth/login`` ``{"op_id", "op_password"}`` -> ``{"token"}``."""
    params: dict[str, Any] = {"database": auth.requested_database(request)}
    if (injected := faults.inject(KIND)) is not None:
        return _answer("auth/login", params, injected)
    body = _body(request)
    if body is None:
        return _answer("auth/login", params, auth.error("The body must be a JSON object.", 400))
    params.update(body)
    op_id, password = body.get("op_id"), body.get("op_password")
    for name, value in (("op_id", op_id), ("op_password", password)):
        if not isinstance(value, str) or not value:
            return _answer("auth/login", params, auth.error(f"{name} is required.", 400))
    credentials = auth.account().credentials
    if not auth.password_matches(credentials, str(op_id), str(password)):
        return _answer("auth/login", params, auth.error("Invalid operator ID or password.", 401))
    if (refused := auth.check_database(request, credentials)) is not None:
        return _answer("auth/login", params, refused)
    return _answer("auth/login", params, _json({"token": auth.issue_token(credentials)}))


@csrf_exempt
@require_GET
def data_list(request: HttpRequest, table: str) -> HttpResponse:
    """``GET collect/data/<table>?Limit=&Page=`` -> ``{"type": {...}, "data": [...]}``."""
    params = {"record": table, **request.GET.dict(), "database": auth.requested_database(request)}
    if (injected := faults.inject(KIND)) is not None:
        return _answer("data/list", params, injected)
    if (refused := auth.check_request(request, auth.account().credentials)) is not None:
        return _answer("data/list", params, refused)
    if not _readable(table):
        return _answer("data/list", params, auth.error(f"Unknown table '{table[:40]}'.", 404))
    try:
        limit, page = rules.paging(request.GET)
    except rules.Invalid as exc:
        return _answer("data/list", params, auth.error(str(exc), 400))
    return _answer("data/list", params, _json(store.page_of(table, limit=limit, page=page)))


@csrf_exempt
@require_GET
def data_show(request: HttpRequest, table: str, rowid: str) -> HttpResponse:
    """``GET collect/data/<table>/<rowid>`` -> the same envelope with one row."""
    params = {"record": table, "rowid": rowid, "database": auth.requested_database(request)}
    if (injected := faults.inject(KIND)) is not None:
        return _answer("data/show", params, injected)
    if (refused := auth.check_request(request, auth.account().credentials)) is not None:
        return _answer("data/show", params, refused)
    if not _readable(table):
        return _answer("data/show", params, auth.error(f"Unknown table '{table[:40]}'.", 404))
    if not rowid.isdigit():
        return _answer("data/show", params, auth.error("rowid must be a whole number.", 400))
    record = store.find(table, int(rowid))
    if record is None:
        return _answer("data/show", params, auth.error(f"No {table} with rowid {rowid}.", 404))
    envelope = {"recId": table, "rowId": row_id_field(table), "numRecords": 1, "numPages": 1}
    return _answer("data/show", params, _json({"type": envelope, "data": [record.data]}))


@csrf_exempt
@require_POST
def runplan(request: HttpRequest) -> HttpResponse:
    """``POST collect/app/runplan`` -> 200 with no body once the plan has run."""
    params: dict[str, Any] = {"database": auth.requested_database(request)}
    if (injected := faults.inject(KIND)) is not None:
        return _answer("app/runplan", params, injected)
    if (refused := auth.check_request(request, auth.account().credentials)) is not None:
        return _answer("app/runplan", params, refused)
    body = _body(request)
    if body is None:
        return _answer("app/runplan", params, auth.error("The body must be a JSON object.", 400))
    params.update(body)
    try:
        order = rules.plan_order(body)
    except rules.Invalid as exc:
        return _answer("app/runplan", params, auth.error(str(exc), 400))
    return _run(order, params)


def _run(order: rules.PlanOrder, params: dict[str, Any]) -> HttpResponse:
    effect = f"runplan:{order.table}:{order.rowid}:{order.plan}"
    plan = store.find_plan(order.plan)
    if plan is None:
        missing = auth.error(f"Contact plan '{order.plan}' does not exist.", 404)
        return _answer("app/runplan", params, missing, effect=effect)
    record = store.find(order.table, order.rowid)
    if record is None:
        missing = auth.error(f"No {order.table} with rowid {order.rowid}.", 404)
        return _answer("app/runplan", params, missing, effect=effect)
    session = sockets.get_session(order.websocket_id) if order.websocket_id else None
    try:
        changes = plans.work_out(plan.data, record, session)
    except plans.PlanFailed as exc:
        message = f"Contact plan {order.plan} failed: {exc}. Changes were rolled back."
        _done(session, ok=False, message=message)
        failed = auth.error(message, ASSUMPTIONS.statuses["plan_failed"])
        return _answer("app/runplan", params, failed, effect=effect)
    plans.apply(record, changes, params=params, effect=effect)
    faults.after_apply(KIND)
    _done(session, ok=True, message=f"Contact plan {order.plan} completed.")
    return HttpResponse(status=200)


def _done(session: sockets.SocketSession | None, *, ok: bool, message: str) -> None:
    if session is not None:
        sockets.send_from_thread(session, {"type": "done", "ok": ok, "message": message})
