"""``contact_information/show`` and ``contact_information/list``.

The list method is not in the documents: crmhub assumes it pages with
``number_of_results``/``offset`` like the R13 list methods (spec README, point 5).
"""

from __future__ import annotations

from typing import Any

from crmhub.sandbox.crmcom import render, store
from crmhub.sandbox.crmcom.api import Outcome, check_known, paging
from crmhub.sandbox.crmcom.endpoint import endpoint


@endpoint("contact_information/show", "GET")
def contact_show(params: dict[str, Any]) -> Outcome:
    check_known(params, {"contact_information_identifier", "fields_set"})
    record = store.resolve(params, "contact_information_identifier", store.CONTACT, required=True)
    assert record is not None
    return Outcome(render.contact_full(record))


@endpoint("contact_information/list", "GET")
def contact_list(params: dict[str, Any]) -> Outcome:
    check_known(params, {"number_of_results", "offset", "fields_set"})
    offset, size = paging(params)
    rows = store.page(store.collection_query(store.CONTACT), offset, size)
    return Outcome([render.contact_full(record) for record in rows])
