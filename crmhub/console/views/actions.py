from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from crmhub.actions import checks, selectors, services
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action
from crmhub.console.access import operator_required, viewer_required
from crmhub.console.forms.checks import CheckedForm
from crmhub.console.forms.collect import PromptAnswerForm
from crmhub.console.forms.filters import ActionFilterForm, cursor_text
from crmhub.console.rendering import HtmxHttpRequest, render_final, render_page
from crmhub.console.status import DONE_EVENTS, FINISHED_EVENT, status_context

LIST_TEMPLATE = "console/action_list.html"
DETAIL_TEMPLATE = "console/action_detail.html"
STATUS_PARTIAL = f"{DETAIL_TEMPLATE}#action-status"
#: The live part of an action's page: its status, its facts and its attempts, together.
LIVE_ID = "action-live"
LIVE_PARTIAL = f"{DETAIL_TEMPLATE}#action-live"


@viewer_required
@require_GET
def action_list(request: HtmxHttpRequest) -> HttpResponse:
    """List actions, newest first, narrowed by the filters; "more" pages by keyset."""
    form = ActionFilterForm(request.GET or None)
    filters = form.filters()
    page = selectors.action_page(**filters)
    context = {"form": form, "page": page, "next_cursor": cursor_text(page.next_after)}
    if filters.get("open_only") and not filters.get("after"):
        # The same number as the dashboard's: what still needs someone, in this state.
        context["open_count"] = selectors.actions_open(state=filters.get("state")).count()
    return render_page(
        request,
        LIST_TEMPLATE,
        context,
        partial="action-rows",
        partials={"action-results": "action-results"},
    )


def _action_or_404(pk: int) -> Action:
    action = selectors.action_detail(pk=pk)
    if action is None:
        raise Http404("No such action.")
    return action


def _detail_context(request: HtmxHttpRequest, action: Action) -> dict:
    return {
        **status_context(request, action),
        "attempts": selectors.action_attempts(action=action),
        "resends": selectors.action_resends(action=action),
        "nested": True,  # the status inside the live part does not poll on its own
    }


@viewer_required
@require_GET
def action_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show one action; its live part (status, facts, attempts) polls as one until final."""
    action = _action_or_404(pk)
    if request.htmx and request.htmx.target != LIVE_ID:
        return action_status(request, action)
    context = _detail_context(request, action)
    if not request.htmx:
        return render_page(request, DETAIL_TEMPLATE, context)
    if request.GET.get("v") == context["version"]:
        return HttpResponse(status=204)
    if context["live"]:
        return render_page(request, LIVE_PARTIAL, context)
    return _finished(render_final(request, LIVE_PARTIAL, context), action)


def _finished(response: HttpResponse, action: Action) -> HttpResponse:
    """Tell the page an action is over: regions that list it refresh themselves at once."""
    trigger_client_event(response, FINISHED_EVENT, {"action": action.pk})
    event = DONE_EVENTS.get(action.operation)
    if event and action.state == Action.State.SUCCEEDED:
        trigger_client_event(response, event, {"action": action.pk, "contact": action.contact_id})
    return response


def action_status(request: HtmxHttpRequest, action: Action) -> HttpResponse:
    """Return the live status partial: 204 when unchanged, stop polling once it is over."""
    context = status_context(request, action)
    if request.GET.get("v") == context["version"]:
        return HttpResponse(status=204)
    if context["live"]:
        return render_page(request, STATUS_PARTIAL, context)
    return _finished(render_final(request, STATUS_PARTIAL, context), action)


def _back(request: HtmxHttpRequest, action: Action, notice: str = "") -> HttpResponse:
    """Return to the action: its status partial (htmx) or its page, with ``notice`` shown."""
    if request.htmx:
        if notice:
            return render_page(
                request, STATUS_PARTIAL, status_context(request, action, notice=notice)
            )
        return action_status(request, action)
    if notice:
        messages.error(request, notice)
    return redirect("console:action-detail", pk=action.pk)


@operator_required
@require_POST
def action_resend(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Queue the same request again (unknown or failed actions only)."""
    action = _action_or_404(pk)
    try:
        resent = services.action_resend(action=action, user=request.user)
    except (services.ActionStateError, InvalidAct) as exc:
        return _back(request, action, str(exc))
    # The new action has its own page (with a link back to this one): never two on one.
    url = reverse("console:action-detail", args=[resent.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@operator_required
@require_POST
def action_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued action before it is sent."""
    action = _action_or_404(pk)
    try:
        services.action_cancel(action=action, user=request.user)
    except services.ActionStateError as exc:
        return _back(request, _action_or_404(pk), str(exc))
    return _back(request, _action_or_404(pk))


@operator_required
@require_POST
def action_answer(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Send the answer to a running plan's prompt (only its requester may answer)."""
    action = _action_or_404(pk)
    if action.requested_by_id != request.user.pk:
        raise PermissionDenied("Only the person who started the plan can answer it.")
    form = PromptAnswerForm(request.POST, prompt=action.prompt or {})
    if form.is_valid():
        try:
            services.action_answer(
                action=action,
                values=form.values(),
                user=request.user,
                prompt_id=request.POST.get("prompt_id") or None,
            )
        except InvalidAct as exc:
            for name, errors in exc.errors.items():
                form.add_error(name if name in form.fields else None, " ".join(errors))
        except services.ActionStateError as exc:
            return _back(request, _action_or_404(pk), str(exc))
        else:
            return _back(request, _action_or_404(pk))
    context = status_context(request, action, answer_form=form)
    if request.htmx:
        return render_page(request, STATUS_PARTIAL, context)
    return render_page(
        request, DETAIL_TEMPLATE, {**context, "attempts": selectors.action_attempts(action=action)}
    )


@operator_required
@require_POST
def action_checked(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Record what a person found in the CRM (it happened / it did not / left as it is)."""
    action = _action_or_404(pk)
    form = CheckedForm(request.POST)
    if not form.is_valid():
        return _back(request, action, form.problem())
    try:
        checks.action_mark_checked(
            action=action,
            verdict=form.cleaned_data["verdict"],
            note=form.cleaned_data["note"],
            user=request.user,
        )
    except services.ActionStateError as exc:
        return _back(request, _action_or_404(pk), str(exc))
    return _back(request, _action_or_404(pk))


@operator_required
@require_POST
def action_check(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Queue the safe read that tells whether an unknown outcome happened in the CRM."""
    action = _action_or_404(pk)
    try:
        checks.action_check_request(action=action, user=request.user)
    except (services.ActionStateError, InvalidAct) as exc:
        return _back(request, action, str(exc))
    return _back(request, _action_or_404(pk))
