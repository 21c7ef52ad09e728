"""The view wrapper of every CRM.COM API call: faults, method, token, envelope, ledger.

Apart from ``api.py`` (the conventions) and ``auth.py`` (the tokens) so that the handler
modules, ``authentication.py`` included, sit above all three.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.crmcom.api import (
    KIND,
    ApiError,
    Outcome,
    envelope,
    fields_filter,
    identifiers_read,
    read_params,
)
from crmhub.sandbox.crmcom.assumptions import ASSUMPTIONS
from crmhub.sandbox.crmcom.auth import require_token

Handler = Callable[[dict[str, Any]], Outcome]


def endpoint(operation: str, method: str, *, authenticated: bool = True) -> Callable:
    """Turn a handler into an API view: faults, method, token, envelope, ledger, after_apply.

    The handler runs in one transaction of the sandbox database with the ledger row of an
    applied change, so a change and its record commit together. An operation no document
    describes answers 404 (an HTML page) when the ``hide_undocumented`` fault is on.
    """

    def decorate(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            injected = faults.inject(KIND)
            if injected is not None:
                return injected
            if operation in ASSUMPTIONS.undocumented_methods and faults.hides_undocumented(KIND):
                return HttpResponse(ASSUMPTIONS.missing_page, status=404, content_type="text/html")
            if request.method != method:
                response = HttpResponse(status=405, content_type="text/plain")
                response["Allow"] = method
                return response
            received: dict[str, Any] = {}  # as sent: what the ledger keeps
            try:
                received = read_params(request, method)
                params = identifiers_read(received) if method == "GET" else received
                if authenticated:
                    require_token(params.get("token"))
                with transaction.atomic(using="sandbox"):
                    outcome = handler(params)
                    data = fields_filter(outcome.data, params)
                    ledger.record(
                        KIND, operation, received, effect=outcome.effect, applied=outcome.applied
                    )
            except ApiError as error:
                ledger.record(KIND, operation, received)
                body = envelope(
                    None, code=error.code, message=error.message, description=error.description
                )
                return JsonResponse(body)
            if outcome.applied:
                faults.after_apply(KIND)
            return JsonResponse(envelope(data))

        return view

    return decorate
