from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from crmhub.actions import selectors as action_selectors
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Batch
from crmhub.actions.services import TargetsChanged, batch_enqueue
from crmhub.connections.models import Connection
from crmhub.connections.selectors import connection_detail, connection_list
from crmhub.console.access import operator_required, viewer_required
from crmhub.console.acts import Act, act_for, bulk_acts, label_for
from crmhub.console.forms import database_id
from crmhub.console.forms.base import ActForm
from crmhub.console.forms.bulk import ActChoiceForm, Selection, selection_from
from crmhub.console.rendering import HtmxHttpRequest, render_final, render_page
from crmhub.console.views import or_404
from crmhub.contacts.models import Contact
from crmhub.contacts.selectors import contact_counts_selected, contact_ids_selected
from crmhub.core import publishing

BULK_TEMPLATE = "console/bulk.html"
BATCH_TEMPLATE = "console/batch_detail.html"
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
    notice = ""
    if request.method == "POST" and form.is_valid():
        batch, notice = _enqueue(request, selection, connection, act, form)
        if batch is not None:
            url = reverse("console:batch-detail", args=[batch.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context.update(act=act, connection=connection, form=form, choice=choice, notice=notice)
    context.update(_preview(selection, connection, data.get("targets_from")))
    return render_page(
        request, BULK_TEMPLATE, context, partial="bulk-step",
        partials={"bulk-targets": "bulk-targets"},
    )  # fmt: skip


@viewer_required
@require_GET
def batch_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Follow a bulk run: progress bar and counts by state, live until every action ends."""
    batch = or_404(action_selectors.batch_detail(pk=pk), "No such bulk run.")
    counts = action_selectors.batch_counts(batch=batch)
    done = sum(n for state, n in counts.items() if state in Action.TERMINAL)
    context = {
        "batch": batch,
        "label": label_for(batch.connection.kind, batch.operation),
        "counts": sorted(counts.items()),
        "done": done,
        "finished": done >= batch.size,
        "percent": int(done * 100 / batch.size) if batch.size else 100,
        "failures": list(action_selectors.batch_failures(batch=batch)[:20]),
    }
    if request.htmx and context["finished"]:
        return render_final(request, f"{BATCH_TEMPLATE}#batch-progress", context)
    return render_page(request, BATCH_TEMPLATE, context, partial="batch-progress")


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
