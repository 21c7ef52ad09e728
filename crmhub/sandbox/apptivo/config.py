"""The simulated Apptivo firm's fixed configuration (what ``a=getConfigData`` answers).

The vendor documents only say that getConfigData returns "customer types, market,
category and etc." and that ``webLayout`` is a JSON *string*. The shapes below are this
simulator's reading (status items as public plugin code reads them: ``statusId``,
``statusName``, ``statusCode``, ``meaning``, ``isEnabled``); categories, phone and email
types are assumptions, named in one place here.
"""

from __future__ import annotations

import json
from typing import Any

from crmhub.sandbox.apptivo.assumptions import ASSUMPTIONS

#: objectId of the customers app (an assumption, ``assumptions.py``).
OBJECT_ID = ASSUMPTIONS.object_id

STATUSES: tuple[dict[str, Any], ...] = (
    {"statusId": 10000, "statusName": "Active", "statusCode": "ACTIVE", "meaning": "Active"},
    {"statusId": 10001, "statusName": "Inactive", "statusCode": "INACTIVE", "meaning": "Inactive"},
    {"statusId": 10002, "statusName": "Prospect", "statusCode": "PROSPECT", "meaning": "Prospect"},
)
DEFAULT_STATUS_ID = 10000

CATEGORIES: tuple[dict[str, Any], ...] = (
    {"categoryId": 27792, "categoryName": "SMB"},
    {"categoryId": 27793, "categoryName": "Enterprise"},
    {"categoryId": 27794, "categoryName": "Partner"},
)

PHONE_TYPES: tuple[dict[str, str], ...] = (
    {"code": "PHONE_BUSINESS", "name": "Business"},
    {"code": "PHONE_MOBILE", "name": "Mobile"},
    {"code": "PHONE_HOME", "name": "Home"},
)
EMAIL_TYPES: tuple[dict[str, str], ...] = (
    {"code": "BUSINESS", "name": "Business"},
    {"code": "HOME", "name": "Home"},
    {"code": "OTHER", "name": "Other"},
)

_WEB_LAYOUT = {
    "sections": [
        {
            "label": "Customer Information",
            "attributes": [
                {
                    "attributeId": "customer_name",
                    "tagName": "customerName",
                    "type": "Standard",
                    "isEnabled": True,
                    "label": {"modifiedLabel": "Customer Name"},
                },
                {
                    "attributeId": "customer_status",
                    "tagName": "statusName",
                    "type": "Standard",
                    "isEnabled": True,
                    "label": {"modifiedLabel": "Status"},
                },
                {
                    "attributeId": "customer_category",
                    "tagName": "customerCategory",
                    "type": "Standard",
                    "isEnabled": True,
                    "label": {"modifiedLabel": "Category"},
                },
                {
                    "attributeId": "customer_description",
                    "tagName": "description",
                    "type": "Standard",
                    "isEnabled": True,
                    "label": {"modifiedLabel": "Description"},
                },
            ],
        },
        {"label": "Contact Information", "attributes": []},
        {"label": "Addresses", "attributes": []},
    ]
}


def config_data() -> dict[str, Any]:
    """Return the getConfigData answer (``webLayout`` encoded as a JSON string)."""
    return {
        "objectId": OBJECT_ID,
        "statuses": [{**status, "isEnabled": "Y"} for status in STATUSES],
        "categories": [{**category, "isEnabled": "Y"} for category in CATEGORIES],
        "phoneTypes": list(PHONE_TYPES),
        "emailTypes": list(EMAIL_TYPES),
        "webLayout": json.dumps(_WEB_LAYOUT),
    }


def status_name(status_id: int) -> str | None:
    """Return the name of status ``status_id``, or None when the firm has no such status."""
    return next((s["statusName"] for s in STATUSES if s["statusId"] == status_id), None)


def category_name(category_id: int) -> str | None:
    """Return the name of category ``category_id``, or None when there is no such category."""
    return next((c["categoryName"] for c in CATEGORIES if c["categoryId"] == category_id), None)


def type_name(types: tuple[dict[str, str], ...], code: str) -> str | None:
    """Return the display name of a phone/email type ``code``, or None when unknown."""
    return next((t["name"] for t in types if t["code"] == code), None)
