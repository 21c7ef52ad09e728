from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from crmhub.actions import selectors as action_selectors
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Batch
from crmhub.actions.services import TargetsChanged, batch_enqueue
from crmhub.actions.services import batch_cancel as batch_cancel_service
from crmhub.actions.services import batch_retry as batch_retry_service
from crmhub.connections.models import Connection
from crmhub.connections.selectors import connection_detail, connection_list
from crmhub.console.access import operator_required, viewer_required
from crmhub.console.acts import Act, act_for, bulk_acts, label_for
from crmhub.console.forms import database_id
from crmhub.console.forms.base import ActForm
from crmhub.console.forms.bulk import ActChoiceForm, BatchResultsForm, Selection, selection_from
from crmhub.console.pickers import pickers_apply, pickers_for
from crmhub.console.rendering import HtmxHttpRequest, render_final, render_page
from crmhub.console.views import or_404
from crmhub.contacts.models import Contact
from crmhub.contacts.selectors import contact_counts_selected, contact_ids_selected
from crmhub.core import publishing, roles

BULK_TEMPLATE = "console/bulk.html"
BATCH_TEMPLATE = "console/batch_detail.html"
RETRY_TEMPLATE = "console/batch_retry.html"
FAILURE_STATES = (Action.State.FAILED, Action.State.UNKNOWN, Action.State.CANCELLED)
#: Targets listed at once in the preview (the others a page further, each listed).
TARGETS_PAGE = 1000


def _contact_ids(selection: Selection, connection: Connection) -> list[int]:
    """Return the live records of ``connection`` the picked rows showed."""
    return contact_ids_selected(connection=connection, contact_ids=selection.shown_ids)


def _targets(selection: Selection, connection: Connection) -> list[Contact]:
    """Return the contacts of ``connection`` the selection names (what the batch would run on)."""
    if selection.everything:
        return action_selectors.batch_contacts(connection=connection, search=selection.search)
    return action_selectors.batch_contacts(
        connection=connection, contact_ids=_contact_ids(selection, connection)
    )


def _choices(selection: Selection) -> list[dict]:
    """Return, per connection, how many picked contacts it has and its bulk acts."""
    connections = connection_list(active=True)
    counts: dict[int, int] = {}
    if not selection.everything:
        counts = contact_counts_selected(contact_ids=selection.shown_ids)
    return [
        {"connection": c, "count": counts.get(c.pk) if counts else None, "acts": bulk_acts(c.kind)}
        for c in connections
        if bulk_acts(c.kind) and (selection.everything or counts.get(c.pk))
    ]


def _enqueue(
    request: HtmxHttpRequest, selection: Selection, connection: Connection, act: Act, form: ActForm
) -> tuple[Batch | None, str]:
    """Queue the batch if the targets are those the preview listed; return it, or why not."""
    expected = request.POST.get("targets", "")
    try:
        with publishing.watch() as watch:
            batch = batch_enqueue(
                operation=act.operation, connection=connection, params=form.params(),
                user=request.user, expected=expected,
                **({"search": selection.search} if selection.everything
                   else {"contact_ids": _contact_ids(selection, connection)}),
            )  # fmt: skip
    except InvalidAct as exc:
        form.apply_errors(exc)
    except TargetsChanged as exc:
        return None, str(exc) if expected else "Check the contacts listed, then confirm."
    else:
        if watch.broker_down:
            messages.warning(request, publishing.BROKER_DOWN)
        return batch, ""
    return None, ""


def _preview(selection: Selection, connection: Connection, offset: str | None) -> dict:
    """Return the preview's targets: their count, fingerprint and the page of them listed."""
    targets = _targets(selection, connection)
    start = database_id(offset or "") or 0
    start = start if start < len(targets) else 0
    shown = targets[start : start + TARGETS_PAGE]
    return {
        "count": len(targets),
        "digest": action_selectors.targets_digest(c.pk for c in targets),
        "shown": shown,
        "shown_from": start + 1,
        "shown_to": start + len(shown),
        "previous_from": max(0, start - TARGETS_PAGE) if start else None,
        "next_from": start + TARGETS_PAGE if start + TARGETS_PAGE < len(targets) else None,
    }


@operator_required
@require_http_methods(["GET", "POST"])
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Choose an act for a selection, list every target, confirm, then follow it."""
    data = request.POST if request.method == "POST" else request.GET
    selection = selection_from(data)
    choice = ActChoiceForm(data if "act" in data else None)
    context: dict = {"selection": selection, "selection_query": selection.query().urlencode()}
    if selection.empty or not choice.is_valid():
        context["choices"] = [] if selection.empty else _choices(selection)
        return render_page(request, BULK_TEMPLATE, context, partial="bulk-step")
    connection_id, operation = choice.parts()
    connection = or_404(connection_detail(pk=connection_id, active=True), "No such connection.")
    act = act_for(connection.kind, operation)
    if act is None or not act.bulk:
        raise Http404("No such bulk act.")
    form = act.form(request.POST if request.method == "POST" else None, connection=connection)
    for name in act.not_in_bulk:  # per-contact values: each action gets its own contact's
        form.fields.pop(name, None)
    pickers = pickers_for(connection=connection, operation=act.operation, owner=f"b{connection.pk}")
    pickers_apply(form, pickers)
    notice = ""
    if request.method == "POST" and form.is_valid():
        batch, notice = _enqueue(request, selection, connection, act, form)
        if batch is not None:
            url = reverse("console:batch-detail", args=[batch.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context.update(
        act=act, connection=connection, form=form, choice=choice, notice=notice, pickers=pickers
    )
    context.update(_preview(selection, connection, data.get("targets_from")))
    return render_page(
        request, BULK_TEMPLATE, context, partial="bulk-step",
        partials={"bulk-targets": "bulk-targets"},
    )  # fmt: skip


def _batch_context(request: HtmxHttpRequest, batch: Batch) -> dict[str, Any]:
    """Return what the batch page shows: progress, counts, the results asked for, what next."""
    filters = BatchResultsForm(request.GET or None)
    state, after = filters.chosen()
    counts = action_selectors.batch_counts(batch=batch)
    done = sum(n for state_, n in counts.items() if state_ in Action.TERMINAL)
    finished = done >= batch.size
    results, next_after = action_selectors.batch_results(
        batch=batch, state=state, after=after if finished else None
    )
    can_act = roles.can_act(request.user)
    return {
        "batch": batch,
        "label": label_for(batch.connection.kind, batch.operation),
        "counts": sorted(counts.items()),
        "done": done,
        "finished": finished,
        "percent": int(done * 100 / batch.size) if batch.size else 100,
        "state": state or "",
        "states": [(s, counts.get(s, 0)) for s in action_selectors.RESULT_STATES],
        "results": results,
        "next_after": next_after if finished else None,
        "more_later": next_after is not None and not finished,
        "failures": any(counts.get(s) for s in FAILURE_STATES) or bool(batch.skipped),
        "retry_count": action_selectors.batch_retry_targets(batch=batch).count(),
        "unchecked": action_selectors.batch_unchecked(batch=batch),
        "retries": list(batch.retries.order_by("id").only("pk", "size", "created_at")),
        "can_cancel": can_act and not finished and batch.cancelled_at is None,
        "can_retry": can_act,
    }


@viewer_required
@require_GET
def batch_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Follow a bulk run: progress, counts and its results by state, live until it ends."""
    batch = or_404(action_selectors.batch_detail(pk=pk), "No such bulk run.")
    context = _batch_context(request, batch)
    if request.htmx and request.htmx.target == "batch-more":
        return render_page(request, f"{BATCH_TEMPLATE}#batch-rows", context)
    if request.htmx and context["finished"]:
        return render_final(request, f"{BATCH_TEMPLATE}#batch-progress", context)
    return render_page(request, BATCH_TEMPLATE, context, partial="batch-progress")


@operator_required
@require_POST
def batch_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Stop a bulk run: what is not sent yet is cancelled at once, what is sending ends."""
    batch = or_404(action_selectors.batch_detail(pk=pk), "No such bulk run.")
    cancelled = batch_cancel_service(batch=batch, user=request.user)
    messages.info(request, f"Bulk run cancelled: {cancelled:,} action(s) not sent.")
    url = reverse("console:batch-detail", args=[batch.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@operator_required
@require_http_methods(["GET", "POST"])
def batch_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """List what a retry would send again; on confirmation, send it as one new bulk run."""
    batch = or_404(action_selectors.batch_detail(pk=pk), "No such bulk run.")
    notice = ""
    if request.method == "POST":
        try:
            retry = batch_retry_service(
                batch=batch, user=request.user, expected=request.POST.get("targets", "")
            )
        except TargetsChanged as exc:
            notice = str(exc)
        except InvalidAct as exc:
            notice = str(exc)
        else:
            url = reverse("console:batch-detail", args=[retry.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    targets = action_selectors.batch_retry_targets(batch=batch)
    ids = list(targets.values_list("pk", "state"))
    failed = sum(1 for _, state in ids if state == Action.State.FAILED)
    context = {
        "batch": batch,
        "label": label_for(batch.connection.kind, batch.operation),
        "targets": list(targets[:TARGETS_PAGE]),
        "count": len(ids),
        "failed": failed,
        "not_done": len(ids) - failed,
        "digest": action_selectors.targets_digest(pk for pk, _ in ids),
        "unchecked": action_selectors.batch_unchecked(batch=batch),
        "notice": notice,
    }
    return render_page(request, RETRY_TEMPLATE, context, partial="batch-retry")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """Return ``value`` as CSV text a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@viewer_required
@require_GET
def batch_failures_csv(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    """Download the contacts the bulk run did not succeed on, with the reason, as CSV."""
    batch = or_404(action_selectors.batch_detail(pk=pk), "No such bulk run.")
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(["contact_id", "remote_id", "name", "state", "error", "action_id"])
        for remote_id, reason in (batch.skipped or {}).items():
            yield writer.writerow(["", _cell(remote_id), "", "skipped", _cell(reason), ""])
        for action in action_selectors.batch_failures(batch=batch).iterator(chunk_size=500):
            contact = action.contact
            yield writer.writerow(
                [
                    contact.pk if contact else "",
                    _cell(contact.remote_id if contact else ""),
                    _cell(contact.display_name if contact else ""),
                    action.state,
                    _cell(action.error),
                    action.pk,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-failures.csv"'
    return response
