from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from crmhub.actions import selectors, services
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action
from crmhub.console.access import operator_required, viewer_required
from crmhub.console.forms.collect import PromptAnswerForm
from crmhub.console.forms.filters import ActionFilterForm, cursor_text
from crmhub.console.rendering import HtmxHttpRequest, render_final, render_page
from crmhub.console.status import DONE_EVENTS, status_context, status_version

LIST_TEMPLATE = "console/action_list.html"
DETAIL_TEMPLATE = "console/action_detail.html"
STATUS_PARTIAL = f"{DETAIL_TEMPLATE}#action-status"


@viewer_required
@require_GET
def action_list(request: HtmxHttpRequest) -> HttpResponse:
    """List actions, newest first, narrowed by the filters; "more" pages by keyset."""
    form = ActionFilterForm(request.GET or None)
    page = selectors.action_page(**form.filters())
    context = {"form": form, "page": page, "next_cursor": cursor_text(page.next_after)}
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


@viewer_required
@require_GET
def action_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show one action with its attempts; htmx polls its live status partial."""
    action = _action_or_404(pk)
    if request.htmx:
        return action_status(request, action)
    context = {
        **status_context(request, action),
        "attempts": selectors.action_attempts(action=action),
        "resends": selectors.action_resends(action=action),
    }
    return render_page(request, DETAIL_TEMPLATE, context)


def action_status(request: HtmxHttpRequest, action: Action) -> HttpResponse:
    """Return the live status partial: 204 when unchanged, stop polling once it is over."""
    if request.GET.get("v") == status_version(action):
        return HttpResponse(status=204)
    context = status_context(request, action)
    if not action.is_terminal:
        return render_page(request, STATUS_PARTIAL, context)
    response = render_final(request, STATUS_PARTIAL, context)
    event = DONE_EVENTS.get(action.operation)
    if event and action.state == Action.State.SUCCEEDED:
        trigger_client_event(response, event, {"action": action.pk, "contact": action.contact_id})
    return response


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
    if request.htmx:
        # The new action takes the old one's place in the page.
        return action_status(request, _action_or_404(resent.pk))
    return redirect("console:action-detail", pk=resent.pk)


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
