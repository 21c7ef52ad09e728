"""HTTP for connectors, in three parts: ``transport`` (the session, its timeouts and the
record of every call), ``guard`` (the outbound-address guard), ``redaction`` (secrets
masked in the record), with ``failures`` mapping what goes wrong to the error family and
``ahead`` sending a request while its caller works on the answer before.
"""

from __future__ import annotations

from crmhub.connectors.http.guard import check_base_url
from crmhub.connectors.http.transport import CallRecord, HttpClient, Response

__all__ = ["CallRecord", "HttpClient", "Response", "check_base_url"]
