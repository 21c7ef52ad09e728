"""Act forms (each creates an Action and swaps in its live status) and read regions."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from crmhub.actions.errors import InvalidAct
from crmhub.actions.selectors import action_detail
from crmhub.actions.services import action_enqueue
from crmhub.connections.choices import choice_lists
from crmhub.connections.models import Connection
from crmhub.connections.selectors import connection_detail
from crmhub.console import regions
from crmhub.console.access import operator_required, viewer_required
from crmhub.console.acts import ON_CONNECTION, ON_CONTACT, Act, act_for
from crmhub.console.pickers import owner_of, picker_build, pickers_apply, pickers_for
from crmhub.console.rendering import HtmxHttpRequest, render_final, render_page
from crmhub.console.status import status_context
from crmhub.console.views import or_404
from crmhub.contacts.models import Contact
from crmhub.contacts.selectors import contact_detail
from crmhub.core import roles

FORM_TEMPLATE = "console/act_form.html"
STATUS_PARTIAL = "console/action_detail.html#action-status"
READ_DONE_EVENTS = {"get_config": "crmhub:config-loaded"}


def choice_lists_read(kind: str, operation: str) -> str | None:
    """Return the name of the choice list that read ``operation`` fills, if any."""
    return next((c.name for c in choice_lists(kind) if c.read == operation), None)


def _contact(pk: int) -> Contact:
    return or_404(contact_detail(pk=pk), "No such contact.")


def _act(connection: Connection, operation: str, on: str) -> Act:
    act = act_for(connection.kind, operation, on=on)
    if act is None or act.read:
        raise Http404("No such act here.")
    return act


def _request_key(request: HtmxHttpRequest) -> str | None:
    """Return the idempotency key of a submitted form (one Action however often it posts)."""
    token = request.POST.get("request_key", "")
    try:
        uuid.UUID(hex=token)
    except ValueError:
        return None
    return hashlib.sha256(f"{request.user.pk}:{token}".encode()).hexdigest()[:64]


def _in_panel(request: HtmxHttpRequest) -> bool:
    """Return whether the form shows inside another page (opened there by htmx)."""
    if not request.htmx:
        return False
    return request.POST.get("in_panel") == "1" or "act-panel" in (request.htmx.target or "")


def _form_extra(act: Act, connection: Connection) -> dict[str, Any]:
    """Return the latest result of the read the form takes its choices from (if any)."""
    if not act.choices_from:
        return {}
    state = regions.read_state(operation=act.choices_from, connection=connection)
    return {"config": state["read_data"], **state}


def act_view(
    request: HtmxHttpRequest, act: Act, *, connection: Connection, contact: Contact | None
) -> HttpResponse:
    """Show the act's form, or queue it and return the new action's live status."""
    extra = _form_extra(act, connection)
    data = request.POST if request.method == "POST" else None
    initial = None if data is not None else request.GET.dict()
    form = act.form(data, connection=connection, contact=contact, extra=extra, initial=initial)
    owner = f"c{contact.pk}" if contact is not None else f"n{connection.pk}"
    pickers = pickers_for(connection=connection, operation=act.operation, owner=owner)
    pickers_apply(form, pickers)
    if data is not None and form.is_valid():
        try:
            action = action_enqueue(
                operation=act.operation,
                connection=connection,
                contact=contact,
                params=form.params(),
                user=request.user,
                idempotency_key=_request_key(request),
            )
        except InvalidAct as exc:
            form.apply_errors(exc)
        else:
            if not request.htmx:
                return redirect("console:action-detail", pk=action.pk)
            action = action_detail(pk=action.pk) or action
            response = render_page(request, STATUS_PARTIAL, status_context(request, action))
            return trigger_client_event(response, "crmhub:action-started", {"action": action.pk})
    context = {
        **extra,
        "act": act,
        "form": form,
        "pickers": pickers,
        "connection": connection,
        "record": contact,
        "request_key": uuid.uuid4().hex,
        "action_url": request.path,
        "in_panel": _in_panel(request),
    }
    return render_page(request, FORM_TEMPLATE, context, partial="act-form")


@operator_required
@require_http_methods(["GET", "POST"])
def contact_act(request: HtmxHttpRequest, pk: int, operation: str) -> HttpResponse:
    """Act on one contact (run an action set, add a link, run a plan, edit a customer...)."""
    contact = _contact(pk)
    act = _act(contact.connection, operation, ON_CONTACT)
    return act_view(request, act, connection=contact.connection, contact=contact)


@operator_required
@require_http_methods(["GET", "POST"])
def connection_act(request: HtmxHttpRequest, pk: int, operation: str) -> HttpResponse:
    """Act on a connection (a new Apptivo customer, a queue entry of CRM.COM...)."""
    connection = or_404(connection_detail(pk=pk), "No such connection.")
    act = _act(connection, operation, ON_CONNECTION)
    return act_view(request, act, connection=connection, contact=None)


# -- read regions -------------------------------------------------------------------------------
def read_region(
    request: HtmxHttpRequest, operation: str, *, connection: Connection, contact: Contact | None
) -> HttpResponse:
    """Return a read's region; a POST (operators only) first queues a fresh read."""
    act = act_for(connection.kind, operation)
    region = regions.REGIONS.get(operation)
    if act is None or not act.read or region is None:
        raise Http404("No such read here.")
    notice = ""
    params = regions.read_params(operation, request.POST or request.GET)
    if request.method == "POST":
        try:
            action_enqueue(
                operation=operation,
                connection=connection,
                contact=contact,
                params=params,
                user=request.user,
                idempotency_key=_request_key(request),
            )
        except InvalidAct as exc:
            notice = str(exc)
    state = regions.read_state(
        operation=operation, connection=connection, contact=contact, params=params
    )
    context = {"connection": connection, "record": contact, "notice": notice, **state}
    listed = choice_lists_read(connection.kind, operation)
    if listed is not None:  # a choice list the CRM gives: the form's datalist, in place
        owner = owner_of(request.POST.get("owner") or request.GET.get("owner", ""), "")
        context["picker"] = picker_build(
            connection=connection, name=listed, owner=owner or f"n{connection.pk}"
        )
    name = f"{region.template}#{region.partial}"
    if state["read_running"] or request.method == "POST":
        return render_page(request, name, context)
    response = render_final(request, name, context)
    event = READ_DONE_EVENTS.get(operation)
    if event and request.method == "GET":
        trigger_client_event(response, event, {"connection": connection.pk})
    return response


@viewer_required
@require_http_methods(["GET", "POST"])
def connection_read(request: HtmxHttpRequest, pk: int, operation: str) -> HttpResponse:
    """Show (GET) or refresh (POST, operators) a connection-wide read: config, queue."""
    connection = or_404(connection_detail(pk=pk), "No such connection.")
    return _read_guarded(request, operation, connection=connection, contact=None)


@viewer_required
@require_http_methods(["GET", "POST"])
def contact_read(request: HtmxHttpRequest, pk: int, operation: str) -> HttpResponse:
    """Show (GET) or refresh (POST, operators) a read about one contact: communications."""
    contact = _contact(pk)
    return _read_guarded(request, operation, connection=contact.connection, contact=contact)


def _read_guarded(
    request: HtmxHttpRequest, operation: str, *, connection: Connection, contact: Contact | None
) -> HttpResponse:
    if request.method == "POST" and not roles.can_act(request.user):
        raise PermissionDenied("Only operators can ask the CRM again.")
    return read_region(request, operation, connection=connection, contact=contact)
