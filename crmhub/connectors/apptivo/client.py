"""Transport and auth of the Apptivo customers API (``<base>/customers?a=<action>``).

Decisions where the sources are silent (spec/README.md point 3), each in one place here:
the keys travel as POST form fields, never in a URL (the vendor docs put them in the
query string; public client code POSTs them); only ``a=<action>`` stays in the query
string, every other parameter goes in the form body too; the update's attribute list is
sent as ``attributeName`` (the document's sample, not its template's ``attributeNames``);
the access key is ``accessKey`` (the document's ``accesKey`` is a typo).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crmhub.connectors.apptivo import parsing
from crmhub.connectors.errors import AuthFailed, ConnectorError
from crmhub.connectors.http import HttpClient

ENDPOINT = "customers"
API_KEY_PARAM = "apiKey"
ACCESS_KEY_PARAM = "accessKey"
ATTRIBUTES_PARAM = "attributeName"

#: The advanced search's ``searchData`` as the vendor's sample sends it, every filter empty;
#: a call fills in only what it filters on.
SEARCH_DATA_TEMPLATE: dict[str, Any] = {
    "customerName": "",
    "customerNumber": "",
    "assigneeObjectRefName": None,
    "assigneeObjectId": None,
    "assigneeObjectRefId": None,
    "description": "",
    "followUpDescription": "",
    "phoneNumbers": [],
    "emailAddresses": [],
    "skypeName": "",
    "parentCustomerName": "",
    "parentCustomerId": None,
    "website": "",
    "tickerSymbol": "",
    "campaignName": "",
    "campaignId": None,
    "creditRating": "",
    "territoryName": "",
    "territoryId": None,
    "ownership": "",
    "faceBookURL": "",
    "twitterURL": "",
    "linkedInURL": "",
    "isUnsubscribed": None,
    "isBounced": None,
    "isResponded": None,
    "creationOnStartDate": "",
    "creationOnEndDate": "",
    "creationDateDuration": "",
    "creationDateDurationTypeId": "",
    "creationDateRangeTypeId": "",
    "lastUpdateOnStartDate": "",
    "lastUpdateOnEndDate": "",
    "lastUpdateDateDuration": "",
    "lastUpdateDateDurationTypeId": "",
    "lastUpdateDateRangeTypeId": "",
    "customAttributes": [],
    "addresses": [
        {
            "addressAttributeId": "address_section_attr_id",
            "addressGroupName": "Address1",
            "addressType": "",
            "state": "",
            "stateCode": "",
            "stateId": None,
            "stateName": "",
        }
    ],
}
MULTI_SELECT_TEMPLATE: dict[str, list[int]] = {
    "marketIds": [],
    "categoryIds": [],
    "statusIds": [],
    "employeeRangeIds": [],
    "paymentTermIds": [],
    "slaIds": [],
    "industryIds": [],
    "segmentIds": [],
}


def search_data(**filters: Any) -> str:
    """Return the ``searchData`` JSON of an advanced search on ``filters``."""
    return json.dumps({**SEARCH_DATA_TEMPLATE, **filters})


def multi_select_data() -> str:
    """Return an empty ``multiSelectData`` JSON, as the vendor's sample sends it."""
    return json.dumps(MULTI_SELECT_TEMPLATE)


class ApptivoClient:
    """Send one customers action and return its decoded answer, errors typed."""

    def __init__(self, http: HttpClient, *, api_key: str, access_key: str) -> None:
        self.http = http
        self._keys = {API_KEY_PARAM: api_key, ACCESS_KEY_PARAM: access_key}

    def call(self, action: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``a=<action>`` with ``params`` and the keys as form fields; return the JSON.

        Raise ``AuthFailed`` when the connection has no keys (nothing is sent), the HTTP
        errors of ``HttpClient``, ``BadResponse``, or the typed vendor ``FAILURE``.
        """
        if not all(self._keys.values()):
            raise AuthFailed(
                "The Apptivo connection has no API key or access key.", request_sent=False
            )
        form = {
            name: _form_value(value) for name, value in (params or {}).items() if value is not None
        }
        form.update(self._keys)
        response = self.http.request("POST", ENDPOINT, params={"a": action}, data=form)
        try:
            return parsing.decode(response.content)
        except ConnectorError as error:
            error.status, error.url = response.status, response.url
            raise


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)
