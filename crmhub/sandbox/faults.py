"""Inject faults into the simulated CRMs, as configured per kind in ``Fault`` rows.

Views call ``inject(kind)`` before doing anything (latency, errors, 429, hangs, malformed
bodies), and ``after_apply(kind)`` once a change is committed (a hang there is the
"request reached the server but the client never heard back" case). Two switches change
what a healthy server answers: ``indents_xml`` (AllClients writes indented XML instead of
the compact XML of the vendor) and ``hides_undocumented`` (the operations that no vendor
document describes answer as a server without them would).
"""

from __future__ import annotations

import random
import time

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse

from crmhub.core import rows
from crmhub.sandbox.models import Fault

MALFORMED = b'<?xml version="1.0"?><results><message>Succ'
ENTITY_ATTACK = (
    b'<?xml version="1.0"?>\n<!DOCTYPE results [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b"<results><message>&xxe;</message></results>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<results><message>&lol9;</message></results>"
)


class _Unread:
    """The default of a ``fault`` argument: not read yet (None means "nothing configured")."""


UNREAD = _Unread()


def current(kind: str) -> Fault | None:
    """Return the fault settings of ``kind`` (None when nothing is configured).

    Read on every request a simulated CRM serves: in plain SQL (``crmhub.core.rows``).
    """
    return rows.row_find(Fault, kind=kind)


def configure(kind: str, **values: object) -> Fault:
    """Set the faults of ``kind`` (fields not given go back to healthy defaults)."""
    fault, _ = Fault.objects.get_or_create(kind=kind)
    defaults = Fault(kind=kind)
    for field in Fault._meta.concrete_fields:
        if field.name in ("id", "kind", "updated_at"):
            continue
        setattr(fault, field.name, values.get(field.name, getattr(defaults, field.name)))
    fault.save()
    return fault


def reset(kind: str | None = None) -> None:
    """Remove the faults of ``kind`` (or of every kind)."""
    query = Fault.objects.all() if kind is None else Fault.objects.filter(kind=kind)
    query.delete()


def _take_fail_next(fault: Fault) -> bool:
    with transaction.atomic(using="sandbox"):
        taken = Fault.objects.filter(pk=fault.pk, fail_next__gt=0).update(
            fail_next=F("fail_next") - 1
        )
    return bool(taken)


def inject(
    kind: str, *, xml: bool = False, fault: Fault | _Unread | None = UNREAD
) -> HttpResponse | None:
    """Apply the configured faults; return the response to send instead, if any.

    ``fault``: the settings already read for this request (``current(kind)``), so that one
    request reads them once; read here when not given.
    """
    fault = current(kind) if isinstance(fault, _Unread) else fault
    if fault is None:
        return None
    if fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)
    if fault.fail_next and _take_fail_next(fault):
        return HttpResponse(
            b"Injected failure", status=fault.error_status, content_type="text/plain"
        )
    roll = random.random
    if fault.rate_limit_rate and roll() < fault.rate_limit_rate:
        response = HttpResponse(b"Too many requests", status=429, content_type="text/plain")
        response["Retry-After"] = str(fault.retry_after)
        return response
    if fault.error_rate and roll() < fault.error_rate:
        return HttpResponse(
            b"Injected server error", status=fault.error_status, content_type="text/plain"
        )
    if fault.timeout_rate and not fault.timeout_after_apply and roll() < fault.timeout_rate:
        time.sleep(fault.hang_seconds)
    if xml and fault.xml_attack == "entity":
        return HttpResponse(ENTITY_ATTACK, content_type="text/xml")
    if xml and fault.xml_attack == "billion_laughs":
        return HttpResponse(BILLION_LAUGHS, content_type="text/xml")
    if fault.malformed_rate and roll() < fault.malformed_rate:
        return HttpResponse(
            MALFORMED if xml else b'{"status": {"code": "OK", "data": [',
            content_type="text/xml" if xml else "application/json",
        )
    return None


def indents_xml(kind: str, *, fault: Fault | _Unread | None = UNREAD) -> bool:
    """Return whether ``kind`` is told to answer indented XML (a fault: the vendor's is compact)."""
    fault = current(kind) if isinstance(fault, _Unread) else fault
    return bool(fault and fault.xml_indent)


def hides_undocumented(kind: str, *, fault: Fault | _Unread | None = UNREAD) -> bool:
    """Return whether ``kind``'s undocumented operations must answer that they do not exist."""
    fault = current(kind) if isinstance(fault, _Unread) else fault
    return bool(fault and fault.hide_undocumented)


def after_apply(kind: str, *, fault: Fault | _Unread | None = UNREAD) -> None:
    """Hang after a change was applied, when so configured (the client times out)."""
    fault = current(kind) if isinstance(fault, _Unread) else fault
    if fault and fault.timeout_after_apply and random.random() < (fault.timeout_rate or 1.0):
        time.sleep(fault.hang_seconds)
