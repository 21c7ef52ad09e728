"""Build the ``customerData`` Apptivo's save/update expect from cleaned operation params.

Attribute names and item shapes follow the vendor's samples: ``emailAddresses`` items as in
the update sample, ``phoneNumbers`` items as in the vendor's createCustomer code sample
(``phoneTypeCode`` ``PHONE_BUSINESS``, id ``cust_phone_input``). Status and category names
are sent beside their ids, resolved from getConfigData, as the samples do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmhub.connectors.apptivo.parsing import ApptivoConfig, Choice
from crmhub.connectors.errors import InvalidParams

EMAIL_TYPE = Choice("BUSINESS", "Business")  # used when getConfigData lists no such type
PHONE_TYPE = Choice("PHONE_BUSINESS", "Business")


def customer_data(params: Mapping[str, Any], config: ApptivoConfig) -> dict[str, Any]:
    """Return the customerData attributes of the given params, in a stable order.

    Raise ``InvalidParams`` when a status or category id is not one of the firm's.
    """
    data: dict[str, Any] = {}
    if "customer_name" in params:
        data["customerName"] = params["customer_name"]
    if "status_id" in params:
        status = config.status(params["status_id"])
        if status is None:
            raise InvalidParams({"status_id": [_unknown("status", config.statuses)]})
        data.update(statusId=int(status.id), statusName=status.name)
    if "category_id" in params:
        data.update(_category(params["category_id"], config))
    if "email" in params:
        kind = _type(config.email_types, EMAIL_TYPE)
        data["emailAddresses"] = [_email_item(params["email"], kind)] if params["email"] else []
    if "phone" in params:
        kind = _type(config.phone_types, PHONE_TYPE)
        data["phoneNumbers"] = [_phone_item(params["phone"], kind)] if params["phone"] else []
    if "description" in params:
        data["description"] = params["description"]
    return data


def _category(category_id: int | str, config: ApptivoConfig) -> dict[str, Any]:
    if category_id == "":
        return {"customerCategoryId": None, "customerCategory": ""}
    category = config.category(int(category_id))
    if category is None:
        raise InvalidParams({"category_id": [_unknown("category", config.categories)]})
    return {"customerCategoryId": int(category.id), "customerCategory": category.name}


def _type(configured: tuple[Choice, ...], default: Choice) -> Choice:
    return next((t for t in configured if t.id == default.id), default)


def _unknown(what: str, choices: tuple[Choice, ...]) -> str:
    known = ", ".join(f"{c.id} ({c.name})" for c in choices) or "none"
    return f"Unknown {what} in this Apptivo firm; known: {known}."


def _email_item(address: str, kind: Choice) -> dict[str, Any]:
    return {
        "emailAddress": address,
        "emailTypeCode": kind.id,
        "emailType": kind.name,
        "id": "cont_email_input",
    }


def _phone_item(number: str, kind: Choice) -> dict[str, Any]:
    return {
        "phoneNumber": number,
        "phoneTypeCode": kind.id,
        "phoneType": kind.name,
        "id": "cust_phone_input",
    }
