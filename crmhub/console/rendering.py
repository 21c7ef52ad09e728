"""Render a page whole, or the partial an htmx request asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request as the console's views get it: django-htmx's middleware adds ``htmx``."""

    htmx: HtmxDetails


def render_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    partial: str | None = None,
    partials: Mapping[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Return ``template`` whole, or its partial when the request comes from htmx.

    ``partials`` maps an ``HX-Target`` id to the partial that fills it; ``partial`` is the
    one used for any other htmx request.
    """
    name = template
    htmx = getattr(request, "htmx", None)
    # Going back in history, htmx asks for the whole page again (it keeps no copies).
    if htmx and not htmx.history_restore_request:
        chosen = (partials or {}).get(htmx.target or "", partial)
        if chosen:
            name = f"{template}#{chosen}"
    response = render(request, name, dict(context), status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_final(request: HttpRequest, template: str, context: Mapping[str, Any]) -> HttpResponse:
    """Return a partial and tell htmx to stop polling the element that asked for it."""
    return HttpResponseStopPolling(render_to_string(template, dict(context), request=request))
