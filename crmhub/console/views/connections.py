from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from crmhub.connections import selectors as connection_selectors
from crmhub.connections.models import Connection
from crmhub.connections.services import connection_check_request
from crmhub.console import selectors
from crmhub.console.access import admin_required, viewer_required
from crmhub.console.acts import connection_buttons
from crmhub.console.forms.crmcom import QueueSourceForm
from crmhub.console.regions import read_params, read_state
from crmhub.console.rendering import HtmxHttpRequest, render_page
from crmhub.console.views import or_404
from crmhub.contacts.models import SyncRun
from crmhub.contacts.selectors import sync_run_history
from crmhub.contacts.services import sync_request
from crmhub.core import publishing

LIST_TEMPLATE = "console/connection_list.html"
DETAIL_TEMPLATE = "console/connection_detail.html"
QUEUE_TEMPLATE = "console/queue.html"
QUEUE_INDEX_TEMPLATE = "console/queue_index.html"


class SyncForm(forms.Form):
    mode = forms.ChoiceField(
        label="Mode", choices=[("", "Automatic"), *SyncRun.Mode.choices], required=False
    )


def _connection(pk: int) -> Connection:
    return or_404(connection_selectors.connection_detail(pk=pk), "No such connection.")


@viewer_required
@require_GET
def connection_list(request: HtmxHttpRequest) -> HttpResponse:
    """List connections with health, rate-limit state and latest sync."""
    rows = selectors.connection_rows()
    context = {"rows": rows, "syncing": any(row.syncing for row in rows)}
    return render_page(request, LIST_TEMPLATE, context, partial="connection-rows")


@viewer_required
@require_GET
def connection_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show one connection: health, throttling, sync history (live while a sync runs)."""
    return _detail(request, _connection(pk))


def _detail(request: HtmxHttpRequest, connection: Connection) -> HttpResponse:
    (row,) = selectors.connection_rows(connections=[connection])
    context = {
        "row": row,
        "connection": connection,
        "runs": sync_run_history(connection=connection),
        "acts": connection_buttons(connection.kind),
        "sync_form": SyncForm(auto_id="id_sync_%s"),
    }
    return render_page(request, DETAIL_TEMPLATE, context, partial="connection-status")


def _done(
    request: HtmxHttpRequest, connection: Connection, message: str, *, level: str = "info"
) -> HttpResponse:
    if request.htmx:
        response = _detail(request, connection)
        return trigger_client_event(response, "crmhub:toast", {"level": level, "message": message})
    messages.add_message(request, getattr(messages, level.upper()), message)
    return redirect("console:connection-detail", pk=connection.pk)


@admin_required
@require_POST
def connection_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Start a sync of the connection now (or show the one already running)."""
    connection = _connection(pk)
    form = SyncForm(request.POST)
    mode = form.cleaned_data.get("mode") or None if form.is_valid() else None
    with publishing.watch() as watch:
        run = sync_request(
            connection=connection, mode=mode, requested_by=request.user.get_username()
        )
    if watch.broker_down:
        return _done(request, connection, f"Sync: {publishing.BROKER_DOWN}", level="warning")
    return _done(
        request, connection, f"{run.get_mode_display()} sync {run.get_state_display().lower()}."
    )


@admin_required
@require_POST
def connection_check(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Queue a credentials check; the health shown updates when it is done."""
    connection = _connection(pk)
    with publishing.watch() as watch:
        connection_check_request(connection=connection)
    if watch.broker_down:
        message = f"Connection test: {publishing.BROKER_DOWN}"
        return _done(request, connection, message, level="warning")
    return _done(request, connection, "Connection test queued: the health updates in a moment.")


@viewer_required
@require_GET
def queue_index(request: HtmxHttpRequest) -> HttpResponse:
    """Open the CRM.COM communication queue: the one connection's, or a choice of them."""
    queues = list(connection_selectors.connection_list(active=True, kind="crmcom"))
    if len(queues) == 1:
        return _queue(request, queues[0])
    return render_page(request, QUEUE_INDEX_TEMPLATE, {"queues": queues})


@viewer_required
@require_GET
def queue(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show a CRM.COM connection's communication queue (latest read), refreshed live."""
    connection = _connection(pk)
    if connection.kind != "crmcom":
        raise Http404("Only CRM.COM connections have a communication queue.")
    return _queue(request, connection)


def _queue(request: HtmxHttpRequest, connection: Connection) -> HttpResponse:
    source = QueueSourceForm(request.GET or None)
    params = read_params("queue_list", request.GET)
    context = {
        "connection": connection,
        "source": source,
        **read_state(operation="queue_list", connection=connection, params=params),
    }
    return render_page(request, QUEUE_TEMPLATE, context, partial="queue-entries")
